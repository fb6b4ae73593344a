"""The gateway's gRPC peers, and turning their failures into catalogue errors."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import grpc

from gateway.errors import ApiError, code_for_remote
from gateway.settings import GatewaySettings
from topup.billing.v1 import billing_pb2_grpc
from topup.orders.v1 import orders_pb2_grpc
from topup.refunds.v1 import refunds_pb2_grpc
from topup.risk.v1 import risk_pb2_grpc
from topup_platform.errors import remote_error_from
from topup_platform.grpc_client import insecure_channel

T = TypeVar("T")


class Upstream:
    def __init__(self, settings: GatewaySettings) -> None:
        self._channels = {
            name: insecure_channel(target)
            for name, target in (("risk", settings.risk_target), ("orders", settings.orders_target),
                                 ("billing", settings.billing_target), ("refunds", settings.refunds_target))
        }
        self.risk = risk_pb2_grpc.RiskServiceStub(self._channels["risk"])
        self.orders = orders_pb2_grpc.OrdersServiceStub(self._channels["orders"])
        self.billing = billing_pb2_grpc.BillingServiceStub(self._channels["billing"])
        self.refunds = refunds_pb2_grpc.RefundsServiceStub(self._channels["refunds"])

    def channel(self, name: str) -> grpc.aio.Channel:
        return self._channels[name]

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()


async def call(awaitable: Awaitable[T]) -> T:
    """Await a gRPC call; its failure becomes the catalogue's error (the callee's own code when documented)."""
    try:
        return await awaitable
    except grpc.aio.AioRpcError as err:
        remote = remote_error_from(err)
        raise ApiError(code_for_remote(remote.status, remote.code), remote.message,
                       details=dict(remote.metadata)) from err
