"""SQL of the billing adapter: fulfilment jobs with leases, their operations and the attempt log.

Each step of a job is one statement (one round trip, one commit): the claim, an attempt with its
consequences, and the outcome together with the event that announces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg
import orjson

from topup_platform.outbox import OutboxRow


@dataclass(frozen=True, slots=True)
class OperationRow:
    transaction_id: str
    seq: int
    kind: str
    amount_fen: int
    pack_code: str
    state: str
    boss_serial: str
    #: writes of it sent so far (each counted before it was sent)
    writes: int = 0
    #: the outcome logged for its last write ("" if none was)
    last_write: str = ""


@dataclass(frozen=True, slots=True)
class Job:
    order_id: UUID
    channel_id: str
    account_type: str
    account_id: str
    sku: str
    state: str
    attempts: int
    requested_at: datetime
    operations: list[OperationRow]
    #: the order's trace context (W3C headers), carried from its FulfilmentRequested
    trace_context: Mapping[str, str] = field(default_factory=dict)
    #: the claim this job is worked under (`lease`'s owner): every fenced statement names it, so that two claims
    #: on one job, even by one process, never both act on it
    holder: str = ""


_INSERT_JOBS = """
WITH j AS (
    INSERT INTO fulfilments (order_id, channel_id, account_type, account_id, sku, requested_at, trace_context,
                             started, state, lease_owner, lease_until)
    SELECT j.*, true, 'in_progress', $7, now() + make_interval(secs => $8)
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $21::jsonb[]) AS j
    ON CONFLICT (order_id) DO NOTHING
    RETURNING order_id
), ops AS (
    INSERT INTO operations (transaction_id, order_id, seq, kind, amount_fen, pack_code)
    SELECT o.txn, o.order_id, o.seq, o.kind, o.amount, o.pack
    FROM unnest($9::uuid[], $10::text[], $11::int[], $12::text[], $13::bigint[], $14::text[])
        AS o(order_id, txn, seq, kind, amount, pack)
    JOIN j ON j.order_id = o.order_id
), started AS (
    INSERT INTO outbox (event_id, topic, key, event_type, envelope)
    SELECT e.event_id, e.topic, e.key, e.event_type, e.envelope
    FROM unnest($15::uuid[], $16::uuid[], $17::text[], $18::text[], $19::text[], $20::bytea[]) WITH ORDINALITY
        AS e(order_id, event_id, topic, key, event_type, envelope, n)
    JOIN j ON j.order_id = e.order_id
    ORDER BY e.n
)
SELECT order_id FROM j
"""


async def insert_jobs(conn: asyncpg.Connection, jobs: list[tuple[Job, OutboxRow]], *, owner: str,
                      lease_seconds: float) -> set[UUID]:
    """Create jobs (already leased by `owner`, who works on them next) with their operations and their
    FulfilmentStarted events, in one statement. Returns the ids created (a job that exists is left alone)."""
    ops = [(j.order_id, o) for j, _ in jobs for o in j.operations]
    rows = await conn.fetch(
        _INSERT_JOBS,
        [j.order_id for j, _ in jobs], [j.channel_id for j, _ in jobs], [j.account_type for j, _ in jobs],
        [j.account_id for j, _ in jobs], [j.sku for j, _ in jobs], [j.requested_at for j, _ in jobs],
        owner, lease_seconds,
        [i for i, _ in ops], [o.transaction_id for _, o in ops], [o.seq for _, o in ops], [o.kind for _, o in ops],
        [o.amount_fen for _, o in ops], [o.pack_code for _, o in ops],
        [j.order_id for j, _ in jobs], [e.event_id for _, e in jobs], [e.topic for _, e in jobs],
        [e.key for _, e in jobs], [e.event_type for _, e in jobs], [e.envelope for _, e in jobs],
        [dict(j.trace_context) for j, _ in jobs],
    )
    return {r["order_id"] for r in rows}


_LEASE = """
WITH claimed AS (
    UPDATE fulfilments SET lease_owner = $2, lease_until = now() + make_interval(secs => $3),
                           state = CASE WHEN state = 'pending' THEN 'in_progress' ELSE state END,
                           updated_at = now()
    WHERE order_id = $1 AND state IN ('pending', 'in_progress') AND next_attempt_at <= now()
      AND (lease_until IS NULL OR lease_until < now())
    RETURNING *
)
SELECT c.*, (SELECT json_agg(o ORDER BY o.seq) FROM (
    SELECT op.*, coalesce((SELECT a.outcome FROM attempts a
                           WHERE a.order_id = op.order_id AND a.transaction_id = op.transaction_id
                             AND a.kind <> 'status_query' ORDER BY a.id DESC LIMIT 1), '') AS last_write
    FROM operations op WHERE op.order_id = c.order_id) o) AS ops
FROM claimed c
"""


async def lease(conn: asyncpg.Connection, order_id: UUID, owner: str, seconds: float) -> Job | None:
    """Claim one due job that nobody holds (a lease that lapsed counts as free); None if it is not due, done,
    or held, by another worker or by this one."""
    row = await conn.fetchrow(_LEASE, order_id, owner, seconds)
    if row is None:
        return None
    ops = row["ops"] if isinstance(row["ops"], list) else orjson.loads(row["ops"])
    return Job(row["order_id"], row["channel_id"], row["account_type"], row["account_id"], row["sku"],
               row["state"], row["attempts"], row["requested_at"],
               [OperationRow(o["transaction_id"], o["seq"], o["kind"], o["amount_fen"], o["pack_code"], o["state"],
                             o["boss_serial"], o["writes"], o["last_write"]) for o in ops],
               row["trace_context"], owner)


async def before_write(conn: asyncpg.Connection, order_id: UUID, transaction_id: str, owner: str,
                       lease_seconds: float, deadline: datetime, budget: int) -> tuple[int, int] | None:
    """Right before a write is sent: check that `owner` still holds the job (and renew its lease), count the write
    against the operation's budget (`budget` writes in all), and store its deadline, in one statement. Returns
    (the job's writes, the operation's writes), counting this one; None if the job is no longer this worker's, or
    the budget is spent: then nothing may be sent."""
    row = await conn.fetchrow(
        """WITH held AS (
               UPDATE fulfilments SET lease_until = greatest(lease_until, now() + make_interval(secs => $4)),
                                      attempts = attempts + 1, updated_at = now()
               WHERE order_id = $1 AND state = 'in_progress' AND lease_owner = $3
                 AND EXISTS (SELECT 1 FROM operations WHERE transaction_id = $2 AND order_id = $1 AND writes < $6)
               RETURNING order_id, attempts
           ), op AS (
               UPDATE operations SET write_deadline = greatest(write_deadline, $5), writes = writes + 1
               WHERE transaction_id = $2 AND order_id = (SELECT order_id FROM held)
               RETURNING writes
           )
           SELECT held.attempts, op.writes FROM held, op""",
        order_id, transaction_id, owner, lease_seconds, deadline, budget)
    return None if row is None else (row["attempts"], row["writes"])


async def hold_for(conn: asyncpg.Connection, order_id: UUID, owner: str, seconds: float) -> bool:
    """Renew `owner`'s lease to last at least `seconds` more; False if it no longer holds the job."""
    return bool(await conn.fetchval(
        """UPDATE fulfilments SET lease_until = greatest(lease_until, now() + make_interval(secs => $3))
           WHERE order_id = $1 AND state = 'in_progress' AND lease_owner = $2 RETURNING true""",
        order_id, owner, seconds))


async def write_deadline(conn: asyncpg.Connection, transaction_id: str) -> datetime | None:
    """The latest deadline sent with a write of this operation: after it, no write of it can land at BOSS."""
    value: datetime | None = await conn.fetchval("SELECT write_deadline FROM operations WHERE transaction_id = $1",
                                                 transaction_id)
    return value


async def due_jobs(conn: asyncpg.Connection, limit: int) -> list[UUID]:
    rows = await conn.fetch(
        """SELECT order_id FROM fulfilments
           WHERE state IN ('pending', 'in_progress') AND next_attempt_at <= now()
             AND (lease_until IS NULL OR lease_until < now())
           ORDER BY next_attempt_at LIMIT $1""",
        limit,
    )
    return [r["order_id"] for r in rows]


_ATTEMPT = """
WITH a AS (
    INSERT INTO attempts (order_id, transaction_id, number, kind, outcome, provider_code, latency_ms, error)
    VALUES ($1, $2, (SELECT count(*) + 1 FROM attempts WHERE order_id = $1 AND kind = $3), $3, $4, $5, $6, $7)
), op AS (
    UPDATE operations SET state = $8, result_code = $5, boss_serial = $9
    WHERE transaction_id = $2 AND $8 <> 'pending'
)"""

# (writes are counted before they are sent, by `before_write`: the log counts status queries only)
_COUNT = """
UPDATE fulfilments SET status_queries = status_queries + CASE WHEN $3 = 'status_query' THEN 1 ELSE 0 END,
                       updated_at = now()
WHERE order_id = $1
RETURNING attempts
"""

# The attempt that decides the job: logged, and the outcome written with the event announcing it, in one
# statement. Nothing is written for the outcome if the job had already ended, or if this worker no longer holds
# it (its lease lapsed and another took over: that one decides).
_COUNT_AND_FINISH = """,
done AS (
    UPDATE fulfilments SET status_queries = status_queries + CASE WHEN $3 = 'status_query' THEN 1 ELSE 0 END,
                           state = $10, reason_code = $11, lease_owner = NULL, lease_until = NULL, updated_at = now()
    WHERE order_id = $1 AND state IN ('pending', 'in_progress') AND lease_owner = $17
    RETURNING attempts
), announced AS (
    INSERT INTO outbox (event_id, topic, key, event_type, envelope)
    SELECT $12, $13, $14, $15, $16 FROM done
)
SELECT attempts FROM done
"""


@dataclass(frozen=True, slots=True)
class JobEnd:
    """How a job ends: its state, our reason code, and the event that announces it."""

    state: str
    reason_code: str
    event: OutboxRow
    #: the worker ending it, which must still hold the job's lease
    owner: str


async def record_attempt(conn: asyncpg.Connection, *, order_id: UUID, transaction_id: str, kind: str, outcome: str,
                         provider_code: str, latency_ms: int, error: str, operation_state: str = "pending",
                         boss_serial: str = "", finish: JobEnd | None = None) -> int | None:
    """Log one call to BOSS (with what it settled about the operation), and with `finish`, end the job in
    the same statement. Returns the job's write-attempt count, or None if `finish` found the job ended."""
    args: list[object] = [order_id, transaction_id, kind, outcome, provider_code, latency_ms, error, operation_state,
                          boss_serial]
    if finish is None:
        count: int = await conn.fetchval(_ATTEMPT + "\n" + _COUNT, *args)
        return count
    e = finish.event
    result: int | None = await conn.fetchval(
        _ATTEMPT + _COUNT_AND_FINISH, *args, finish.state, finish.reason_code, e.event_id, e.topic, e.key,
        e.event_type, e.envelope, finish.owner)
    return result


_END = """
WITH done AS (
    UPDATE fulfilments SET state = $2, reason_code = $3, lease_owner = NULL, lease_until = NULL, updated_at = now()
    WHERE order_id = $1 AND state IN ('pending', 'in_progress') AND lease_owner = $9
    RETURNING attempts
), announced AS (
    INSERT INTO outbox (event_id, topic, key, event_type, envelope)
    SELECT $4, $5, $6, $7, $8 FROM done
)
SELECT attempts FROM done
"""


async def end_job(conn: asyncpg.Connection, order_id: UUID, finish: JobEnd) -> bool:
    """End the job with its outcome and event (no call decided it); False if it had already ended."""
    e = finish.event
    attempts = await conn.fetchval(_END, order_id, finish.state, finish.reason_code, e.event_id, e.topic, e.key,
                                   e.event_type, e.envelope, finish.owner)
    return attempts is not None


async def reschedule(conn: asyncpg.Connection, order_id: UUID, delay_seconds: float, reason_code: str,
                     owner: str) -> None:
    """Work on the job again after `delay_seconds` (the lease is given up), if `owner` still holds it."""
    await conn.execute(
        """UPDATE fulfilments SET next_attempt_at = now() + make_interval(secs => $2), reason_code = $3,
                                  lease_owner = NULL, lease_until = NULL, updated_at = now()
           WHERE order_id = $1 AND lease_owner = $4""",
        order_id, delay_seconds, reason_code, owner,
    )


async def jobs_with_operations(conn: asyncpg.Connection,
                               order_ids: list[UUID]) -> list[tuple[asyncpg.Record, list[asyncpg.Record]]]:
    """These orders' jobs, each with its operations."""
    jobs = await conn.fetch("SELECT * FROM fulfilments WHERE order_id = ANY($1::uuid[])", order_ids)
    ops: dict[UUID, list[asyncpg.Record]] = {}
    for op in await conn.fetch("SELECT * FROM operations WHERE order_id = ANY($1::uuid[])", order_ids):
        ops.setdefault(op["order_id"], []).append(op)
    return [(j, ops.get(j["order_id"], [])) for j in jobs]


async def get_job(conn: asyncpg.Connection, order_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM fulfilments WHERE order_id = $1", order_id)


async def attempts_of(conn: asyncpg.Connection, order_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM attempts WHERE order_id = $1 ORDER BY id", order_id)


async def stop(conn: asyncpg.Connection, order_id: UUID, actor: str,
               clock_skew_seconds: float = 1.0) -> tuple[asyncpg.Record, bool]:
    """Make sure no call to BOSS will ever be made for the order. Returns (the job, whether it may still be
    calling BOSS). A job that never sent a write and whose lease has lapsed is cancelled; an order never seen
    gets a cancelled placeholder (its request, arriving late, is then ignored); a job that sent writes, or
    holds a live lease, is left alone: a call may be in the air. A job that ended is busy until the last
    deadline sent with one of its writes (plus the clock skew) has passed: until then that write could land."""
    await conn.execute(
        """INSERT INTO fulfilments (order_id, channel_id, account_type, account_id, sku, requested_at, state,
                                    reason_code, cancelled_by)
           VALUES ($1, '', '', '', '', now(), 'cancelled', 'STOPPED_BEFORE_FULFILMENT', $2)
           ON CONFLICT (order_id) DO NOTHING""", order_id, actor)
    job = await conn.fetchrow("SELECT * FROM fulfilments WHERE order_id = $1 FOR UPDATE", order_id)
    landing = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM operations WHERE order_id = $1
                          AND write_deadline > now() - make_interval(secs => $2))""", order_id, clock_skew_seconds)
    if job["state"] not in ("pending", "in_progress"):
        return job, landing
    sent = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM operations WHERE order_id = $1 AND write_deadline IS NOT NULL)", order_id)
    idle = job["attempts"] == 0 and not sent and not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM attempts WHERE order_id = $1)", order_id) and (
        job["lease_until"] is None or job["lease_until"] < await conn.fetchval("SELECT now()"))
    if not idle:
        return job, True
    job = await conn.fetchrow(
        """UPDATE fulfilments SET state = 'cancelled', reason_code = 'STOPPED_BEFORE_FULFILMENT', cancelled_by = $2,
                                  lease_owner = NULL, lease_until = NULL, updated_at = now()
           WHERE order_id = $1 RETURNING *""", order_id, actor)
    return job, False
