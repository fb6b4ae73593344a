"""Wiring of the refunds process."""

from __future__ import annotations

from datetime import timedelta

from refunds.calendar_store import CalendarStore
from refunds.consumers import billing_handlers, order_handlers, relevant
from refunds.desk import ReviewDesk
from refunds.grpc_api import ACCESS, RefundsServicer
from refunds.ledger_check import LedgerCheck
from refunds.lifecycle import RefundBook
from refunds.monitor import DeskMonitor
from refunds.provider import ProviderClient
from refunds.settings import RefundsSettings
from refunds.worker import RefundWorker
from topup.billing.v1 import billing_pb2_grpc
from topup.events.v1.orders_pb2 import OrderStatusChanged
from topup.orders.v1 import orders_pb2_grpc
from topup.refunds.v1 import refunds_pb2, refunds_pb2_grpc
from topup_platform.consumer import EventConsumer
from topup_platform.events import BILLING_TOPIC, ORDERS_TOPIC, REFUNDS_TOPIC
from topup_platform.grpc_client import channel
from topup_platform.grpc_server import GrpcServer
from topup_platform.outbox import Outbox, OutboxRelay
from topup_platform.runtime import Periodic, ServiceRuntime


async def main(settings: RefundsSettings) -> int:
    if not settings.is_dev:
        settings.check_production()
    async with ServiceRuntime(settings, package="refunds") as rt:
        producer = await rt.start_kafka([ORDERS_TOPIC, BILLING_TOPIC, REFUNDS_TOPIC])
        outbox = Outbox(settings.service_name)
        calendar = CalendarStore(rt.pool)
        await calendar.reload()
        provider = ProviderClient(settings.payments_url, settings.public_notify_base, settings.provider_timeout_seconds)
        orders_channel = channel(settings.orders_target, settings)
        billing_channel = channel(settings.billing_target, settings)
        book = RefundBook(outbox, calendar)
        desk = ReviewDesk(rt.pool, book, provider, orders_pb2_grpc.OrdersServiceStub(orders_channel),
                          billing_pb2_grpc.BillingServiceStub(billing_channel),
                          four_eyes_threshold_fen=settings.four_eyes_threshold_fen,
                          peer_timeout=settings.peer_timeout_seconds)
        worker = RefundWorker(rt.pool, book, provider, settings)
        try:
            rt.start_worker(OutboxRelay(rt.pool, producer, outbox, schema=settings.db_schema), "outbox-relay")
            rt.start_worker(Periodic("calendar-refresh", calendar.reload, settings.calendar_refresh_seconds,
                                     run_at_start=False), "calendar-refresh")
            rt.start_worker(worker, "refund-worker")
            if settings.ledger_check_seconds > 0:
                check = LedgerCheck(rt.pool, book, orders_pb2_grpc.OrdersServiceStub(orders_channel),
                                    settle=timedelta(seconds=settings.ledger_check_settle_seconds),
                                    lookback=timedelta(seconds=settings.ledger_check_lookback_seconds),
                                    peer_timeout=settings.peer_timeout_seconds)
                rt.start_worker(Periodic("ledger-check", check.run_once, settings.ledger_check_seconds,
                                         run_at_start=False), "ledger-check")
            monitor = DeskMonitor(rt.pool, due_soon=timedelta(hours=settings.due_soon_hours))
            rt.start_worker(Periodic("desk-monitor", monitor.check, settings.monitor_seconds), "desk-monitor")
            rt.start_worker(
                EventConsumer(name="refunds", settings=settings, pool=rt.pool, producer=producer,
                              topics=[ORDERS_TOPIC], handlers=order_handlers(book, desk),
                              relevant={OrderStatusChanged: relevant}),
                "order-events",
            )
            rt.start_worker(
                EventConsumer(name="refunds-billing", settings=settings, pool=rt.pool, producer=producer,
                              topics=[BILLING_TOPIC], handlers=billing_handlers(desk)),
                "billing-events",
            )
            server = GrpcServer(port=settings.grpc_port, settings=settings, policy=ACCESS)
            server.add(refunds_pb2_grpc.add_RefundsServiceServicer_to_server,
                       RefundsServicer(rt.pool, book, desk, calendar,
                                       settings.provider_notify_secret.get_secret_value(),
                                       settings.four_eyes_threshold_fen),
                       refunds_pb2.DESCRIPTOR.services_by_name["RefundsService"].full_name)
            await rt.serve(server)
        finally:
            await provider.close()
            await orders_channel.close()
            await billing_channel.close()
    return rt.exit_code
