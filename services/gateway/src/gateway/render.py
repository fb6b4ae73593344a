"""Protobuf messages → the channel API's JSON (plain dicts: the hot path skips model construction)."""

from __future__ import annotations

from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from topup.common.v1 import common_pb2
from topup.orders.v1 import orders_pb2
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
