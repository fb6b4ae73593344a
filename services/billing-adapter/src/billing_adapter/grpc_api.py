"""The BillingService gRPC servicer."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import grpc

from billing_adapter import repository
from billing_adapter.boss_client import BossClient
from topup.billing.v1 import billing_pb2, billing_pb2_grpc
from topup_platform import identifiers, staff, vocab
from topup_platform.access import AccessPolicy
from topup_platform.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from topup_platform.logging import get_logger
from topup_platform.timeutil import to_timestamp, utcnow

log = get_logger(__name__)

#: who may call what (the peer's certificate names it): the gateway reads balances, the review desk stops a
#: fulfilment before a person decides, operators' tools read a fulfilment's attempts
ACCESS = AccessPolicy.of(billing_pb2.DESCRIPTOR.services_by_name["BillingService"], {
    "gateway": ["GetBalance"],
    "refunds": ["StopFulfilment"],
    "ops": ["GetFulfilment", "GetBalance"],
})


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    def __init__(self, pool: asyncpg.Pool, boss: BossClient, clock_skew_seconds: float = 1.0) -> None:
        self.pool = pool
        self.boss = boss
        self.clock_skew_seconds = clock_skew_seconds

    async def GetBalance(
        self, request: billing_pb2.GetBalanceRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.Balance:
        if request.account.type not in vocab.ACCOUNT_TYPE_NAMES or not request.account.id:
            raise InvalidArgument("account is required")
        account_type = vocab.ACCOUNT_TYPE_NAMES[request.account.type]
        if not identifiers.valid_account(account_type, request.account.id):  # before anything goes to BOSS
            raise InvalidArgument("the account id does not have the format of its type", code="ACCOUNT_INVALID")
        try:
            _, body = await self.boss.balance(account_type, request.account.id)
        except Exception as err:  # a read: the gate's breaker is for the writes BOSS must not be flooded with
            raise Unavailable("BOSS did not answer the balance query", code="BOSS_UNAVAILABLE") from err
        if body.get("result_code") == "2001":
            raise NotFound("BOSS has no such subscriber", code="BOSS_SUBSCRIBER_NOT_FOUND")
        if body.get("result_code") != "0000":
            raise Unavailable("BOSS could not answer the balance query", code="BOSS_UNAVAILABLE")
        balance, data_mb = body.get("balance_fen"), body.get("data_mb")
        if type(balance) is not int or type(data_mb) is not int:  # JSON integers, nothing int() would coerce
            raise Unavailable("BOSS's balance answer is not readable", code="BOSS_UNAVAILABLE")
        return billing_pb2.Balance(account=request.account, balance_fen=balance, data_remaining_mb=data_mb,
                                   as_of=to_timestamp(utcnow()))

    async def GetFulfilment(
        self, request: billing_pb2.GetFulfilmentRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.Fulfilment:
        order_id = _order_id(request.order_id)
        async with self.pool.acquire() as conn:
            job = await repository.get_job(conn, order_id)
            if job is None:
                raise NotFound("no such fulfilment")
            return await _fulfilment(conn, job)

    async def StopFulfilment(
        self, request: billing_pb2.StopFulfilmentRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.Fulfilment:
        order_id = _order_id(request.order_id)
        actor = f"staff:{staff.current().id}"  # the verified staff assertion; the request's `actor` is ignored
        async with self.pool.acquire() as conn, conn.transaction():
            job, busy = await repository.stop(conn, order_id, actor, self.clock_skew_seconds)
            if busy:
                raise FailedPrecondition("the adapter is working on this order at BOSS: wait for its outcome",
                                         code="FULFILMENT_IN_PROGRESS")
            log.info("fulfilment stopped for review", order_id=str(order_id), state=job["state"], actor=actor)
            return await _fulfilment(conn, job)


def _order_id(value: str) -> UUID:
    try:
        return identifiers.parse_uuid(value)
    except ValueError:
        raise NotFound("no such fulfilment") from None


async def _fulfilment(conn: asyncpg.Connection, job: asyncpg.Record) -> billing_pb2.Fulfilment:
    attempts = await repository.attempts_of(conn, job["order_id"])
    return billing_pb2.Fulfilment(
        order_id=str(job["order_id"]), state=job["state"],
        attempts=[billing_pb2.Attempt(number=a["number"], kind=a["kind"], outcome=a["outcome"],
                                      provider_code=a["provider_code"], at=to_timestamp(a["at"]),
                                      latency_ms=a["latency_ms"]) for a in attempts],
    )
