"""Wiring of the risk process."""

from __future__ import annotations

from risk.consumers import FeatureUpdates, relevant
from risk.grpc_api import ACCESS, RiskServicer
from risk.janitor import Janitor
from risk.rulebook import RuleBook
from risk.service import RiskService
from risk.settings import RiskSettings
from topup.risk.v1 import risk_pb2, risk_pb2_grpc
from topup_platform.consumer import EventConsumer
from topup_platform.db import create_pool
from topup_platform.events import ORDERS_TOPIC, RISK_TOPIC, VOUCHERS_TOPIC
from topup_platform.grpc_server import GrpcServer
from topup_platform.outbox import Outbox, OutboxRelay
from topup_platform.runtime import Periodic, ServiceRuntime


async def main(settings: RiskSettings) -> int:
    async with ServiceRuntime(settings, package="risk") as rt:
        producer = await rt.start_kafka([RISK_TOPIC, ORDERS_TOPIC, VOUCHERS_TOPIC])
        features_pool = await create_pool(
            settings.database_url.get_secret_value(), schema=settings.db_schema,
            application_name=f"{settings.service_name}-features", min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            server_settings={"synchronous_commit": "off"} if settings.features_async_commit else None,
        )
        try:
            rulebook = RuleBook(rt.pool)
            await rulebook.seed()
            await rulebook.reload()
            outbox = Outbox(settings.service_name)
            service = RiskService(rt.pool, outbox, rulebook, features_pool,
                                  channel_pin_budget=settings.channel_pin_failure_budget)
            updates = FeatureUpdates(rulebook, settings.channel_pin_failure_budget)

            rt.start_worker(OutboxRelay(rt.pool, producer, outbox, schema=settings.db_schema), "outbox-relay")
            rt.start_worker(Periodic("rules-refresh", rulebook.reload, settings.rules_refresh_seconds,
                                     run_at_start=False), "rules-refresh")
            rt.start_worker(Periodic("janitor", Janitor(rt.pool).prune, settings.janitor_interval_seconds,
                                     run_at_start=False), "janitor")
            rt.start_worker(
                EventConsumer(name="risk", settings=settings, pool=rt.pool, producer=producer,
                              topics=[ORDERS_TOPIC, VOUCHERS_TOPIC], handlers=updates.handlers(),
                              relevant=relevant(), batch_handler=updates.batch_handler()),
                "feature-events",
            )
            server = GrpcServer(port=settings.grpc_port, settings=settings, policy=ACCESS)
            server.add(risk_pb2_grpc.add_RiskServiceServicer_to_server,
                       RiskServicer(service, max_batch=settings.evaluate_batch_max),
                       risk_pb2.DESCRIPTOR.services_by_name["RiskService"].full_name)
            await rt.serve(server)
        finally:
            await features_pool.close()
    return rt.exit_code
