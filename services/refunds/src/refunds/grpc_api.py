"""The RefundsService gRPC servicer."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import grpc

from topup.common.v1 import common_pb2
from topup.refunds.v1 import refunds_pb2, refunds_pb2_grpc
from topup_platform import vocab
from topup_platform.errors import InvalidArgument, NotFound
from topup_platform.timeutil import to_timestamp

_STATUS: dict[str, refunds_pb2.RefundStatus] = {
    "REQUESTED": refunds_pb2.REFUND_STATUS_REQUESTED,
    "SUBMITTED": refunds_pb2.REFUND_STATUS_SUBMITTED,
    "SETTLED": refunds_pb2.REFUND_STATUS_SETTLED,
    "FAILED": refunds_pb2.REFUND_STATUS_FAILED,
    "CANCELLED": refunds_pb2.REFUND_STATUS_CANCELLED,
}


class RefundsServicer(refunds_pb2_grpc.RefundsServiceServicer):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def GetRefund(
        self, request: refunds_pb2.GetRefundRequest, context: grpc.aio.ServicerContext
    ) -> refunds_pb2.Refund:
        try:
            key, value = ("refund_id", UUID(request.refund_id)) if request.refund_id else (
                "order_id", UUID(request.order_id))
        except ValueError:
            raise InvalidArgument("refund_id or order_id must be a valid id") from None
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(f"SELECT * FROM refunds WHERE {key} = $1", value)
        if row is None:
            raise NotFound("no such refund", code="REFUND_NOT_FOUND")
        return refunds_pb2.Refund(
            refund_id=str(row["refund_id"]), order_id=str(row["order_id"]),
            payment=common_pb2.Payment(method=vocab.PAYMENT_METHODS[row["payment_method"]],
                                       transaction_id=row["payment_transaction_id"], paid_fen=row["amount_fen"]),
            amount_fen=row["amount_fen"],
            status=_STATUS[row["status"]],
            created_at=to_timestamp(row["created_at"]),
            settled_at=to_timestamp(row["settled_at"]),
        )
