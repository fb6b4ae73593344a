"""The BOSS simulator's HTTP API.

    POST /boss/v1/recharges                 credit call credit            (idempotent by transaction_id)
    POST /boss/v1/data-packs                provision a data pack         (idempotent by transaction_id)
    GET  /boss/v1/transactions/{id}         status of one transaction
    GET  /boss/v1/transactions?start=&end=  the reconciliation listing for a window
    GET  /boss/v1/subscribers/{type}/{id}   balance and data allowance
    GET  /boss/v1/ported-numbers?since=     numbers ported between carriers
    GET|PUT /sim/faults                     run-time faults: latency, busy rate, timeouts, lost replies
    PUT  /sim/subscribers/{type}/{id}       set a subscriber's status or balance (tests)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from boss_sim import domain
from boss_sim.domain import Sandbox
from boss_sim.settings import BossSimSettings
from topup_platform import telemetry
from topup_platform.ids import new_id_str
from topup_platform.runtime import open_pool


class Faults(BaseModel):
    """Global faults, changeable at run time (load and chaos tests)."""

    latency_ms: int = Field(0, ge=0, le=60_000)
    latency_jitter_ms: int = Field(0, ge=0, le=60_000)
    #: fraction of writes answered "system busy" (not processed)
    busy_rate: float = Field(0.0, ge=0, le=1)
    #: fraction of requests that hang without being processed (the caller times out)
    timeout_rate: float = Field(0.0, ge=0, le=1)
    #: fraction of writes processed whose reply is then lost (the caller times out)
    lost_reply_rate: float = Field(0.0, ge=0, le=1)
    #: fraction of status queries left unanswered (the caller times out)
    query_timeout_rate: float = Field(0.0, ge=0, le=1)


class CreditIn(BaseModel):
    transaction_id: str = Field(min_length=1, max_length=64)
    account_type: Literal["mobile", "broadband"]
    account_id: str = Field(min_length=1, max_length=32)
    amount_fen: int = Field(gt=0, le=10_000_000)


class DataPackIn(BaseModel):
    transaction_id: str = Field(min_length=1, max_length=64)
    account_type: Literal["mobile"] = "mobile"
    account_id: str = Field(min_length=1, max_length=32)
    pack_code: str = Field(min_length=1, max_length=32)


class SubscriberPatch(BaseModel):
    status: Literal["active", "suspended"] | None = None
    balance_fen: int | None = None


def _reply(code: str, http_status: int = 200, **extra: Any) -> JSONResponse:
    return JSONResponse({"result_code": code, "result_msg": domain.MESSAGES.get(code, ""), **extra},
                        status_code=http_status)


class _TooLate(Exception):
    """A write that reached its commit after the caller's deadline: rolled back, never applied."""


def _deadline(request: Request) -> datetime | None:
    """`X-Request-Deadline` (RFC 3339, with its offset): a write is applied before it or never, so a caller that
    gave up waiting knows when a write whose answer it lost can no longer land. Raises ValueError if malformed."""
    raw = request.headers.get("x-request-deadline")
    if raw is None:
        return None
    deadline = datetime.fromisoformat(raw)
    if deadline.tzinfo is None:
        raise ValueError("the deadline needs its UTC offset")
    return deadline


def _txn_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "transaction_id": row["transaction_id"],
        "operation": row["operation"],
        "account_type": row["account_type"],
        "account_id": row["account_id"],
        "amount_fen": row["amount_fen"],
        "pack_code": row["pack_code"],
        "data_mb": row["data_mb"],
        "status": row["status"],
        "result_code": row["result_code"],
        "boss_serial": row["boss_serial"],
        "created_at": row["created_at"].isoformat(),
    }


# One statement: record the transaction with its result (from the subscriber's status) and, if it
# succeeded, apply it to the balance. A transaction id seen before writes nothing (and returns no row).
_APPLY = """
WITH sub AS (
    SELECT status FROM subscribers WHERE account_type = $3 AND account_id = $4
), t AS (
    INSERT INTO transactions (transaction_id, operation, account_type, account_id, amount_fen, pack_code, data_mb,
                              result_code, status, boss_serial)
    SELECT $1, $2, $3, $4, $5, $6, $7, r.code, CASE WHEN r.code = '0000' THEN 'SUCCESS' ELSE 'FAILED' END, $9
    FROM (SELECT CASE WHEN $8 <> '0000' THEN $8
                      WHEN (SELECT status FROM sub) = 'active' THEN '0000'
                      WHEN (SELECT status FROM sub) = 'suspended' THEN '2002'
                      ELSE '2001' END AS code) r
    WHERE $10::timestamptz IS NULL OR clock_timestamp() < $10  -- the caller's deadline: applied before it or never
    ON CONFLICT (transaction_id) DO NOTHING
    RETURNING *
), applied AS (
    UPDATE subscribers s SET balance_fen = s.balance_fen + t.amount_fen, data_mb = s.data_mb + t.data_mb,
                             updated_at = now()
    FROM t WHERE t.status = 'SUCCESS' AND s.account_type = t.account_type AND s.account_id = t.account_id
)
SELECT * FROM t
"""


def create_app(settings: BossSimSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await open_pool(settings, "boss_sim", platform_tables=False)
        app.state.pool = pool
        app.state.faults = Faults(latency_ms=settings.latency_ms)
        app.state.never_answers = set()
        app.state.known_subscribers = set()
        yield
        await pool.close()

    app = FastAPI(title="BOSS simulator", lifespan=lifespan, telemetry=telemetry.fastapi_telemetry())

    def faults(request: Request) -> Faults:
        current: Faults = request.app.state.faults
        return current

    async def delay(request: Request) -> None:
        f = faults(request)
        ms = f.latency_ms + (random.randint(0, f.latency_jitter_ms) if f.latency_jitter_ms else 0)
        if ms:
            await asyncio.sleep(ms / 1000)

    async def hang() -> None:
        """Never answer in time: the caller's timeout fires first."""
        await asyncio.sleep(settings.hang_seconds)

    async def write(request: Request, *, txn_id: str, operation: str, account_type: str, account_id: str,
                    amount_fen: int = 0, pack_code: str = "") -> JSONResponse:
        try:
            deadline = _deadline(request)
        except ValueError:
            return _reply(domain.BAD_REQUEST, 400)
        await delay(request)
        f = faults(request)
        pool: asyncpg.Pool = request.app.state.pool
        # A repeated transaction id gets its first result, before any fault. (With no fault configured and
        # no sandbox number, the apply statement below finds the repeat itself: one round trip fewer.)
        faulty = f.busy_rate or f.timeout_rate or f.lost_reply_rate or account_id.startswith("186000000")
        existing = None
        if faulty:
            async with pool.acquire() as conn:
                existing = await conn.fetchrow("SELECT * FROM transactions WHERE transaction_id = $1", txn_id)
        if existing is not None:
            if (existing["account_id"], existing["amount_fen"], existing["pack_code"]) != (
                account_id, amount_fen, pack_code
            ):
                return _reply(domain.DUPLICATE_MISMATCH)
            return _reply(existing["result_code"], transaction=_txn_json(existing))
        if account_id == Sandbox.NEVER_ANSWERS:
            request.app.state.never_answers.add(txn_id)  # its status queries go unanswered too
            await hang()
            return _reply(domain.SYSTEM_BUSY, 503)
        if random.random() < f.timeout_rate:
            await hang()
            return _reply(domain.SYSTEM_BUSY, 503)
        if await busy(pool, txn_id, account_id, f):
            return _reply(domain.SYSTEM_BUSY, 503)
        if account_id == Sandbox.LATE_WRITE:  # the first write waits inside BOSS, long after its caller gave up
            await asyncio.sleep(settings.late_write_seconds)

        data_mb = domain.DATA_PACKS.get(pack_code, 0) if operation == "data_pack" else 0
        precheck = domain.PACK_UNKNOWN if operation == "data_pack" and not data_mb else domain.SUCCESS
        if operation == "credit" and account_id == Sandbox.CREDIT_BLOCKED:
            precheck = domain.CREDIT_BLOCKED
        async with pool.acquire() as conn:
            key = (account_type, account_id)
            if key not in request.app.state.known_subscribers:
                async with conn.transaction():
                    await subscriber(conn, account_type, account_id)  # created on first use, if valid
                request.app.state.known_subscribers.add(key)
            try:
                async with conn.transaction():
                    row = await conn.fetchrow(_APPLY, txn_id, operation, account_type, account_id, amount_fen,
                                              pack_code, data_mb, precheck, "B" + new_id_str().replace("-", "")[:20],
                                              deadline)
                    # the statement may have waited (a lock on the subscriber): the deadline holds until commit
                    if row is not None and deadline is not None and not await conn.fetchval(
                            "SELECT clock_timestamp() < $1", deadline):
                        raise _TooLate
            except _TooLate:
                return _reply(domain.DEADLINE_EXCEEDED, 504)
            if row is None:  # seen before (or a concurrent duplicate won): answer with the first result
                row = await conn.fetchrow("SELECT * FROM transactions WHERE transaction_id = $1", txn_id)
                if row is None:  # neither: it arrived, or got its turn, after the caller's deadline
                    return _reply(domain.DEADLINE_EXCEEDED, 504)
                if (row["account_id"], row["amount_fen"], row["pack_code"]) != (account_id, amount_fen, pack_code):
                    return _reply(domain.DUPLICATE_MISMATCH)
        if account_id == Sandbox.REPLY_LOST or random.random() < f.lost_reply_rate:
            await hang()  # processed, but the reply never arrives in time
        return _reply(row["result_code"], transaction=_txn_json(row))

    async def busy(pool: asyncpg.Pool, txn_id: str, account_id: str, f: Faults) -> bool:
        if account_id in (Sandbox.ALWAYS_BUSY, Sandbox.BUSY_TWICE, Sandbox.LATE_WRITE):
            # counted per transaction id (also for the always busy number: tests read how many writes arrived)
            async with pool.acquire() as conn:
                count = await conn.fetchval(
                    """INSERT INTO busy_counts (transaction_id, count) VALUES ($1, 1)
                       ON CONFLICT (transaction_id) DO UPDATE SET count = busy_counts.count + 1 RETURNING count""",
                    txn_id,
                )
            if account_id == Sandbox.ALWAYS_BUSY:
                return True
            # busy twice, then fine; or (the late write) fine once, then busy for ever after
            return bool(count <= 2) if account_id == Sandbox.BUSY_TWICE else bool(count > 1)
        return random.random() < f.busy_rate

    async def subscriber(conn: asyncpg.Connection, account_type: str, account_id: str) -> asyncpg.Record | None:
        """Every valid Unicom number (by segment, or ported in) is an active subscriber, created on first use."""
        if account_id == Sandbox.NOT_FOUND or not domain.valid_account(account_type, account_id):
            return None
        row = await conn.fetchrow(
            "SELECT * FROM subscribers WHERE account_type = $1 AND account_id = $2 FOR UPDATE", account_type, account_id
        )
        if row is not None:
            return row
        if account_type == "mobile":
            ported = await conn.fetchval("SELECT carrier FROM ported_numbers WHERE number = $1", account_id)
            carrier = ported or ("unicom" if account_id[:3] in domain.UNICOM_SEGMENTS else "other")
            if carrier != "unicom":
                return None
        status = "suspended" if account_id == Sandbox.SUSPENDED else "active"
        return await conn.fetchrow(
            """INSERT INTO subscribers (account_type, account_id, status) VALUES ($1, $2, $3)
               ON CONFLICT (account_type, account_id) DO UPDATE SET updated_at = now() RETURNING *""",
            account_type, account_id, status,
        )

    @app.post("/boss/v1/recharges")
    async def recharge(body: CreditIn, request: Request) -> JSONResponse:
        return await write(request, txn_id=body.transaction_id, operation="credit", account_type=body.account_type,
                           account_id=body.account_id, amount_fen=body.amount_fen)

    @app.post("/boss/v1/data-packs")
    async def data_pack(body: DataPackIn, request: Request) -> JSONResponse:
        return await write(request, txn_id=body.transaction_id, operation="data_pack",
                           account_type=body.account_type, account_id=body.account_id, pack_code=body.pack_code)

    @app.get("/boss/v1/transactions/{transaction_id}")
    async def transaction(transaction_id: str, request: Request) -> JSONResponse:
        await delay(request)
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM transactions WHERE transaction_id = $1", transaction_id)
        f = faults(request)
        if transaction_id in request.app.state.never_answers or random.random() < max(f.timeout_rate,
                                                                                       f.query_timeout_rate):
            await hang()
        if row is None:
            return _reply(domain.TRANSACTION_NOT_FOUND, 404, transaction_id=transaction_id)
        return _reply(domain.SUCCESS, transaction=_txn_json(row))

    @app.get("/boss/v1/transactions")
    async def transactions(
        request: Request,
        start: datetime,
        end: datetime,
        after: Annotated[str, Query(description="cursor: the last transaction_id of the previous page")] = "",
        limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    ) -> JSONResponse:
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT * FROM transactions WHERE created_at >= $1 AND created_at < $2 AND transaction_id > $3
                   ORDER BY transaction_id LIMIT $4""",
                start, end, after, limit,
            )
        items = [_txn_json(r) for r in rows]
        return _reply(domain.SUCCESS, items=items, next=items[-1]["transaction_id"] if len(items) == limit else None)

    @app.get("/boss/v1/subscribers/{account_type}/{account_id}")
    async def balance(account_type: str, account_id: str, request: Request) -> JSONResponse:
        await delay(request)
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as conn, conn.transaction():
            sub = await subscriber(conn, account_type, account_id)
        if sub is None:
            return _reply(domain.SUBSCRIBER_NOT_FOUND, 404)
        return _reply(domain.SUCCESS, account_type=account_type, account_id=account_id, status=sub["status"],
                      balance_fen=sub["balance_fen"], data_mb=sub["data_mb"])

    @app.get("/boss/v1/ported-numbers")
    async def ported(request: Request, since: datetime | None = None) -> JSONResponse:
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT number, carrier, ported_at FROM ported_numbers
                   WHERE ported_at >= coalesce($1::timestamptz, '-infinity') ORDER BY ported_at, number""",
                since,
            )
        return _reply(domain.SUCCESS, items=[{"number": r["number"], "carrier": r["carrier"],
                                              "ported_at": r["ported_at"].isoformat()} for r in rows])

    @app.get("/sim/faults")
    async def get_faults(request: Request) -> Faults:
        return faults(request)

    @app.put("/sim/faults")
    async def put_faults(body: Faults, request: Request) -> Faults:
        request.app.state.faults = body
        return body

    @app.put("/sim/subscribers/{account_type}/{account_id}")
    async def put_subscriber(account_type: str, account_id: str, body: SubscriberPatch,
                             request: Request) -> JSONResponse:
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as conn, conn.transaction():
            sub = await subscriber(conn, account_type, account_id)
            if sub is None:
                return _reply(domain.SUBSCRIBER_NOT_FOUND, 404)
            await conn.execute(
                """UPDATE subscribers SET status = coalesce($3, status), balance_fen = coalesce($4, balance_fen)
                   WHERE account_type = $1 AND account_id = $2""",
                account_type, account_id, body.status, body.balance_fen,
            )
            request.app.state.known_subscribers.add((account_type, account_id))
        return _reply(domain.SUCCESS)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
