"""The channel API's answers as typed models (pydantic): what the SDK's methods return.

Fields follow the JSON the gateway sends (its OpenAPI document at /v1/openapi.json); times are aware datetimes,
money is integer fen. Fields the gateway adds later are kept (`extra="allow"`), so an older SDK keeps working.
Mapping-style reads (`order["status"]`) still work for code written against the SDK's earlier dict answers;
new code reads attributes (`order.status`), which type checkers follow.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

OrderStatus = Literal["PENDING", "PROCESSING", "SUCCEEDED", "FAILED", "REFUNDED", "UNDER_REVIEW", "REJECTED"]

#: statuses an order rests in; FAILED and REJECTED rest only when there is nothing to refund
SETTLED = frozenset({"SUCCEEDED", "REFUNDED", "UNDER_REVIEW"})


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    def __getitem__(self, key: str) -> Any:
        """`order["status"]` as `order.status` (for code written against the earlier dict answers)."""
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def to_json(self) -> dict[str, Any]:
        """The JSON the gateway sent (times as ISO 8601 strings)."""
        return self.model_dump(mode="json")


class Account(Model):
    type: Literal["mobile", "broadband"]
    id: str


class Payment(Model):
    method: str
    transaction_id: str
    paid_fen: int


class StatusChange(Model):
    from_status: OrderStatus | None
    to_status: OrderStatus
    transition: str
    reason_code: str | None = None
    actor: str
    at: datetime


class Order(Model):
    order_id: str
    channel_order_id: str
    status: OrderStatus
    status_reason_code: str | None = None
    account: Account
    sku: str
    face_value_fen: int
    price_fen: int
    payment: Payment
    notify_url: str | None = None
    created_at: datetime
    updated_at: datetime
    #: with include_history
    history: list[StatusChange] | None = None
    #: the voucher card that paid (voucher redemptions)
    voucher_card_number: str | None = None

    @property
    def settled(self) -> bool:
        """Whether the order rests: `SUCCEEDED`, `REFUNDED`, `UNDER_REVIEW` (a person decides), or `FAILED` /
        `REJECTED` when nothing was paid (a voucher). A paid order that failed waits for its refund."""
        return _settled(self.status, self.payment.method, self.payment.paid_fen)


class OrdersPage(Model):
    orders: list[Order]
    #: pass as `cursor` for the next page; None on the last
    next_cursor: str | None = None


class Product(Model):
    sku: str
    kind: Literal["call_credit", "data_pack", "combo", "broadband_credit"]
    name: str
    face_value_fen: int
    data_mb: int
    validity_days: int
    price_fen: int


class Offer(Model):
    """GET /v1/products: whether we serve the account (`carrier == "unicom"`), and what the channel may sell."""

    account: Account
    carrier: str
    products: list[Product]

    def price_of(self, sku: str) -> int | None:
        return next((p.price_fen for p in self.products if p.sku == sku), None)


class Balance(Model):
    account: Account
    balance_fen: int
    data_remaining_mb: int
    as_of: datetime


class NotificationAttempt(Model):
    attempt: int
    #: schedule, replay:channel (you asked), resend:<staff>
    trigger: str
    at: datetime
    duration_ms: int
    http_status: int | None = None
    error: str | None = None
    response_excerpt: str | None = None
    acknowledged: bool


class Notification(Model):
    """One callback of ours to the channel's notify_url: a final status of one order."""

    notify_id: str
    order_id: str
    order_status: OrderStatus
    notify_url: str
    state: Literal["pending", "delivered", "superseded", "gave_up"]
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None
    #: with GET /v1/notifications/{notify_id}: what we POST, and every attempt
    body: dict[str, Any] | None = None
    attempt_log: list[NotificationAttempt] | None = None


class NotificationsPage(Model):
    notifications: list[Notification]
    next_cursor: str | None = None


class StatementLine(Model):
    order_id: str
    channel_order_id: str
    account_type: Literal["mobile", "broadband"]
    account_id: str
    sku: str
    payment_method: str
    paid_fen: int
    #: the last final status the order reached that day
    status: OrderStatus
    status_reason_code: str | None = None
    created_at: datetime
    #: when it reached that status
    final_at: datetime
    refund_fen: int


class StatementTotal(Model):
    count: int
    paid_fen: int
    refund_fen: int


class Statement(Model):
    """GET /v1/statements?date=…: a channel's statement (对账单) of one Beijing day, parsed from its CSV."""

    channel_id: str
    date: str
    #: the day has ended: the statement is final
    complete: bool
    lines: list[StatementLine]
    #: per status (SUCCEEDED, FAILED, REFUNDED, REJECTED), and TOTAL
    totals: dict[str, StatementTotal]
    #: the CSV as the gateway sent it
    csv_text: str

    @classmethod
    def from_csv(cls, text: str) -> Statement:
        """Parse the statement CSV; a body without its trailer (cut short) raises ValueError."""
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            raise ValueError("an empty statement")
        header, lines, totals = rows[0], [], {}
        channel_id = date = ""
        complete: bool | None = None
        for row in rows[1:]:
            if row[0] == "#summary" and row[1] != "status":
                totals[row[1]] = StatementTotal(count=int(row[2]), paid_fen=int(row[3]), refund_fen=int(row[4]))
            elif row[0] == "#statement":
                channel_id, date, complete = row[1], row[2], row[3] == "true"
            elif not row[0].startswith("#"):
                item = dict(zip(header, row, strict=True))
                lines.append(StatementLine.model_validate({**item, "status_reason_code": item["status_reason_code"]
                                                           or None}))
        if complete is None or "TOTAL" not in totals:
            raise ValueError("the statement has no trailer: it was cut short, fetch it again")
        return cls(channel_id=channel_id, date=date, complete=complete, lines=lines, totals=totals, csv_text=text)


def _settled(status: str, method: str, paid_fen: int) -> bool:
    if status in SETTLED:
        return True
    return status in ("FAILED", "REJECTED") and (method == "voucher" or paid_fen == 0)


def is_settled(order: Order | Mapping[str, Any]) -> bool:
    """Whether an order has reached the status it rests in (see `Order.settled`); takes an `Order` or the
    gateway's JSON of one."""
    if isinstance(order, Order):
        return order.settled
    return _settled(order["status"], order["payment"]["method"], order["payment"]["paid_fen"])
