"""SQL of voucher cards: batches, cards, their audit trail."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from orders.domain.vouchers import CardTransition, sources, target


async def next_batch_no(conn: asyncpg.Connection) -> int:
    value: int = await conn.fetchval("SELECT nextval('voucher_batch_no')")
    return value


async def insert_batch(conn: asyncpg.Connection, *, batch_id: UUID, batch_no: int, sku: str, face_value_fen: int,
                       count: int, expires_at: datetime, pin_key_id: str, note: str, created_by: str) -> None:
    await conn.execute(
        """INSERT INTO voucher_batches (batch_id, batch_no, sku, face_value_fen, count, expires_at, pin_key_id, note,
                                        created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        batch_id, batch_no, sku, face_value_fen, count, expires_at, pin_key_id, note, created_by,
    )


async def copy_cards(conn: asyncpg.Connection, cards: list[tuple[str, UUID, int, bytes, str, datetime]],
                     actor_kind: str, actor_id: str) -> None:
    """Write a batch's cards with COPY (100,000 in about a second), and the creation of each in the audit."""
    await conn.copy_records_to_table(
        "vouchers", records=cards, columns=["card_number", "batch_id", "serial", "pin_hash", "state", "expires_at"])
    await conn.copy_records_to_table(
        "voucher_history", records=[(c[0], c[4], "create", actor_kind, actor_id) for c in cards],
        columns=["card_number", "to_state", "transition", "actor_kind", "actor_id"])


async def get_batch(conn: asyncpg.Connection, batch_id: UUID) -> tuple[asyncpg.Record, dict[str, int]] | None:
    batch = await conn.fetchrow("SELECT * FROM voucher_batches WHERE batch_id = $1", batch_id)
    if batch is None:
        return None
    rows = await conn.fetch("SELECT state, count(*) AS n FROM vouchers WHERE batch_id = $1 GROUP BY state", batch_id)
    return batch, {r["state"]: r["n"] for r in rows}


_CHANGE = """
WITH sel AS (
    SELECT card_number, state FROM vouchers
    WHERE batch_id = $1 AND card_number BETWEEN $2 AND $3
    FOR UPDATE
), upd AS (
    UPDATE vouchers v SET state = $4, state_changed_at = now()
    FROM sel
    WHERE v.card_number = sel.card_number AND sel.state = ANY($5::text[]) AND ($10 OR v.expires_at > now())
    RETURNING v.card_number, sel.state AS from_state
), h AS (
    INSERT INTO voucher_history (card_number, from_state, to_state, transition, actor_kind, actor_id, reason)
    SELECT card_number, from_state, $4, $6, $7, $8, $9 FROM upd
)
SELECT (SELECT count(*) FROM upd) AS changed, (SELECT count(*) FROM sel) AS selected
"""


async def change_cards(conn: asyncpg.Connection, batch_id: UUID, first: str, last: str,
                       transition: CardTransition, actor_kind: str, actor_id: str, reason: str) -> tuple[int, int]:
    """Apply a transition to the cards of a batch in [first, last] that allow it (an expired card can only be
    voided or expired). Returns (changed, selected)."""
    allow_expired = transition in (CardTransition.VOID, CardTransition.EXPIRE)
    row = await conn.fetchrow(_CHANGE, batch_id, first, last, target(transition).value, sources(transition),
                              transition.value, actor_kind, actor_id, reason, allow_expired)
    return row["changed"], row["selected"]


_EXPIRE = """
WITH upd AS (
    UPDATE vouchers SET state = 'expired', state_changed_at = now()
    WHERE card_number IN (SELECT card_number FROM vouchers
                          WHERE expires_at <= now() AND state IN ('created', 'active', 'frozen') LIMIT $1
                          FOR UPDATE SKIP LOCKED)
    RETURNING card_number, state
), h AS (
    INSERT INTO voucher_history (card_number, from_state, to_state, transition, actor_kind, actor_id)
    SELECT card_number, NULL, 'expired', 'expire', 'service', 'orders' FROM upd
)
SELECT count(*) FROM upd
"""


async def expire_due(conn: asyncpg.Connection, limit: int = 10_000) -> int:
    count: int = await conn.fetchval(_EXPIRE, limit)
    return count


_CLAIM = """
WITH c AS (
    UPDATE vouchers v SET state = 'redeeming', order_id = $2, state_changed_at = now()
    FROM voucher_batches b
    WHERE v.pin_hash = $1 AND v.state = 'active' AND v.expires_at > now() AND b.batch_id = v.batch_id
    RETURNING v.card_number, v.batch_id, b.sku
), h AS (
    INSERT INTO voucher_history (card_number, from_state, to_state, transition, actor_kind, actor_id, order_id)
    SELECT card_number, 'active', 'redeeming', 'start_redemption', $3, $4, $2 FROM c
)
SELECT * FROM c
"""


async def claim(conn: asyncpg.Connection, pin_hash: bytes, order_id: UUID, actor_kind: str,
                actor_id: str) -> asyncpg.Record | None:
    """Take the active, unexpired card with this PIN for the order `order_id` (the row lock makes it exactly
    once: a concurrent claim waits, then finds the card redeeming)."""
    return await conn.fetchrow(_CLAIM, pin_hash, order_id, actor_kind, actor_id)


async def card_by_pin(conn: asyncpg.Connection, pin_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT card_number, state, expires_at, order_id FROM vouchers WHERE pin_hash = $1",
                               pin_hash)


async def record_redemption_step(conn: asyncpg.Connection, card_number: str, from_state: str, to_state: str,
                                 transition: str, order_id: UUID, actor_kind: str, actor_id: str,
                                 reason: str = "") -> None:
    await conn.execute(
        """WITH v AS (UPDATE vouchers SET state = $3, order_id = $5, state_changed_at = now()
                      WHERE card_number = $1 AND state = $2 RETURNING card_number)
           INSERT INTO voucher_history (card_number, from_state, to_state, transition, actor_kind, actor_id,
                                        reason, order_id)
           SELECT card_number, $2, $3, $4, $6, $7, $8, $5 FROM v""",
        card_number, from_state, to_state, transition, order_id, actor_kind, actor_id, reason,
    )


async def get_card(conn: asyncpg.Connection, card_number: str) -> tuple[asyncpg.Record, list[asyncpg.Record]] | None:
    card = await conn.fetchrow(
        """SELECT v.card_number, v.batch_id, v.state, v.expires_at, v.order_id, b.sku, b.face_value_fen
           FROM vouchers v JOIN voucher_batches b USING (batch_id) WHERE v.card_number = $1""",
        card_number,
    )
    if card is None:
        return None
    history = await conn.fetch("SELECT * FROM voucher_history WHERE card_number = $1 ORDER BY id", card_number)
    return card, history
