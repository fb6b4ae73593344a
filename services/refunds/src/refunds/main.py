"""Wiring of the refunds process."""

from __future__ import annotations

from refunds.consumers import needs_refund, order_handlers
from refunds.grpc_api import RefundsServicer
from refunds.settings import RefundsSettings
from topup.events.v1.orders_pb2 import OrderStatusChanged
from topup.refunds.v1 import refunds_pb2, refunds_pb2_grpc
from topup_platform.consumer import EventConsumer
from topup_platform.events import ORDERS_TOPIC, REFUNDS_TOPIC
from topup_platform.grpc_server import GrpcServer
from topup_platform.outbox import Outbox, OutboxRelay
from topup_platform.runtime import ServiceRuntime


async def main(settings: RefundsSettings) -> int:
    async with ServiceRuntime(settings, package="refunds") as rt:
        producer = await rt.start_kafka([ORDERS_TOPIC, REFUNDS_TOPIC])
        outbox = Outbox(settings.service_name)
        rt.start_worker(OutboxRelay(rt.pool, producer, outbox, schema=settings.db_schema), "outbox-relay")
        rt.start_worker(
            EventConsumer(name="refunds", settings=settings, pool=rt.pool, producer=producer,
                          topics=[ORDERS_TOPIC], handlers=order_handlers(),
                          relevant={OrderStatusChanged: needs_refund}),
            "order-events",
        )
        server = GrpcServer(port=settings.grpc_port)
        server.add(refunds_pb2_grpc.add_RefundsServiceServicer_to_server, RefundsServicer(rt.pool),
                   refunds_pb2.DESCRIPTOR.services_by_name["RefundsService"].full_name)
        await rt.serve(server)
    return rt.exit_code
