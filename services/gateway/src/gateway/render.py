"""Protobuf messages → the channel API's JSON (plain dicts: the hot path skips model construction)."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from google.protobuf.timestamp_pb2 import Timestamp

from topup.common.v1 import common_pb2
from topup.orders.v1 import orders_pb2
from topup.refunds.v1 import refunds_pb2
from topup_platform import vocab

_STATUS = {v: orders_pb2.OrderStatus.Name(v).removeprefix("ORDER_STATUS_") for v in orders_pb2.OrderStatus.values()}
_KIND = {v: orders_pb2.Product.Kind.Name(v).removeprefix("KIND_").lower() for v in orders_pb2.Product.Kind.values()}
_ACTOR = {common_pb2.Actor.KIND_SERVICE: "service", common_pb2.Actor.KIND_CHANNEL: "channel",
          common_pb2.Actor.KIND_STAFF: "staff"}




def _time(ts: Timestamp) -> str:
    return ts.ToDatetime().isoformat(timespec="milliseconds") + "Z"


def account(pb: common_pb2.Account) -> dict[str, str]:
    return {"type": vocab.ACCOUNT_TYPE_NAMES.get(pb.type, "unknown"), "id": pb.id}


def order(pb: orders_pb2.Order, *, with_history: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "order_id": pb.order_id,
        "channel_order_id": pb.channel_order_id,
        "status": _STATUS[pb.status],
        "status_reason_code": pb.status_reason_code or None,
        "account": account(pb.account),
        "sku": pb.sku,
        "face_value_fen": pb.face_value_fen,
        "price_fen": pb.price_fen,
        "payment": {
            "method": vocab.PAYMENT_METHOD_NAMES.get(pb.payment.method, "unknown"),
            "transaction_id": pb.payment.transaction_id,
            "paid_fen": pb.payment.paid_fen,
        },
        "notify_url": pb.notify_url or None,
        "created_at": _time(pb.created_at),
        "updated_at": _time(pb.updated_at),
    }
    if pb.voucher_card_number:
        out["voucher_card_number"] = pb.voucher_card_number
    if with_history:
        out["history"] = [
            {
                "from_status": _STATUS[c.from_status] if c.from_status else None,
                "to_status": _STATUS[c.to_status],
                "transition": c.transition,
                "reason_code": c.reason_code or None,
                "actor": f"{_ACTOR.get(c.actor.kind, 'service')}:{c.actor.id}",
                "at": _time(c.at),
            }
            for c in pb.history
        ]
    return out


_CARD_STATE = {v: orders_pb2.VoucherState.Name(v).removeprefix("VOUCHER_STATE_").lower()
               for v in orders_pb2.VoucherState.values()}


def voucher_batch(pb: orders_pb2.VoucherBatch) -> dict[str, Any]:
    return {"batch_id": pb.batch_id, "sku": pb.sku, "face_value_fen": pb.face_value_fen, "count": pb.count,
            "expires_at": _time(pb.expires_at), "created_at": _time(pb.created_at), "created_by": pb.created_by,
            "states": dict(pb.states)}


def voucher(pb: orders_pb2.Voucher) -> dict[str, Any]:
    return {
        "card_number": pb.card_number, "batch_id": pb.batch_id, "sku": pb.sku, "face_value_fen": pb.face_value_fen,
        "state": _CARD_STATE[pb.state], "expires_at": _time(pb.expires_at), "order_id": pb.order_id or None,
        "history": [{"from_state": _CARD_STATE[h.from_state] if h.from_state else None,
                     "to_state": _CARD_STATE[h.to_state], "transition": h.transition,
                     "actor": f"{_ACTOR.get(h.actor.kind, 'service')}:{h.actor.id}", "reason": h.reason or None,
                     "order_id": h.order_id or None, "at": _time(h.at)} for h in pb.history],
    }


def products(pb: orders_pb2.ListProductsResponse) -> dict[str, Any]:
    return {
        "account": account(pb.account),
        "carrier": pb.carrier,
        "products": [
            {"sku": p.sku, "kind": _KIND[p.kind], "name": p.name, "face_value_fen": p.face_value_fen,
             "data_mb": p.data_mb, "validity_days": p.validity_days, "price_fen": p.price_fen}
            for p in pb.products
        ],
    }


# --- the review desk and refunds -------------------------------------------------------------------------

_REFUND_STATUS = {v: refunds_pb2.RefundStatus.Name(v).removeprefix("REFUND_STATUS_")
                  for v in refunds_pb2.RefundStatus.values()}


def _maybe_time(ts: Timestamp) -> str | None:
    return _time(ts) if ts.seconds or ts.nanos else None


def refund(pb: refunds_pb2.Refund, *, with_events: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "refund_id": pb.refund_id, "order_id": pb.order_id, "channel_id": pb.channel_id,
        "payment": {"method": vocab.PAYMENT_METHOD_NAMES.get(pb.payment.method, "unknown"),
                    "transaction_id": pb.payment.transaction_id, "paid_fen": pb.payment.paid_fen},
        "amount_fen": pb.amount_fen, "status": _REFUND_STATUS[pb.status], "reason_code": pb.reason_code or None,
        "failure_confirmed_at": _time(pb.failure_confirmed_at), "deadline_at": _time(pb.deadline_at),
        "deadline_breached": pb.deadline_breached, "settled_at": _maybe_time(pb.settled_at),
        "provider_refund_no": pb.provider_refund_no or None, "attempts": pb.attempts,
        "last_error": pb.last_error or None,
    }
    if with_events:
        out["events"] = [{"at": _time(e.at), "from_status": e.from_status or None, "to_status": e.to_status,
                          "what": e.what, "detail": e.detail, "actor": e.actor} for e in pb.events]
    return out


def review_case(pb: refunds_pb2.ReviewCase, *, with_actions: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "case_id": pb.case_id, "kind": pb.kind, "status": pb.status, "order_id": pb.order_id or None,
        "refund_id": pb.refund_id or None, "channel_id": pb.channel_id or None, "amount_fen": pb.amount_fen,
        "reason_code": pb.reason_code, "detail": pb.detail, "allowed_actions": list(pb.allowed_actions),
        "needs_four_eyes": pb.needs_four_eyes, "assignee": pb.assignee or None, "opened_at": _time(pb.opened_at),
        "proposed_action": pb.proposed_action or None, "proposed_by": pb.proposed_by or None,
        "resolution": pb.resolution or None, "resolved_by": pb.resolved_by or None,
        "resolved_at": _maybe_time(pb.resolved_at),
    }
    if with_actions:
        out["actions"] = [{
            "action": a.action, "actor": f"{_ACTOR.get(a.actor.kind, 'service')}:{a.actor.id}", "role": a.role,
            "at": _time(a.at), "reason": a.reason,
            "before": orjson.loads(a.before_json) if a.before_json else None,
            "after": orjson.loads(a.after_json) if a.after_json else None,
        } for a in pb.actions]
    return out


def calendar_year(pb: refunds_pb2.CalendarYear) -> dict[str, Any]:
    return {"year": pb.year, "holidays": list(pb.holidays), "working_weekends": list(pb.working_weekends),
            "configured": pb.configured, "updated_by": pb.updated_by or None,
            "updated_at": _maybe_time(pb.updated_at)}


# --- statements (对账单): CSV ---------------------------------------------------------------------------

STATEMENT_COLUMNS = ("order_id", "channel_order_id", "account_type", "account_id", "sku", "payment_method",
                     "paid_fen", "status", "status_reason_code", "created_at", "final_at", "refund_fen")
#: the trailer's rows: `#summary,<status or TOTAL>,<count>,<paid_fen>,<refund_fen>`
SUMMARY_COLUMNS = ("#summary", "status", "count", "paid_fen", "refund_fen")


def _csv(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def statement_header() -> str:
    return _csv([list(STATEMENT_COLUMNS)])


def statement_lines(chunk: orders_pb2.StatementChunk) -> str:
    return _csv([[line.order_id, line.channel_order_id, vocab.ACCOUNT_TYPE_NAMES.get(line.account.type, "unknown"),
                  line.account.id, line.sku, vocab.PAYMENT_METHOD_NAMES.get(line.payment_method, "unknown"),
                  line.paid_fen, _STATUS[line.status], line.status_reason_code, _time(line.created_at),
                  _time(line.final_at), line.refund_fen] for line in chunk.lines])


def statement_trailer(summary: orders_pb2.StatementSummary) -> str:
    rows: list[list[Any]] = [list(SUMMARY_COLUMNS)]
    for t in summary.totals:
        rows.append(["#summary", _STATUS[t.status] if t.status else "TOTAL", t.count, t.paid_fen, t.refund_fen])
    rows.append(["#statement", summary.channel_id, summary.date, "true" if summary.complete else "false"])
    return _csv(rows)
