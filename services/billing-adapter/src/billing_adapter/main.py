"""Wiring of the billing-adapter process."""

from __future__ import annotations

from datetime import timedelta

from billing_adapter.boss_client import BossClient
from billing_adapter.consumers import fulfilment_requests, order_handlers
from billing_adapter.gate import BossGate
from billing_adapter.grpc_api import ACCESS, BillingServicer
from billing_adapter.ported import PortedNumbersSync
from billing_adapter.reconcile import Reconciler, ScheduledReconciliation
from billing_adapter.settings import BillingSettings
from billing_adapter.worker import FulfilmentWorker
from topup.billing.v1 import billing_pb2, billing_pb2_grpc
from topup.orders.v1 import orders_pb2_grpc
from topup_platform.consumer import EventConsumer
from topup_platform.events import BILLING_TOPIC, ORDERS_TOPIC
from topup_platform.grpc_client import channel
from topup_platform.grpc_server import GrpcServer
from topup_platform.outbox import Outbox, OutboxRelay
from topup_platform.runtime import Periodic, ServiceRuntime


async def main(settings: BillingSettings) -> int:
    async with ServiceRuntime(settings, package="billing_adapter") as rt:
        producer = await rt.start_kafka([ORDERS_TOPIC, BILLING_TOPIC])
        outbox = Outbox(settings.service_name)
        boss = BossClient(settings.boss_url, settings.boss_timeout_seconds)
        gate = BossGate(threshold=settings.breaker_threshold, reset_seconds=settings.breaker_reset_seconds,
                        max_in_flight=settings.boss_max_in_flight,
                        trial_wait_seconds=settings.boss_timeout_seconds,
                        busy_memory_seconds=settings.breaker_busy_memory_seconds)
        worker = FulfilmentWorker(rt.pool, outbox, boss, gate, settings)
        orders_channel = channel(settings.orders_target, settings)
        orders = orders_pb2_grpc.OrdersServiceStub(orders_channel)
        try:
            rt.start_worker(OutboxRelay(rt.pool, producer, outbox, schema=settings.db_schema), "outbox-relay")
            rt.start_worker(worker, "fulfilment-scheduler")
            rt.start_worker(PortedNumbersSync(rt.pool, outbox, boss, settings.ported_sync_seconds), "ported-sync")
            if settings.reconcile_interval_seconds > 0:
                schedule = ScheduledReconciliation(Reconciler(rt.pool, outbox, boss, orders,
                                                              peer_timeout=settings.peer_timeout_seconds),
                                                   settings.reconcile_interval_seconds,
                                                   timedelta(seconds=settings.reconcile_settle_seconds))
                rt.start_worker(Periodic("reconciliation", schedule.run_once, settings.reconcile_interval_seconds,
                                         run_at_start=False), "reconciliation")
            rt.start_worker(
                EventConsumer(name="billing-adapter", settings=settings, pool=rt.pool, producer=producer,
                              topics=[ORDERS_TOPIC], handlers=order_handlers(worker),
                              batch_handler=fulfilment_requests(worker), concurrency=64),
                "order-events",
            )
            server = GrpcServer(port=settings.grpc_port, settings=settings, policy=ACCESS)
            servicer = BillingServicer(rt.pool, boss, settings.boss_clock_skew_seconds)
            server.add(billing_pb2_grpc.add_BillingServiceServicer_to_server, servicer,
                       billing_pb2.DESCRIPTOR.services_by_name["BillingService"].full_name)
            await rt.serve(server)
        finally:
            await boss.close()
            await orders_channel.close()
    return rt.exit_code
