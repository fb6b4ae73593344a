"""Wiring of the risk process."""

from __future__ import annotations

from risk.grpc_api import RiskServicer
from risk.service import RiskService
from risk.settings import RiskSettings
from topup.risk.v1 import risk_pb2, risk_pb2_grpc
from topup_platform.grpc_server import GrpcServer
from topup_platform.runtime import ServiceRuntime


async def main(settings: RiskSettings) -> int:
    async with ServiceRuntime(settings, package="risk") as rt:
        service = RiskService(rt.pool)
        server = GrpcServer(port=settings.grpc_port)
        server.add(risk_pb2_grpc.add_RiskServiceServicer_to_server, RiskServicer(service),
                   risk_pb2.DESCRIPTOR.services_by_name["RiskService"].full_name)
        await rt.serve(server)
    return rt.exit_code
