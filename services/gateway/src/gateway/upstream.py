"""The gateway's gRPC peers, and turning their failures into catalogue errors.

The two calls of the synchronous path (risk, then orders) go through micro-batchers: concurrent requests
are coalesced into `EvaluateBatch` / `CreateRechargeBatch` calls, each item with its own result, error and
trace context. A request arriving when nothing is in flight goes alone, at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TypeVar

import grpc

from gateway.errors import ApiError, code_for_remote
from gateway.settings import GatewaySettings
from topup.billing.v1 import billing_pb2_grpc
from topup.common.v1 import common_pb2
from topup.orders.v1 import orders_pb2, orders_pb2_grpc
from topup.refunds.v1 import refunds_pb2_grpc
from topup.risk.v1 import risk_pb2, risk_pb2_grpc
from topup_platform.batching import MicroBatcher
from topup_platform.errors import RemoteError, remote_error_from, remote_error_from_pb
from topup_platform.grpc_client import channel as grpc_channel
from topup_platform.staff import StaffSigner
from topup_platform.tls import TlsMaterial

T = TypeVar("T")


def api_error(remote: RemoteError) -> ApiError:
    return ApiError(code_for_remote(remote.status, remote.code), remote.message, details=dict(remote.metadata))


def item_error(error: common_pb2.Error) -> ApiError:
    return api_error(remote_error_from_pb(error))


class Upstream:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        tls = TlsMaterial.from_settings(settings)
        #: signs the staff assertions the services verify (with this gateway's TLS key); None without TLS (dev)
        self.staff_signer = (StaffSigner(tls.cert_chain, tls.private_key, settings.staff_assertion_ttl_seconds)
                             if tls is not None else None)
        self._channels = {
            name: grpc_channel(target, settings)
            for name, target in (("risk", settings.risk_target), ("orders", settings.orders_target),
                                 ("billing", settings.billing_target), ("refunds", settings.refunds_target))
        }
        self.risk = risk_pb2_grpc.RiskServiceStub(self._channels["risk"])
        self.orders = orders_pb2_grpc.OrdersServiceStub(self._channels["orders"])
        self.billing = billing_pb2_grpc.BillingServiceStub(self._channels["billing"])
        self.refunds = refunds_pb2_grpc.RefundsServiceStub(self._channels["refunds"])
        self._evaluations: MicroBatcher[risk_pb2.EvaluateRequest, risk_pb2.Decision] = MicroBatcher(
            self._evaluate_batch, max_batch=settings.batch_max_items, max_in_flight=settings.batch_max_in_flight)
        self._creations: MicroBatcher[orders_pb2.CreateRechargeRequest, orders_pb2.CreateRechargeResponse] = (
            MicroBatcher(self._create_batch, max_batch=settings.batch_max_items,
                         max_in_flight=settings.batch_max_in_flight))

    def channel(self, name: str) -> grpc.aio.Channel:
        return self._channels[name]

    async def evaluate(self, request: risk_pb2.EvaluateRequest) -> risk_pb2.Decision:
        return await self._evaluations.submit(request)

    async def create_recharge(self, request: orders_pb2.CreateRechargeRequest) -> orders_pb2.CreateRechargeResponse:
        return await self._creations.submit(request)

    async def _evaluate_batch(self, items: list[risk_pb2.EvaluateRequest]) -> Sequence[risk_pb2.Decision | ApiError]:
        reply: risk_pb2.EvaluateBatchResponse = await call(self.risk.EvaluateBatch(
            risk_pb2.EvaluateBatchRequest(items=items), timeout=self.settings.risk_timeout_seconds))
        return [r.decision if r.HasField("decision") else item_error(r.error) for r in reply.results]

    async def _create_batch(
        self, items: list[orders_pb2.CreateRechargeRequest]
    ) -> Sequence[orders_pb2.CreateRechargeResponse | ApiError]:
        reply: orders_pb2.CreateRechargeBatchResponse = await call(self.orders.CreateRechargeBatch(
            orders_pb2.CreateRechargeBatchRequest(items=items), timeout=self.settings.orders_timeout_seconds))
        return [r.created if r.HasField("created") else item_error(r.error) for r in reply.results]

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()


async def call(awaitable: Awaitable[T]) -> T:
    """Await a gRPC call; its failure becomes the catalogue's error (the callee's own code when documented)."""
    try:
        return await awaitable
    except grpc.aio.AioRpcError as err:
        raise api_error(remote_error_from(err)) from err
