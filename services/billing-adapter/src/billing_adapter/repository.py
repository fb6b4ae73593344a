"""SQL of the billing adapter: fulfilment jobs with leases, their operations and the attempt log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg


@dataclass(frozen=True, slots=True)
class OperationRow:
    transaction_id: str
    seq: int
    kind: str
    amount_fen: int
    pack_code: str
    state: str
    boss_serial: str


@dataclass(frozen=True, slots=True)
class Job:
    order_id: UUID
    channel_id: str
    account_type: str
    account_id: str
    sku: str
    state: str
    attempts: int
    started: bool
    requested_at: datetime
    operations: list[OperationRow]


async def insert_job(conn: asyncpg.Connection, *, order_id: UUID, channel_id: str, account_type: str,
                     account_id: str, sku: str, requested_at: datetime,
                     operations: list[tuple[str, int, str, int, str]]) -> bool:
    """Create the job and its operations; False when the job exists already (a redelivered request)."""
    created = await conn.fetchval(
        """INSERT INTO fulfilments (order_id, channel_id, account_type, account_id, sku, requested_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (order_id) DO NOTHING RETURNING true""",
        order_id, channel_id, account_type, account_id, sku, requested_at,
    )
    if not created:
        return False
    await conn.executemany(
        """INSERT INTO operations (transaction_id, order_id, seq, kind, amount_fen, pack_code)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        [(txn, order_id, seq, kind, amount, pack) for txn, seq, kind, amount, pack in operations],
    )
    return True


async def lease(conn: asyncpg.Connection, order_id: UUID, owner: str, seconds: float) -> Job | None:
    """Claim one due job (no one else holds it); None if it is not due, done, or held by another worker."""
    row = await conn.fetchrow(
        """UPDATE fulfilments SET lease_owner = $2, lease_until = now() + make_interval(secs => $3),
                                  state = CASE WHEN state = 'pending' THEN 'in_progress' ELSE state END,
                                  updated_at = now()
           WHERE order_id = $1 AND state IN ('pending', 'in_progress') AND next_attempt_at <= now()
             AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $2)
           RETURNING *""",
        order_id, owner, seconds,
    )
    if row is None:
        return None
    ops = await conn.fetch(
        "SELECT * FROM operations WHERE order_id = $1 ORDER BY seq", order_id
    )
    return Job(row["order_id"], row["channel_id"], row["account_type"], row["account_id"], row["sku"],
               row["state"], row["attempts"], row["started"], row["requested_at"],
               [OperationRow(o["transaction_id"], o["seq"], o["kind"], o["amount_fen"], o["pack_code"], o["state"],
                             o["boss_serial"]) for o in ops])


async def due_jobs(conn: asyncpg.Connection, limit: int) -> list[UUID]:
    rows = await conn.fetch(
        """SELECT order_id FROM fulfilments
           WHERE state IN ('pending', 'in_progress') AND next_attempt_at <= now()
             AND (lease_until IS NULL OR lease_until < now())
           ORDER BY next_attempt_at LIMIT $1""",
        limit,
    )
    return [r["order_id"] for r in rows]


async def mark_started(conn: asyncpg.Connection, order_id: UUID) -> None:
    await conn.execute("UPDATE fulfilments SET started = true, updated_at = now() WHERE order_id = $1", order_id)


async def record_attempt(conn: asyncpg.Connection, *, order_id: UUID, transaction_id: str, kind: str, outcome: str,
                         provider_code: str, latency_ms: int, error: str) -> int:
    """Log one call to BOSS; returns the job's write-attempt count after it."""
    await conn.execute(
        """INSERT INTO attempts (order_id, transaction_id, number, kind, outcome, provider_code, latency_ms, error)
           VALUES ($1, $2, (SELECT count(*) + 1 FROM attempts WHERE order_id = $1 AND kind = $3),
                   $3, $4, $5, $6, $7)""",
        order_id, transaction_id, kind, outcome, provider_code, latency_ms, error,
    )
    column = "status_queries" if kind == "status_query" else "attempts"
    count: int = await conn.fetchval(
        f"UPDATE fulfilments SET {column} = {column} + 1, updated_at = now() WHERE order_id = $1 RETURNING attempts",
        order_id,
    )
    return count


async def operation_done(conn: asyncpg.Connection, transaction_id: str, state: str, result_code: str,
                         boss_serial: str) -> None:
    await conn.execute(
        "UPDATE operations SET state = $2, result_code = $3, boss_serial = $4 WHERE transaction_id = $1",
        transaction_id, state, result_code, boss_serial,
    )


async def finish(conn: asyncpg.Connection, order_id: UUID, state: str, reason_code: str = "") -> None:
    await conn.execute(
        """UPDATE fulfilments SET state = $2, reason_code = $3, lease_owner = NULL, lease_until = NULL,
                                  updated_at = now() WHERE order_id = $1""",
        order_id, state, reason_code,
    )


async def reschedule(conn: asyncpg.Connection, order_id: UUID, delay_seconds: float, reason_code: str) -> None:
    await conn.execute(
        """UPDATE fulfilments SET next_attempt_at = now() + make_interval(secs => $2), reason_code = $3,
                                  lease_owner = NULL, lease_until = NULL, updated_at = now()
           WHERE order_id = $1""",
        order_id, delay_seconds, reason_code,
    )


async def get_job(conn: asyncpg.Connection, order_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM fulfilments WHERE order_id = $1", order_id)


async def attempts_count(conn: asyncpg.Connection, order_id: UUID) -> int:
    count: int = await conn.fetchval("SELECT attempts FROM fulfilments WHERE order_id = $1", order_id)
    return count


async def attempts_of(conn: asyncpg.Connection, order_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM attempts WHERE order_id = $1 ORDER BY id", order_id)
