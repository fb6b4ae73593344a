"""Wiring of the orders process."""

from __future__ import annotations

from datetime import timedelta

from orders.catalog import Catalog
from orders.consumers import billing_handlers, billing_moves, refund_handlers
from orders.domain.vouchers import PinHasher
from orders.grpc_api import ACCESS, OrdersServicer
from orders.service import OrdersService
from orders.settings import OrdersSettings
from orders.sweeper import StuckSweeper, Watchdog
from orders.vouchers import VoucherService
from topup.orders.v1 import orders_pb2, orders_pb2_grpc
from topup_platform.consumer import EventConsumer
from topup_platform.events import BILLING_TOPIC, ORDERS_TOPIC, REFUNDS_TOPIC, VOUCHERS_TOPIC
from topup_platform.grpc_server import GrpcServer
from topup_platform.logging import get_logger
from topup_platform.outbox import Outbox, OutboxRelay
from topup_platform.runtime import Periodic, ServiceRuntime

log = get_logger(__name__)


async def main(settings: OrdersSettings) -> int:
    if not settings.is_dev:
        settings.check_production()
    async with ServiceRuntime(settings, package="orders") as rt:
        producer = await rt.start_kafka([ORDERS_TOPIC, BILLING_TOPIC, VOUCHERS_TOPIC, REFUNDS_TOPIC])
        outbox = Outbox(settings.service_name)
        catalog = Catalog(rt.pool)
        service = OrdersService(rt.pool, outbox, catalog)
        hasher = PinHasher(settings.voucher_pin_key.get_secret_value().encode(), settings.voucher_pin_key_id)
        vouchers = VoucherService(rt.pool, outbox, catalog, service, hasher)
        if settings.is_dev:
            await service.seed_demo_channel(settings.demo_channel_id)
        await catalog.reload()

        rt.start_worker(OutboxRelay(rt.pool, producer, outbox, schema=settings.db_schema), "outbox-relay")
        rt.start_worker(Periodic("catalog-refresh", catalog.reload, settings.catalog_refresh_seconds,
                                 run_at_start=False), "catalog-refresh")
        rt.start_worker(Periodic("voucher-expiry", vouchers.expire_due, settings.voucher_expiry_sweep_seconds),
                        "voucher-expiry")
        rt.start_worker(StuckSweeper(service, timedelta(seconds=settings.stuck_after_seconds)).periodic(
            settings.stuck_sweep_seconds), "stuck-sweeper")
        if settings.redrive_after_seconds > 0:
            watchdog = Watchdog(service, after=timedelta(seconds=settings.redrive_after_seconds),
                                cap=timedelta(seconds=max(settings.redrive_max_interval_seconds,
                                                          settings.redrive_after_seconds)),
                                give_up=timedelta(seconds=settings.redrive_give_up_seconds))
            rt.start_worker(watchdog.periodic(settings.redrive_sweep_seconds), "watchdog")
        rt.start_worker(
            EventConsumer(name="orders", settings=settings, pool=rt.pool, producer=producer,
                          topics=[BILLING_TOPIC], handlers=billing_handlers(service),
                          batch_handler=billing_moves(service)),
            "billing-events",
        )
        rt.start_worker(
            EventConsumer(name="orders-refunds", settings=settings, pool=rt.pool, producer=producer,
                          topics=[REFUNDS_TOPIC], handlers=refund_handlers(service)),
            "refund-events",
        )
        server = GrpcServer(port=settings.grpc_port, settings=settings, policy=ACCESS)
        server.add(orders_pb2_grpc.add_OrdersServiceServicer_to_server, OrdersServicer(service, vouchers),
                   orders_pb2.DESCRIPTOR.services_by_name["OrdersService"].full_name)
        await rt.serve(server)
    return rt.exit_code
