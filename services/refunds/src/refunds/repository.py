"""SQL of the refunds schema: refunds and their events, the calendar, review cases and their actions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from topup_platform.ids import new_id

OPEN_REFUND = ("REQUESTED", "SUBMITTED")
UNSETTLED = ("REQUESTED", "SUBMITTED", "FAILED")


# --- refunds -------------------------------------------------------------------------------------------


async def insert_refund(conn: asyncpg.Connection, *, order_id: UUID, channel_id: str, payment_method: str,
                        transaction_id: str, amount_fen: int, reason_code: str, confirmed_at: datetime,
                        deadline_at: datetime, trace_context: Mapping[str, str]) -> asyncpg.Record | None:
    """The one refund of an order; None when the order already has it (a redelivered or repeated event)."""
    return await conn.fetchrow(
        """INSERT INTO refunds (refund_id, order_id, channel_id, payment_method, payment_transaction_id, amount_fen,
                                status, reason_code, failure_confirmed_at, deadline_at, next_attempt_at, trace_context)
           VALUES ($1, $2, $3, $4, $5, $6, 'REQUESTED', $7, $8, $9, now(), $10)
           ON CONFLICT (order_id) DO NOTHING RETURNING *""",
        new_id(), order_id, channel_id, payment_method, transaction_id, amount_fen, reason_code, confirmed_at,
        deadline_at, dict(trace_context))


async def lock_payment(conn: asyncpg.Connection, payment_method: str, transaction_id: str,
                       paid_fen: int) -> asyncpg.Record:
    """The payment's ledger row, locked until the end of the transaction (every refund decision of one payment
    is taken in turn); made with `paid_fen` when this is the payment's first refund."""
    return await conn.fetchrow(
        """INSERT INTO payments AS p (payment_method, transaction_id, paid_fen) VALUES ($1, $2, $3)
           ON CONFLICT (payment_method, transaction_id) DO UPDATE SET updated_at = p.updated_at
           RETURNING *""", payment_method, transaction_id, paid_fen)


async def add_refunded(conn: asyncpg.Connection, payment_method: str, transaction_id: str, amount_fen: int) -> None:
    """Count a refund made (positive) or cancelled (negative) against its payment."""
    await conn.execute(
        """UPDATE payments SET refunded_fen = refunded_fen + $3, updated_at = now()
           WHERE payment_method = $1 AND transaction_id = $2""", payment_method, transaction_id, amount_fen)


async def get_refund(conn: asyncpg.Connection, *, refund_id: UUID | None = None, order_id: UUID | None = None,
                     for_update: bool = False) -> asyncpg.Record | None:
    key, value = ("refund_id", refund_id) if refund_id is not None else ("order_id", order_id)
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM refunds WHERE {key} = $1{lock}", value)


async def record_event(conn: asyncpg.Connection, refund_id: UUID, from_status: str, to_status: str, what: str,
                       detail: str = "", actor: str = "refunds") -> None:
    await conn.execute(
        """INSERT INTO refund_events (refund_id, from_status, to_status, what, detail, actor)
           VALUES ($1, $2, $3, $4, $5, $6)""", refund_id, from_status, to_status, what, detail[:1000], actor)


async def events_of(conn: asyncpg.Connection, refund_id: UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT * FROM refund_events WHERE refund_id = $1 ORDER BY id", refund_id))


async def update_refund(conn: asyncpg.Connection, refund_id: UUID, *, expect: Sequence[str],
                        **values: Any) -> asyncpg.Record | None:
    """Change a refund if it is still in one of the `expect` statuses (so a concurrent settlement, notice or
    staff action wins cleanly); None when it was not."""
    columns = list(values)
    assignments = ", ".join(f"{c} = ${i + 3}" for i, c in enumerate(columns))
    return await conn.fetchrow(
        f"""UPDATE refunds SET {assignments}, updated_at = now()
            WHERE refund_id = $1 AND status = ANY($2::text[]) RETURNING *""",
        refund_id, list(expect), *values.values())


async def lease_due(conn: asyncpg.Connection, owner: str, lease_seconds: float, limit: int) -> list[asyncpg.Record]:
    """Claim refunds whose next step is due (a submission or a status query), one holder at a time; each with
    `payment_paid_fen`, what its payment paid (providers such as WeChat Pay want it with the refund)."""
    return list(await conn.fetch(
        """UPDATE refunds SET lease_owner = $1, lease_until = now() + make_interval(secs => $2)
           WHERE refund_id IN (
               SELECT refund_id FROM refunds
               WHERE status IN ('REQUESTED', 'SUBMITTED') AND next_attempt_at <= now()
                 AND (lease_until IS NULL OR lease_until < now())
               ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
           RETURNING *, (SELECT p.paid_fen FROM payments p WHERE p.payment_method = refunds.payment_method
                                                           AND p.transaction_id = refunds.payment_transaction_id)
                        AS payment_paid_fen""", owner, lease_seconds, limit))


async def settled_between(conn: asyncpg.Connection, since: datetime, until: datetime) -> list[asyncpg.Record]:
    """Refunds settled in [since, until)."""
    return list(await conn.fetch(
        "SELECT * FROM refunds WHERE status = 'SETTLED' AND settled_at >= $1 AND settled_at < $2", since, until))


async def list_refunds(conn: asyncpg.Connection, *, statuses: Sequence[str], due_before: datetime | None,
                       channel_id: str, after: tuple[datetime, UUID] | None, limit: int) -> list[asyncpg.Record]:
    """Soonest deadline first (keyset on deadline, refund id)."""
    clauses, args = ["TRUE"], []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if statuses:
        clauses.append(f"status = ANY({arg(list(statuses))}::text[])")
    if due_before is not None:
        clauses.append(f"status = ANY({arg(list(UNSETTLED))}::text[]) AND deadline_at < {arg(due_before)}")
    if channel_id:
        clauses.append(f"channel_id = {arg(channel_id)}")
    if after is not None:
        clauses.append(f"(deadline_at, refund_id) > ({arg(after[0])}, {arg(after[1])})")
    return list(await conn.fetch(
        f"SELECT * FROM refunds WHERE {' AND '.join(clauses)} ORDER BY deadline_at, refund_id LIMIT {arg(limit)}",
        *args))


async def mark_breaches(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    """Refunds past their deadline and not settled, not yet counted: counted now, exactly once."""
    return list(await conn.fetch(
        """UPDATE refunds SET deadline_breached_at = $1
           WHERE status IN ('REQUESTED', 'SUBMITTED', 'FAILED') AND deadline_at < $1 AND deadline_breached_at IS NULL
           RETURNING *""", now))


async def desk_figures(conn: asyncpg.Connection, now: datetime, due_soon_until: datetime) -> asyncpg.Record:
    return await conn.fetchrow(
        """SELECT (SELECT count(*) FROM refunds WHERE status IN ('REQUESTED', 'SUBMITTED', 'FAILED')
                      AND deadline_at >= $1 AND deadline_at < $2) AS due_soon,
                  (SELECT count(*) FROM review_cases WHERE status <> 'RESOLVED') AS queue,
                  (SELECT min(opened_at) FROM review_cases WHERE status <> 'RESOLVED') AS oldest""",
        now, due_soon_until)


# --- the calendar --------------------------------------------------------------------------------------


async def calendar_years(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT * FROM calendar_years ORDER BY year"))


async def save_calendar_year(conn: asyncpg.Connection, year: int, holidays: Sequence[date],
                             working_weekends: Sequence[date], by: str) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO calendar_years (year, holidays, working_weekends, updated_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT (year) DO UPDATE SET holidays = $2, working_weekends = $3, updated_by = $4,
                                            updated_at = now()
           RETURNING *""", year, sorted(holidays), sorted(working_weekends), by)


# --- review cases --------------------------------------------------------------------------------------


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


async def open_case(conn: asyncpg.Connection, *, kind: str, subject: str, path: str, order_id: UUID | None = None,
                    refund_id: UUID | None = None, channel_id: str = "", amount_fen: int = 0, reason_code: str = "",
                    detail: str = "", actor: str = "refunds") -> UUID | None:
    """Open a case unless one is open for the same subject already (None then)."""
    case_id = await conn.fetchval(
        """INSERT INTO review_cases (case_id, kind, subject, path, order_id, refund_id, channel_id, amount_fen,
                                     reason_code, detail)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (kind, subject) WHERE status <> 'RESOLVED' DO NOTHING RETURNING case_id""",
        new_id(), kind, subject, path, order_id, refund_id, channel_id, amount_fen, reason_code, detail[:2000])
    if case_id is not None:
        await record_action(conn, case_id, "opened", "service", actor, reason=f"{reason_code}: {detail}"[:2000])
    return case_id


async def record_action(conn: asyncpg.Connection, case_id: UUID, action: str, actor_kind: str, actor_id: str, *,
                        role: str = "", reason: str = "", before: Any = None, after: Any = None) -> None:
    await conn.execute(
        """INSERT INTO review_actions (action_id, case_id, action, actor_kind, actor_id, role, reason, before, after)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)""",
        new_id(), case_id, action, actor_kind, actor_id, role, reason, _json(before), _json(after))


async def get_case(conn: asyncpg.Connection, case_id: UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT * FROM review_cases WHERE case_id = $1{' FOR UPDATE' if for_update else ''}",
                               case_id)


async def order_had_case(conn: asyncpg.Connection, kind: str, order_id: UUID) -> bool:
    """Whether a case of this kind was ever opened for the order (open or resolved)."""
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM review_cases WHERE order_id = $2 AND kind = $1)", kind, order_id))


async def open_case_for(conn: asyncpg.Connection, kind: str, subject: str, *,
                        for_update: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT * FROM review_cases WHERE kind = $1 AND subject = $2 AND status <> 'RESOLVED'
            {'FOR UPDATE' if for_update else ''}""", kind, subject)


async def actions_of(conn: asyncpg.Connection, case_id: UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT * FROM review_actions WHERE case_id = $1 ORDER BY at, action_id", case_id))


async def change_case(conn: asyncpg.Connection, case_id: UUID, **values: Any) -> asyncpg.Record:
    columns = list(values)
    assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(columns))
    return await conn.fetchrow(
        f"UPDATE review_cases SET {assignments}, version = version + 1 WHERE case_id = $1 RETURNING *",
        case_id, *values.values())


async def list_cases(conn: asyncpg.Connection, *, status: str, kind: str, assignee: str, order_id: UUID | None,
                     after: tuple[datetime, UUID] | None, limit: int) -> list[asyncpg.Record]:
    """Open cases oldest first (the queue); otherwise newest first."""
    clauses, args = ["TRUE"], []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    oldest_first = status == "OPEN"
    if status == "OPEN":
        clauses.append("status <> 'RESOLVED'")
    elif status:
        clauses.append(f"status = {arg(status)}")
    if kind:
        clauses.append(f"kind = {arg(kind)}")
    if assignee:
        clauses.append(f"assignee = {arg(assignee)}")
    if order_id is not None:
        clauses.append(f"order_id = {arg(order_id)}")
    if after is not None:
        op = ">" if oldest_first else "<"
        clauses.append(f"(opened_at, case_id) {op} ({arg(after[0])}, {arg(after[1])})")
    order = "opened_at, case_id" if oldest_first else "opened_at DESC, case_id DESC"
    return list(await conn.fetch(
        f"SELECT * FROM review_cases WHERE {' AND '.join(clauses)} ORDER BY {order} LIMIT {arg(limit)}", *args))
