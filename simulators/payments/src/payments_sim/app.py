"""The payment-provider simulator: the refund API of every payment method we accept, one path prefix each
(alipay, wechat, unionpay, jd, taobao, unicom_pay), behaving as such providers do.

    POST /{provider}/v1/refunds               accept a refund → 202 {status: ACCEPTED | REJECTED, ...}
                                              {refund_id, transaction_id, amount_fen, paid_fen?, notify_url?}
                                              (paid_fen: what the original payment paid, as the merchant knows
                                              it, like WeChat Pay's amount.total); idempotent by refund_id: the
                                              same refund again answers as the first time; the same id for
                                              another transaction or amount is 409 REFUND_ID_CONFLICT
    GET  /{provider}/v1/refunds/{refund_id}   its status: ACCEPTED, SETTLED or REJECTED (404 REFUND_NOT_FOUND)
    POST /{provider}/v1/payments              register an original payment (tests, the demo)
    GET  /{provider}/v1/payments/{txn}        a payment and how much of it was refunded
    GET|PUT /sim/faults                       run-time faults
    GET  /healthz

Settlement is asynchronous: an accepted refund settles `settle_seconds` later and the merchant is sent a
signed notice (`X-Provider-Signature: base64(HMAC-SHA256(notify_secret, body))`) at the refund's
`notify_url`, retried with backoff until it answers 2xx (`notice_attempts` times); the status query is the
merchant's way to find out when notices are lost.

A refund is refused (status REJECTED with a reason) when the original transaction is unknown or too old,
or when it would refund more than was paid (REFUND_EXCEEDS_PAYMENT: the refunds of a payment not rejected,
this one included, would sum past its amount). A sandbox's leniency: a payment the simulator was never told of
(`POST /{provider}/v1/payments`) is taken as paid when its first refund arrives, for the `paid_fen` that refund
names, else for the refund's own amount (a full refund); later refunds are held to that amount. Sandbox
transaction ids force outcomes:

    SANDBOX-UNKNOWN-…      REJECTED TRANSACTION_NOT_FOUND
    SANDBOX-TOO-OLD-…      REJECTED TRANSACTION_TOO_OLD
    SANDBOX-ABNORMAL-…     ACCEPTED, then REJECTED REFUND_ABNORMAL at settlement (the payer's card closed)
    SANDBOX-UNAVAILABLE-…  503 PROVIDER_UNAVAILABLE, always (nothing is recorded)
    SANDBOX-FLAKY-…        503 for the first two calls of each refund id, then as usual
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg
import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from payments_sim.settings import PaymentsSimSettings
from topup_platform import telemetry
from topup_platform.ids import new_id_str
from topup_platform.logging import get_logger
from topup_platform.runtime import open_pool
from topup_platform.timeutil import utcnow

log = get_logger(__name__)

Provider = Literal["alipay", "wechat", "unionpay", "jd", "taobao", "unicom_pay"]

SANDBOX_REJECTIONS = {"SANDBOX-UNKNOWN-": "TRANSACTION_NOT_FOUND", "SANDBOX-TOO-OLD-": "TRANSACTION_TOO_OLD"}
#: a payment older than this can no longer be refunded (providers keep refunds open for a year or so)
REFUND_WINDOW = timedelta(days=365)


class Faults(BaseModel):
    """Faults changeable at run time (chaos tests): all providers, unless `providers` names some."""

    #: fraction of refund calls answered 503 without being processed
    unavailable_rate: float = Field(0.0, ge=0, le=1)
    #: fraction of refund calls that are processed but whose reply is lost (the caller sees a 504 after a hang)
    lost_reply_rate: float = Field(0.0, ge=0, le=1)
    #: fraction of status queries answered 503
    query_unavailable_rate: float = Field(0.0, ge=0, le=1)
    #: fraction of settlement notices never sent (the merchant must poll)
    notice_loss_rate: float = Field(0.0, ge=0, le=1)
    #: fraction of accepted refunds refused at settlement (REFUND_ABNORMAL)
    settlement_reject_rate: float = Field(0.0, ge=0, le=1)
    #: which providers the faults apply to (empty: all)
    providers: list[Provider] = Field(default_factory=list)

    def applies(self, provider: str) -> bool:
        return not self.providers or provider in self.providers


class RefundIn(BaseModel):
    refund_id: str = Field(min_length=1, max_length=64)
    transaction_id: str = Field(min_length=1, max_length=128)
    amount_fen: int = Field(gt=0, le=100_000_000)
    notify_url: str = Field("", max_length=512)
    #: what the original payment paid, as the merchant knows it (taken as the payment's amount if unseen)
    paid_fen: int | None = Field(None, gt=0, le=100_000_000)


class PaymentIn(BaseModel):
    transaction_id: str = Field(min_length=1, max_length=128)
    amount_fen: int = Field(gt=0, le=100_000_000)
    paid_at: datetime | None = None


def sign_notice(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _json(row: asyncpg.Record) -> dict[str, Any]:
    return {"provider": row["provider"], "refund_id": row["refund_id"], "transaction_id": row["transaction_id"],
            "amount_fen": row["amount_fen"], "status": row["status"], "reject_reason": row["reject_reason"],
            "provider_refund_no": row["provider_refund_no"], "accepted_at": row["accepted_at"].isoformat(),
            "settled_at": row["settled_at"].isoformat() if row["settled_at"] else None}


def _error(status: int, code: str, message: str = "") -> JSONResponse:
    return JSONResponse({"code": code, "message": message or code}, status_code=status)


def _sandbox_rejection(transaction_id: str) -> str:
    """The refusal a sandbox transaction id forces, or ''."""
    for prefix, reason in SANDBOX_REJECTIONS.items():
        if transaction_id.startswith(prefix):
            return reason
    return ""


def _rejection(provider: str, body: RefundIn, payment: asyncpg.Record | None, refunded: int) -> str:
    """Why the provider refuses this refund outright, or ''."""
    if forced := _sandbox_rejection(body.transaction_id):
        return forced
    if payment is None:
        return ""
    if payment["paid_at"] < utcnow() - REFUND_WINDOW:
        return "TRANSACTION_TOO_OLD"
    if refunded + body.amount_fen > payment["amount_fen"]:
        return "REFUND_EXCEEDS_PAYMENT"
    return ""


async def _payment(conn: asyncpg.Connection, provider: str, transaction_id: str) -> dict[str, Any]:
    """A payment as the provider's ledger has it: its refunds, and how much of it went back."""
    paid = await conn.fetchrow("SELECT * FROM payments WHERE provider = $1 AND transaction_id = $2",
                               provider, transaction_id)
    refunds = await conn.fetch(
        "SELECT * FROM refunds WHERE provider = $1 AND transaction_id = $2 ORDER BY accepted_at",
        provider, transaction_id)
    return {"provider": provider, "transaction_id": transaction_id,
            "amount_fen": paid["amount_fen"] if paid else None,
            "refunded_fen": sum(r["amount_fen"] for r in refunds if r["status"] == "SETTLED"),
            "refunds": [_json(r) for r in refunds]}


class Settler:
    """Settles accepted refunds when due and delivers their notices, retrying failed deliveries."""

    def __init__(self, app: FastAPI, settings: PaymentsSimSettings) -> None:
        self.app = app
        self.settings = settings
        self.http = httpx.AsyncClient(timeout=settings.notice_timeout_seconds)

    async def run(self) -> None:
        while True:
            try:
                await self.settle_due()
                await self.deliver_due()
            except Exception:
                log.exception("settlement round failed")
            await asyncio.sleep(self.settings.tick_seconds)

    async def settle_due(self) -> None:
        pool: asyncpg.Pool = self.app.state.pool
        faults: Faults = self.app.state.faults
        async with pool.acquire() as conn, conn.transaction():
            due = await conn.fetch(
                """SELECT provider, refund_id, reject_at_settlement FROM refunds
                   WHERE status = 'ACCEPTED' AND settle_at <= now() ORDER BY settle_at LIMIT 500
                   FOR UPDATE SKIP LOCKED""")
            for row in due:
                reason = row["reject_at_settlement"]
                if not reason and faults.applies(row["provider"]) and random.random() < faults.settlement_reject_rate:
                    reason = "REFUND_ABNORMAL"
                notice = "DROPPED" if faults.applies(row["provider"]) and random.random() < faults.notice_loss_rate \
                    else "PENDING"
                await conn.execute(
                    """UPDATE refunds SET status = $3, reject_reason = $4, settled_at = now(),
                              notice_state = CASE WHEN notify_url = '' THEN 'NONE' ELSE $5 END,
                              next_notice_at = now()
                       WHERE provider = $1 AND refund_id = $2""",
                    row["provider"], row["refund_id"], "REJECTED" if reason else "SETTLED", reason, notice)

    async def deliver_due(self) -> None:
        pool: asyncpg.Pool = self.app.state.pool
        async with pool.acquire() as conn:
            due = await conn.fetch(
                """UPDATE refunds SET next_notice_at = now() + interval '30 seconds'
                   WHERE (provider, refund_id) IN (
                       SELECT provider, refund_id FROM refunds
                       WHERE notice_state = 'PENDING' AND next_notice_at <= now()
                       ORDER BY next_notice_at LIMIT 100 FOR UPDATE SKIP LOCKED)
                   RETURNING *""")
        await asyncio.gather(*(self.deliver(row) for row in due))

    async def deliver(self, row: asyncpg.Record) -> None:
        body = orjson.dumps({"notice": "refund", **_json(row)})
        headers = {"Content-Type": "application/json",
                   "X-Provider-Signature": sign_notice(self.settings.notify_secret.get_secret_value(), body)}
        try:
            response = await self.http.post(row["notify_url"], content=body, headers=headers)
            delivered = 200 <= response.status_code < 300
        except httpx.HTTPError:
            delivered = False
        attempts = row["notice_attempts"] + 1
        state = "DELIVERED" if delivered else ("GAVE_UP" if attempts >= self.settings.notice_attempts else "PENDING")
        delay = timedelta(seconds=self.settings.notice_backoff_seconds * 2 ** (attempts - 1))
        pool: asyncpg.Pool = self.app.state.pool
        async with pool.acquire() as conn:
            await conn.execute(
                """UPDATE refunds SET notice_state = $3, notice_attempts = $4, next_notice_at = now() + $5::interval
                   WHERE provider = $1 AND refund_id = $2""",
                row["provider"], row["refund_id"], state, attempts, delay)

    async def close(self) -> None:
        await self.http.aclose()


def create_app(settings: PaymentsSimSettings) -> FastAPI:
    flaky_calls: dict[str, int] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await open_pool(settings, "payments_sim", platform_tables=False)
        app.state.faults = Faults()
        settler = Settler(app, settings)
        task = asyncio.create_task(settler.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await settler.close()
        await app.state.pool.close()

    app = FastAPI(title="Payment-provider simulator", lifespan=lifespan, telemetry=telemetry.fastapi_telemetry())

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        return _error(400, "INVALID_REQUEST", "; ".join(str(e["msg"]) for e in err.errors()))

    @app.post("/{provider}/v1/refunds", status_code=202)
    async def refund(provider: Provider, body: RefundIn, request: Request) -> JSONResponse:
        faults: Faults = request.app.state.faults
        if body.transaction_id.startswith("SANDBOX-UNAVAILABLE-"):
            return _error(503, "PROVIDER_UNAVAILABLE")
        if body.transaction_id.startswith("SANDBOX-FLAKY-"):
            calls = flaky_calls[body.refund_id] = flaky_calls.get(body.refund_id, 0) + 1
            if calls <= 2:
                return _error(503, "PROVIDER_UNAVAILABLE")
        if faults.applies(provider) and random.random() < faults.unavailable_rate:
            return _error(503, "PROVIDER_UNAVAILABLE")
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as conn, conn.transaction():
            # one refund at a time per original payment: the "never more than paid" check cannot race
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1 || ':' || $2))", provider, body.transaction_id)
            row = await conn.fetchrow("SELECT * FROM refunds WHERE provider = $1 AND refund_id = $2",
                                      provider, body.refund_id)
            if row is None:
                payment = await conn.fetchrow("SELECT * FROM payments WHERE provider = $1 AND transaction_id = $2",
                                              provider, body.transaction_id)
                if payment is None and not _sandbox_rejection(body.transaction_id):
                    # never told of it: taken as paid (a sandbox's leniency), for what this first refund says
                    payment = await conn.fetchrow(
                        """INSERT INTO payments (provider, transaction_id, amount_fen) VALUES ($1, $2, $3)
                           RETURNING *""", provider, body.transaction_id, body.paid_fen or body.amount_fen)
                refunded = await conn.fetchval(
                    """SELECT coalesce(sum(amount_fen), 0) FROM refunds
                       WHERE provider = $1 AND transaction_id = $2 AND status <> 'REJECTED'""",
                    provider, body.transaction_id)
                reason = _rejection(provider, body, payment, refunded)
                row = await conn.fetchrow(
                    """INSERT INTO refunds (provider, refund_id, transaction_id, amount_fen, status, reject_reason,
                                            provider_refund_no, settle_at, notify_url, reject_at_settlement)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8::interval, $9, $10) RETURNING *""",
                    provider, body.refund_id, body.transaction_id, body.amount_fen,
                    "REJECTED" if reason else "ACCEPTED", reason, "P" + new_id_str().replace("-", "")[:20],
                    timedelta(seconds=settings.settle_seconds), body.notify_url,
                    "REFUND_ABNORMAL" if body.transaction_id.startswith("SANDBOX-ABNORMAL-") else "")
            elif (row["transaction_id"], row["amount_fen"]) != (body.transaction_id, body.amount_fen):
                return _error(409, "REFUND_ID_CONFLICT", "this refund id was used for another refund")
        if faults.applies(provider) and random.random() < faults.lost_reply_rate:
            await asyncio.sleep(settings.hang_seconds)
            return _error(504, "GATEWAY_TIMEOUT")
        return JSONResponse(_json(row), status_code=202)

    @app.get("/{provider}/v1/refunds/{refund_id}")
    async def refund_status(provider: Provider, refund_id: str, request: Request) -> JSONResponse:
        faults: Faults = request.app.state.faults
        if faults.applies(provider) and random.random() < faults.query_unavailable_rate:
            return _error(503, "PROVIDER_UNAVAILABLE")
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM refunds WHERE provider = $1 AND refund_id = $2",
                                      provider, refund_id)
        if row is None:
            return _error(404, "REFUND_NOT_FOUND")
        return JSONResponse(_json(row))

    @app.post("/{provider}/v1/payments", status_code=201)
    async def register_payment(provider: Provider, body: PaymentIn, request: Request) -> JSONResponse:
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO payments (provider, transaction_id, amount_fen, paid_at)
                   VALUES ($1, $2, $3, coalesce($4, now()))
                   ON CONFLICT (provider, transaction_id) DO UPDATE SET amount_fen = $3,
                       paid_at = coalesce($4, payments.paid_at)""",
                provider, body.transaction_id, body.amount_fen, body.paid_at)
            return JSONResponse(await _payment(conn, provider, body.transaction_id), status_code=201)

    @app.get("/{provider}/v1/payments/{transaction_id}")
    async def payment(provider: Provider, transaction_id: str, request: Request) -> JSONResponse:
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as conn:
            return JSONResponse(await _payment(conn, provider, transaction_id))

    @app.get("/sim/faults")
    async def get_faults(request: Request) -> Faults:
        return request.app.state.faults

    @app.put("/sim/faults")
    async def put_faults(body: Faults, request: Request) -> Faults:
        request.app.state.faults = body
        log.info("faults changed", **body.model_dump())
        return body

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
