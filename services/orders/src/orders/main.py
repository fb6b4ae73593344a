"""Wiring of the orders process."""

from __future__ import annotations

import asyncio
import contextlib

from orders.catalog import Catalog
from orders.consumers import billing_handlers, billing_moves
from orders.domain.vouchers import PinHasher
from orders.grpc_api import OrdersServicer
from orders.service import OrdersService
from orders.settings import OrdersSettings
from orders.vouchers import VoucherService
from topup.orders.v1 import orders_pb2, orders_pb2_grpc
from topup_platform.consumer import EventConsumer
from topup_platform.events import BILLING_TOPIC, ORDERS_TOPIC, VOUCHERS_TOPIC
from topup_platform.grpc_server import GrpcServer
from topup_platform.logging import get_logger
from topup_platform.outbox import Outbox, OutboxRelay
from topup_platform.runtime import ServiceRuntime

log = get_logger(__name__)


class ExpirySweeper:
    """Marks cards past their expiry as expired (a redemption refuses them at once anyway)."""

    def __init__(self, vouchers: VoucherService, interval: float) -> None:
        self.vouchers = vouchers
        self.interval = interval
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                expired = await self.vouchers.expire_due()
                if expired:
                    log.info("voucher cards expired", count=expired)
            except Exception:
                log.exception("voucher expiry sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    async def stop(self) -> None:
        self._stopping.set()


async def main(settings: OrdersSettings) -> int:
    if not settings.is_dev:
        settings.check_production()
    async with ServiceRuntime(settings, package="orders") as rt:
        producer = await rt.start_kafka([ORDERS_TOPIC, BILLING_TOPIC, VOUCHERS_TOPIC])
        outbox = Outbox(settings.service_name)
        catalog = Catalog(rt.pool, settings.catalog_refresh_seconds)
        service = OrdersService(rt.pool, outbox, catalog)
        hasher = PinHasher(settings.voucher_pin_key.get_secret_value().encode(), settings.voucher_pin_key_id)
        vouchers = VoucherService(rt.pool, outbox, catalog, service, hasher)
        if settings.is_dev:
            await service.seed_demo_channel(settings.demo_channel_id)
        await catalog.reload()

        rt.start_worker(OutboxRelay(rt.pool, producer, outbox, schema=settings.db_schema), "outbox-relay")
        rt.start_worker(catalog, "catalog-refresh")
        rt.start_worker(ExpirySweeper(vouchers, settings.voucher_expiry_sweep_seconds), "voucher-expiry")
        rt.start_worker(
            EventConsumer(name="orders", settings=settings, pool=rt.pool, producer=producer,
                          topics=[BILLING_TOPIC], handlers=billing_handlers(service),
                          batch_handler=billing_moves(service)),
            "billing-events",
        )
        server = GrpcServer(port=settings.grpc_port)
        server.add(orders_pb2_grpc.add_OrdersServiceServicer_to_server, OrdersServicer(service, vouchers),
                   orders_pb2.DESCRIPTOR.services_by_name["OrdersService"].full_name)
        await rt.serve(server)
    return rt.exit_code
