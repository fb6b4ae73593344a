"""The payment-provider simulator's HTTP API (one refund API per payment method).

    POST /{provider}/v1/refunds               accept a refund (idempotent by refund_id) → 202
    GET  /{provider}/v1/refunds/{refund_id}   its status: ACCEPTED, SETTLED or REJECTED
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, Literal

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from payments_sim.settings import PaymentsSimSettings
from topup_platform.ids import new_id_str
from topup_platform.runtime import open_pool
from topup_platform.timeutil import utcnow

Provider = Literal["alipay", "wechat", "unionpay", "jd", "taobao", "unicom_pay"]


class RefundIn(BaseModel):
    refund_id: str = Field(min_length=1, max_length=64)
    transaction_id: str = Field(min_length=1, max_length=128)
    amount_fen: int = Field(gt=0)


def _json(row: asyncpg.Record) -> dict[str, Any]:
    now = utcnow()
    status = row["status"]
    if status == "ACCEPTED" and row["settle_at"] <= now:
        status = "SETTLED"
    return {"provider": row["provider"], "refund_id": row["refund_id"], "transaction_id": row["transaction_id"],
            "amount_fen": row["amount_fen"], "status": status, "reject_reason": row["reject_reason"],
            "provider_refund_no": row["provider_refund_no"], "accepted_at": row["accepted_at"].isoformat()}


def create_app(settings: PaymentsSimSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await open_pool(settings, "payments_sim", platform_tables=False)
        app.state.pool = pool
        yield
        await pool.close()

    app = FastAPI(title="Payment-provider simulator", lifespan=lifespan)

    @app.post("/{provider}/v1/refunds", status_code=202)
    async def refund(provider: Provider, body: RefundIn, request: Request) -> JSONResponse:
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                """INSERT INTO refunds (provider, refund_id, transaction_id, amount_fen, status, provider_refund_no,
                                        settle_at)
                   VALUES ($1, $2, $3, $4, 'ACCEPTED', $5, now() + $6::interval)
                   ON CONFLICT (provider, refund_id) DO NOTHING RETURNING *""",
                provider, body.refund_id, body.transaction_id, body.amount_fen, "P" + new_id_str()[:18],
                timedelta(seconds=settings.settle_seconds),
            )
            if row is None:
                row = await conn.fetchrow("SELECT * FROM refunds WHERE provider = $1 AND refund_id = $2",
                                          provider, body.refund_id)
        return JSONResponse(_json(row), status_code=202)

    @app.get("/{provider}/v1/refunds/{refund_id}")
    async def refund_status(provider: Provider, refund_id: str, request: Request) -> JSONResponse:
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM refunds WHERE provider = $1 AND refund_id = $2",
                                      provider, refund_id)
        if row is None:
            return JSONResponse({"code": "REFUND_NOT_FOUND"}, status_code=404)
        return JSONResponse(_json(row))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
