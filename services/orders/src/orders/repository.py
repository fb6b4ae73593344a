"""SQL of the order core (asyncpg). Every function takes the connection it runs on, so the caller decides
the transaction."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from orders.domain.accounts import Account, AccountType
from orders.domain.catalog import Product, ProductKind
from orders.domain.models import Order, Payment, PaymentMethod, StatusChange
from orders.domain.state import Status, Transition

_ORDER_COLUMNS = """order_id, channel_id, channel_order_id, account_type, account_id, sku, face_value_fen, price_fen,
    payment_method, payment_transaction_id, paid_fen, payer_account, notify_url, status, status_reason_code,
    risk_decision_id, created_at, updated_at"""


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


async def upsert_channel_price(conn: asyncpg.Connection, channel_id: str, sku: str, price_fen: int) -> None:
    await conn.execute(
        """INSERT INTO channel_prices (channel_id, sku, price_fen) VALUES ($1, $2, $3)
           ON CONFLICT (channel_id, sku) DO UPDATE SET price_fen = EXCLUDED.price_fen, active = true,
                                                       updated_at = now()""",
        channel_id, sku, price_fen,
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

async def insert_order(
    conn: asyncpg.Connection, order: Order, *, request_hash: bytes, risk_outcome: str, first_response: bytes
) -> bool:
    """Insert a new order; False when (channel_id, channel_order_id) exists already."""
    inserted = await conn.fetchval(
        f"""INSERT INTO orders ({_ORDER_COLUMNS}, request_hash, risk_outcome, first_response)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
            ON CONFLICT (channel_id, channel_order_id) DO NOTHING
            RETURNING true""",
        order.order_id, order.channel_id, order.channel_order_id, order.account.type.value, order.account.id,
        order.sku, order.face_value_fen, order.price_fen, order.payment.method.value,
        order.payment.transaction_id, order.payment.paid_fen, order.payment.payer_account, order.notify_url,
        order.status.value, order.status_reason_code, order.risk_decision_id, order.created_at, order.updated_at,
        request_hash, risk_outcome, first_response,
    )
    return bool(inserted)


async def first_response(
    conn: asyncpg.Connection, channel_id: str, channel_order_id: str
) -> tuple[bytes, bytes] | None:
    """(request_hash, first_response) of an existing order, or None."""
    row = await conn.fetchrow(
        "SELECT request_hash, first_response FROM orders WHERE channel_id = $1 AND channel_order_id = $2",
        channel_id, channel_order_id,
    )
    return (row["request_hash"], row["first_response"]) if row else None


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


async def update_status(conn: asyncpg.Connection, order: Order) -> None:
    await conn.execute(
        "UPDATE orders SET status = $2, status_reason_code = $3, updated_at = $4 WHERE order_id = $1",
        order.order_id, order.status.value, order.status_reason_code, order.updated_at,
    )


async def insert_history(conn: asyncpg.Connection, order_id: UUID, change: StatusChange) -> None:
    await conn.execute(
        """INSERT INTO order_history (order_id, from_status, to_status, transition, reason_code, reason,
                                      actor_kind, actor_id, at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        order_id, change.from_status.value if change.from_status else None, change.to_status.value,
        change.transition.value, change.reason_code, change.reason, change.actor_kind, change.actor_id, change.at,
    )


async def load_history(conn: asyncpg.Connection, order_id: UUID) -> list[StatusChange]:
    rows = await conn.fetch(
        """SELECT from_status, to_status, transition, reason_code, reason, actor_kind, actor_id, at
           FROM order_history WHERE order_id = $1 ORDER BY id""",
        order_id,
    )
    return [
        StatusChange(Status(r["from_status"]) if r["from_status"] else None, Status(r["to_status"]),
                     Transition(r["transition"]), r["reason_code"], r["reason"], r["actor_kind"], r["actor_id"],
                     r["at"])
        for r in rows
    ]
