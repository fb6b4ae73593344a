"""SQL of the order core (asyncpg). Every function takes the connection it runs on, so the caller decides
the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from asyncpg.cursor import CursorFactory

from orders.domain.accounts import Account, AccountType
from orders.domain.catalog import Product, ProductKind
from orders.domain.models import Order, Payment, PaymentMethod, StatusChange
from orders.domain.state import Status, Transition
from orders.domain.statement import STATEMENT_STATUSES
from topup_platform.outbox import OutboxRow

_ORDER_COLUMNS = """order_id, channel_id, channel_order_id, account_type, account_id, sku, face_value_fen, price_fen,
    payment_method, payment_transaction_id, paid_fen, payer_account, notify_url, status, status_reason_code,
    risk_decision_id, created_at, updated_at, voucher_card_number"""


def _order(row: asyncpg.Record) -> Order:
    return Order(
        order_id=row["order_id"],
        channel_id=row["channel_id"],
        channel_order_id=row["channel_order_id"],
        account=Account(AccountType(row["account_type"]), row["account_id"]),
        sku=row["sku"],
        face_value_fen=row["face_value_fen"],
        price_fen=row["price_fen"],
        payment=Payment(PaymentMethod(row["payment_method"]), row["payment_transaction_id"], row["paid_fen"],
                        row["payer_account"]),
        status=Status(row["status"]),
        status_reason_code=row["status_reason_code"],
        notify_url=row["notify_url"],
        risk_decision_id=row["risk_decision_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        voucher_card_number=row["voucher_card_number"] or "",
    )


# --- catalog -------------------------------------------------------------------------------------------

async def load_products(conn: asyncpg.Connection) -> dict[str, tuple[Product, int]]:
    rows = await conn.fetch(
        "SELECT sku, kind, name, account_type, face_value_fen, data_mb, validity_days, pack_code, list_price_fen,"
        " active FROM products"
    )
    return {
        r["sku"]: (
            Product(r["sku"], ProductKind(r["kind"]), r["name"], r["face_value_fen"], r["data_mb"],
                    r["validity_days"], r["pack_code"], AccountType(r["account_type"]), r["active"]),
            r["list_price_fen"],
        )
        for r in rows
    }


async def load_channel_prices(conn: asyncpg.Connection) -> dict[tuple[str, str], int]:
    rows = await conn.fetch("SELECT channel_id, sku, price_fen FROM channel_prices WHERE active")
    return {(r["channel_id"], r["sku"]): r["price_fen"] for r in rows}


async def load_segments(conn: asyncpg.Connection) -> dict[str, str]:
    return {r["segment"]: r["carrier"] for r in await conn.fetch("SELECT segment, carrier FROM carrier_segments")}


async def ported_carrier(conn: asyncpg.Connection, number: str) -> str | None:
    value: str | None = await conn.fetchval("SELECT carrier FROM ported_numbers WHERE number = $1", number)
    return value


async def upsert_ported(conn: asyncpg.Connection, items: list[tuple[str, str, datetime | None]]) -> None:
    """Numbers ported between carriers, as BOSS publishes them; a later porting wins."""
    await conn.execute(
        """INSERT INTO ported_numbers (number, carrier, ported_at)
           SELECT n, c, coalesce(p, now()) FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS x(n, c, p)
           ON CONFLICT (number) DO UPDATE SET carrier = EXCLUDED.carrier, ported_at = EXCLUDED.ported_at,
                                              synced_at = now()
           WHERE EXCLUDED.ported_at >= ported_numbers.ported_at""",
        [i[0] for i in items], [i[1] for i in items], [i[2] for i in items],
    )


async def seed_list_prices(conn: asyncpg.Connection, channel_id: str) -> None:
    """Give a channel every active SKU at its list price, keeping prices it already has."""
    await conn.execute(
        """INSERT INTO channel_prices (channel_id, sku, price_fen)
           SELECT $1, sku, list_price_fen FROM products WHERE active
           ON CONFLICT (channel_id, sku) DO NOTHING""",
        channel_id,
    )


# --- orders --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NewOrder:
    """Everything written when an order is created."""

    order: Order
    change: StatusChange
    request_hash: bytes
    risk_outcome: str
    first_response: bytes
    #: the carrier the account's number segment was issued to (a ported-number override may change it)
    segment_carrier: str | None
    events: list[OutboxRow]


# One statement for a whole batch of new orders: one round trip and one commit. Per order: the ported-number
# check (携号转网), the order, its first history row and its events, in their order. An order is written only
# if its account is served, its (channel_id, channel_order_id) is new and its payment backs no other order (the
# unique index orders_one_order_per_payment_part: a voucher order, whose card is its payment, takes no part);
# of two in one batch with the same channel_order_id or the same payment, the second is left unwritten (it is
# then answered as a replay of the first, or refused).
_CREATE_ORDERS = f"""
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
                         $8::bigint[], $9::text[], $10::text[], $11::bigint[], $12::text[], $13::text[], $14::text[],
                         $15::text[], $16::text[], $17::timestamptz[], $18::timestamptz[], $19::bytea[], $20::text[],
                         $21::bytea[], $22::text[], $23::text[], $24::text[], $25::text[], $26::text[],
                         $27::text[])
        AS i(order_id, channel_id, channel_order_id, account_type, account_id, sku, face_value_fen, price_fen,
             payment_method, payment_transaction_id, paid_fen, payer_account, notify_url, status, status_reason_code,
             risk_decision_id, created_at, updated_at, request_hash, risk_outcome, first_response, ported_key,
             segment_carrier, transition, actor_kind, actor_id, voucher_card_number)
), routed AS (
    SELECT i.*, coalesce(p.carrier, i.segment_carrier) AS carrier
    FROM input i LEFT JOIN ported_numbers p ON p.number = i.ported_key
), o AS (
    INSERT INTO orders ({_ORDER_COLUMNS}, request_hash, risk_outcome, first_response, payment_part)
    SELECT {_ORDER_COLUMNS}, request_hash, risk_outcome, first_response,
           CASE WHEN payment_method = 'voucher' THEN NULL ELSE 0 END
    FROM routed WHERE carrier = 'unicom'
    ON CONFLICT DO NOTHING
    RETURNING order_id
), h AS (
    INSERT INTO order_history (order_id, from_status, to_status, transition, reason_code, reason, actor_kind,
                               actor_id, at)
    SELECT r.order_id, NULL, r.status, r.transition, r.status_reason_code, '', r.actor_kind, r.actor_id, r.created_at
    FROM routed r JOIN o ON o.order_id = r.order_id
), e AS (
    INSERT INTO outbox (event_id, topic, key, event_type, envelope)
    SELECT ev.event_id, ev.topic, ev.key, ev.event_type, ev.envelope
    FROM unnest($28::uuid[], $29::uuid[], $30::text[], $31::text[], $32::text[], $33::bytea[]) WITH ORDINALITY
        AS ev(order_id, event_id, topic, key, event_type, envelope, n)
    JOIN o ON o.order_id = ev.order_id
    ORDER BY ev.n
)
SELECT r.order_id, r.carrier, o.order_id IS NOT NULL AS inserted FROM routed r LEFT JOIN o ON o.order_id = r.order_id
"""


async def create_orders(conn: asyncpg.Connection, new: list[NewOrder]) -> dict[UUID, tuple[bool, str | None]]:
    """Create the orders with their history and events. Returns, per order id, (written, the carrier serving
    the account); not written means the account is not served, or the channel_order_id exists already, or the
    payment backs another order (see `order_using_payment`)."""
    columns: list[list[object]] = [[] for _ in range(27)]
    events: list[list[object]] = [[] for _ in range(6)]
    for n in new:
        o = n.order
        row = (o.order_id, o.channel_id, o.channel_order_id, o.account.type.value, o.account.id, o.sku,
               o.face_value_fen, o.price_fen, o.payment.method.value, o.payment.transaction_id, o.payment.paid_fen,
               o.payment.payer_account, o.notify_url, o.status.value, o.status_reason_code, o.risk_decision_id,
               o.created_at, o.updated_at, n.request_hash, n.risk_outcome, n.first_response,
               o.account.id if o.account.type is AccountType.MOBILE else None, n.segment_carrier,
               n.change.transition.value, n.change.actor_kind, n.change.actor_id, o.voucher_card_number or None)
        for column, value in zip(columns, row, strict=True):
            column.append(value)
        for ev in n.events:
            for ev_column, cell in zip(events, (o.order_id, ev.event_id, ev.topic, ev.key, ev.event_type,
                                                ev.envelope), strict=True):
                ev_column.append(cell)
    rows = await conn.fetch(_CREATE_ORDERS, *columns, *events)
    return {r["order_id"]: (r["inserted"], r["carrier"]) for r in rows}


async def first_response(
    conn: asyncpg.Connection, channel_id: str, channel_order_id: str
) -> tuple[bytes, bytes] | None:
    """(request_hash, first_response) of an existing order, or None."""
    row = await conn.fetchrow(
        "SELECT request_hash, first_response FROM orders WHERE channel_id = $1 AND channel_order_id = $2",
        channel_id, channel_order_id,
    )
    return (row["request_hash"], row["first_response"]) if row else None


async def order_using_payment(conn: asyncpg.Connection, channel_id: str, payment: Payment) -> UUID | None:
    """The order of this channel that an ordinary payment backs, if any (another channel's order is not named)."""
    value: UUID | None = await conn.fetchval(
        """SELECT order_id FROM orders WHERE payment_method = $2 AND payment_transaction_id = $3
           AND payment_part = 0 AND channel_id = $1""", channel_id, payment.method.value, payment.transaction_id)
    return value


async def get_order(conn: asyncpg.Connection, order_id: UUID, *, for_update: bool = False) -> Order | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE order_id = $1{lock}", order_id)
    return _order(row) if row else None


async def get_by_channel_order_id(conn: asyncpg.Connection, channel_id: str, channel_order_id: str) -> Order | None:
    row = await conn.fetchrow(
        f"SELECT {_ORDER_COLUMNS} FROM orders WHERE channel_id = $1 AND channel_order_id = $2",
        channel_id, channel_order_id,
    )
    return _order(row) if row else None


async def lock_orders(conn: asyncpg.Connection, order_ids: list[UUID]) -> dict[UUID, Order]:
    """Lock these orders (in id order, so two lockers never deadlock) and read them."""
    rows = await conn.fetch(
        f"SELECT {_ORDER_COLUMNS} FROM orders WHERE order_id = ANY($1::uuid[]) ORDER BY order_id FOR UPDATE",
        order_ids,
    )
    return {r["order_id"]: _order(r) for r in rows}


_SAVE_TRANSITIONS = """
WITH o AS (
    UPDATE orders SET status = v.status, status_reason_code = v.reason_code, updated_at = v.at
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) AS v(order_id, status, reason_code, at)
    WHERE orders.order_id = v.order_id
), h AS (
    INSERT INTO order_history (order_id, from_status, to_status, transition, reason_code, reason, actor_kind,
                               actor_id, at)
    SELECT a, b, c, d, e, f, g, h, i
    FROM unnest($5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                $13::timestamptz[]) WITH ORDINALITY AS x(a, b, c, d, e, f, g, h, i, n)
    ORDER BY n
)
INSERT INTO outbox (event_id, topic, key, event_type, envelope)
SELECT event_id, topic, key, event_type, envelope
FROM unnest($14::uuid[], $15::text[], $16::text[], $17::text[], $18::bytea[]) WITH ORDINALITY
    AS e(event_id, topic, key, event_type, envelope, n)
ORDER BY n
"""


async def save_transitions(conn: asyncpg.Connection, final: list[Order],
                           changes: list[tuple[UUID, StatusChange]], events: list[OutboxRow]) -> None:
    """Many transitions in one statement: each order's final status, every history row and every event, in
    order (the caller holds the row locks)."""
    await conn.execute(
        _SAVE_TRANSITIONS,
        [o.order_id for o in final], [o.status.value for o in final], [o.status_reason_code for o in final],
        [o.updated_at for o in final],
        [i for i, _ in changes], [c.from_status.value if c.from_status else None for _, c in changes],
        [c.to_status.value for _, c in changes], [c.transition.value for _, c in changes],
        [c.reason_code for _, c in changes], [c.reason for _, c in changes], [c.actor_kind for _, c in changes],
        [c.actor_id for _, c in changes], [c.at for _, c in changes],
        [e.event_id for e in events], [e.topic for e in events], [e.key for e in events],
        [e.event_type for e in events], [e.envelope for e in events],
    )


_TRANSITION = """
WITH o AS (
    UPDATE orders SET status = $2, status_reason_code = $3, updated_at = $4 WHERE order_id = $1 RETURNING order_id
), h AS (
    INSERT INTO order_history (order_id, from_status, to_status, transition, reason_code, reason, actor_kind,
                               actor_id, at)
    SELECT order_id, $5, $2, $6, $3, $7, $8, $9, $4 FROM o
)
INSERT INTO outbox (event_id, topic, key, event_type, envelope) SELECT $10, $11, $12, $13, $14 FROM o
"""


async def save_transition(conn: asyncpg.Connection, order: Order, change: StatusChange, event: OutboxRow) -> None:
    """The new status, its history row and its event, in one statement (the caller holds the row lock)."""
    await conn.execute(
        _TRANSITION, order.order_id, order.status.value, order.status_reason_code, order.updated_at,
        change.from_status.value if change.from_status else None, change.transition.value, change.reason,
        change.actor_kind, change.actor_id, event.event_id, event.topic, event.key, event.event_type, event.envelope,
    )

# --- the watchdog (self-healing) ----------------------------------------------------------------------

async def outbox_stalled(conn: asyncpg.Connection, older_than: datetime) -> bool:
    """Whether an event written before `older_than` is still unpublished: the broker cannot be reached (or the
    relay is down), so whatever is written now would only queue up behind it."""
    oldest: datetime | None = await conn.fetchval("SELECT created_at FROM outbox ORDER BY id LIMIT 1")
    return oldest is not None and oldest < older_than


# Orders whose next step is another service's and that have made no progress: PENDING and PROCESSING (the BOSS
# adapter's), UNDER_REVIEW because the stuck sweeper flagged them (the adapter's late word still moves them on),
# paid FAILED and REJECTED ones (the refund service's). Due: `after` seconds after their last progress, then
# twice as long after each re-drive, up to `cap`. Locked (SKIP LOCKED: another replica takes others).
_REDRIVE_DUE = f"""
SELECT {_ORDER_COLUMNS} FROM orders
WHERE (status IN ('PENDING', 'PROCESSING')
       OR (status = 'UNDER_REVIEW' AND status_reason_code LIKE 'STUCK\\_%')
       OR (status IN ('FAILED', 'REJECTED') AND payment_method <> 'voucher' AND paid_fen > 0))
  AND updated_at > $1
  AND CASE WHEN redriven_at IS NULL OR redriven_at < updated_at THEN updated_at + make_interval(secs => $2)
           ELSE redriven_at + make_interval(secs => least($2 * 2 ^ (redrives - 1), $3)) END < now()
ORDER BY updated_at LIMIT $4
FOR UPDATE SKIP LOCKED
"""


async def lock_redrive_due(conn: asyncpg.Connection, *, after: float, cap: float, since: datetime,
                           limit: int) -> list[Order]:
    """Orders due for a re-drive (see `_REDRIVE_DUE`) that progressed after `since`, locked until the end of the
    caller's transaction."""
    return [_order(r) for r in await conn.fetch(_REDRIVE_DUE, since, after, cap, limit)]


async def record_redrives(conn: asyncpg.Connection, order_ids: list[UUID], events: list[OutboxRow]) -> None:
    """The re-drives and the events that ask again, in one statement: each order's re-drives counted since its
    last progress."""
    await conn.execute(
        """WITH r AS (
               UPDATE orders SET redrives = CASE WHEN redriven_at IS NULL OR redriven_at < updated_at THEN 1
                                                 ELSE redrives + 1 END,
                                 redriven_at = now()
               WHERE order_id = ANY($1::uuid[])
           )
           INSERT INTO outbox (event_id, topic, key, event_type, envelope)
           SELECT event_id, topic, key, event_type, envelope
           FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::bytea[]) WITH ORDINALITY
               AS e(event_id, topic, key, event_type, envelope, n)
           ORDER BY n""",
        order_ids, [e.event_id for e in events], [e.topic for e in events], [e.key for e in events],
        [e.event_type for e in events], [e.envelope for e in events])


@dataclass(frozen=True, slots=True)
class OrderFilter:
    channel_id: str = ""
    channels: tuple[str, ...] = ()
    account_type: str = ""
    account_id: str = ""
    statuses: tuple[str, ...] = ()
    skus: tuple[str, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None


async def list_orders(conn: asyncpg.Connection, f: OrderFilter, limit: int,
                      after: tuple[datetime, UUID] | None) -> list[Order]:
    """Newest first, keyset-paginated on (created_at, order_id) after `after`; every filter optional."""
    where, args = [], []

    def arg(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    if f.channel_id:
        where.append(f"channel_id = {arg(f.channel_id)}")
    if f.channels:
        where.append(f"channel_id = ANY({arg(list(f.channels))}::text[])")
    if f.account_type:
        where.append(f"account_type = {arg(f.account_type)} AND account_id = {arg(f.account_id)}")
    if f.statuses:
        where.append(f"status = ANY({arg(list(f.statuses))}::text[])")
    if f.skus:
        where.append(f"sku = ANY({arg(list(f.skus))}::text[])")
    if f.created_from:
        where.append(f"created_at >= {arg(f.created_from)}")
    if f.created_to:
        where.append(f"created_at < {arg(f.created_to)}")
    if after:
        where.append(f"(created_at, order_id) < ({arg(after[0])}, {arg(after[1])})")
    sql = (f"SELECT {_ORDER_COLUMNS} FROM orders {'WHERE ' + ' AND '.join(where) if where else ''}"
           f" ORDER BY created_at DESC, order_id DESC LIMIT {arg(limit)}")
    return [_order(r) for r in await conn.fetch(sql, *args)]


async def load_histories(conn: asyncpg.Connection, order_ids: list[UUID]) -> dict[UUID, list[StatusChange]]:
    rows = await conn.fetch(
        """SELECT order_id, from_status, to_status, transition, reason_code, reason, actor_kind, actor_id, at
           FROM order_history WHERE order_id = ANY($1::uuid[]) ORDER BY id""",
        order_ids,
    )
    out: dict[UUID, list[StatusChange]] = {}
    for r in rows:
        out.setdefault(r["order_id"], []).append(_change(r))
    return out


def _change(r: asyncpg.Record) -> StatusChange:
    return StatusChange(Status(r["from_status"]) if r["from_status"] else None, Status(r["to_status"]),
                        Transition(r["transition"]), r["reason_code"], r["reason"], r["actor_kind"], r["actor_id"],
                        r["at"])


async def channel_prices(conn: asyncpg.Connection, channel_id: str) -> list[tuple[str, int]]:
    rows = await conn.fetch(
        "SELECT sku, price_fen FROM channel_prices WHERE channel_id = $1 AND active ORDER BY sku", channel_id)
    return [(r["sku"], r["price_fen"]) for r in rows]


async def replace_channel_prices(conn: asyncpg.Connection, channel_id: str, prices: list[tuple[str, int]]) -> None:
    """The channel's whole list: listed SKUs at these prices, every other SKU no longer sold by it."""
    await conn.execute(
        """WITH given AS (SELECT * FROM unnest($2::text[], $3::bigint[]) AS g(sku, price_fen)),
                up AS (INSERT INTO channel_prices (channel_id, sku, price_fen)
                       SELECT $1, sku, price_fen FROM given
                       ON CONFLICT (channel_id, sku) DO UPDATE SET price_fen = EXCLUDED.price_fen, active = true,
                                                                   updated_at = now())
           UPDATE channel_prices SET active = false, updated_at = now()
           WHERE channel_id = $1 AND active AND sku NOT IN (SELECT sku FROM given)""",
        channel_id, [p[0] for p in prices], [p[1] for p in prices],
    )


async def load_history(conn: asyncpg.Connection, order_id: UUID) -> list[StatusChange]:
    return (await load_histories(conn, [order_id])).get(order_id, [])


async def review_decision(conn: asyncpg.Connection, decision_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM review_decisions WHERE decision_id = $1", decision_id)


async def record_review_decision(conn: asyncpg.Connection, decision_id: str, order_id: UUID, decision: str,
                                 actor_id: str) -> None:
    await conn.execute(
        "INSERT INTO review_decisions (decision_id, order_id, decision, actor_id) VALUES ($1, $2, $3, $4)",
        decision_id, order_id, decision, actor_id)


async def entered_review_by(conn: asyncpg.Connection, order_id: UUID) -> str:
    """The transition that last brought the order UNDER_REVIEW."""
    return await conn.fetchval(
        """SELECT transition FROM order_history WHERE order_id = $1 AND to_status = 'UNDER_REVIEW'
           ORDER BY id DESC LIMIT 1""", order_id) or ""


async def stuck_orders(conn: asyncpg.Connection, older_than: datetime, limit: int) -> list[UUID]:
    """Orders that made no progress in PENDING or PROCESSING since `older_than`."""
    return [r["order_id"] for r in await conn.fetch(
        """SELECT order_id FROM orders WHERE status IN ('PENDING', 'PROCESSING') AND updated_at < $1
           ORDER BY updated_at LIMIT $2""", older_than, limit)]


# --- statements ----------------------------------------------------------------------------------------

#: per order of the channel, the last transition of the day into a status a channel is told of, in the order
#: the orders got there. The statuses are written out (not a parameter) so that the planner can use the partial
#: index order_history_statement, whose predicate names the same ones (migration 0006).
_STATEMENT_STATUSES = ", ".join(f"'{s.value}'" for s in STATEMENT_STATUSES)
_STATEMENT = f"""
SELECT o.order_id, o.channel_order_id, o.account_type, o.account_id, o.sku, o.payment_method, o.paid_fen,
       f.to_status, f.reason_code, o.created_at, f.at AS final_at
FROM (SELECT DISTINCT ON (h.order_id) h.order_id, h.to_status, h.reason_code, h.at
      FROM order_history h
      WHERE h.at >= $2 AND h.at < $3 AND h.to_status IN ({_STATEMENT_STATUSES})
      ORDER BY h.order_id, h.id DESC) f
JOIN orders o ON o.order_id = f.order_id
WHERE o.channel_id = $1
ORDER BY f.at, o.order_id
"""


def statement_rows(conn: asyncpg.Connection, channel_id: str, start: datetime, end: datetime) -> CursorFactory:
    """The day's lines as a server-side cursor (the caller holds the transaction that reads them)."""
    return conn.cursor(_STATEMENT, channel_id, start, end, prefetch=500)
