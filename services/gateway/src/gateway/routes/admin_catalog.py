"""Admin API: voucher cards (staff only). Channel price lists: routes/admin_channels.py."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Annotated

import grpc
from fastapi import APIRouter, Depends, Request
from starlette.responses import StreamingResponse

from gateway import render
from gateway.admin_auth import Role, Staff, require
from gateway.auth import read_body
from gateway.responses import FastJSON
from gateway.routes.recharges import _ERRORS, openapi_body, parse_body
from gateway.schemas import (
    CardRangeIn,
    CardsChangedOut,
    VoucherBatchIn,
    VoucherBatchOut,
    VoucherOut,
)
from gateway.upstream import Upstream, api_error, call
from topup.common.v1 import common_pb2
from topup.orders.v1 import orders_pb2
from topup_platform.errors import remote_error_from
from topup_platform.logging import get_logger
from topup_platform.timeutil import to_timestamp

log = get_logger(__name__)
router = APIRouter(prefix="/admin/v1", tags=["admin: catalog"])
Admin = Annotated[Staff, Depends(require(Role.ADMIN))]
Staffer = Annotated[Staff, Depends(require(Role.REVIEWER, Role.FINANCE))]


def _actor(staff: Staff) -> common_pb2.Actor:
    return common_pb2.Actor(kind=common_pb2.Actor.KIND_STAFF, id=staff.id)


def _timeout(request: Request) -> float:
    return float(request.app.state.settings.orders_timeout_seconds)


# --- voucher batches ------------------------------------------------------------------------------------

@router.post(
    "/voucher-batches", status_code=201, responses={**_ERRORS, 201: {
        "description": "The batch's cards and PINs as CSV (card_number,pin,sku,face_value_fen,expires_at). This "
                       "is the only time the PINs are given out: keep the file for the issuer.",
        "content": {"text/csv": {}}, "headers": {"X-Batch-Id": {"schema": {"type": "string"}}}}},
    openapi_extra=openapi_body(VoucherBatchIn),
    summary="Create a batch of voucher cards (up to 100,000); the export file comes back once",
)
async def create_batch(request: Request, staff: Admin) -> StreamingResponse:
    body = parse_body(VoucherBatchIn, await read_body(request, request.app.state.settings.max_body_bytes))
    upstream: Upstream = request.app.state.upstream
    stream = upstream.orders.CreateVoucherBatch(orders_pb2.CreateVoucherBatchRequest(
        sku=body.sku, count=body.count, expires_at=to_timestamp(body.expires_at), actor=_actor(staff),
        note=body.note), timeout=120)
    try:
        first: orders_pb2.VoucherBatchChunk = await stream.read()  # errors surface before the response starts
    except grpc.aio.AioRpcError as err:
        raise api_error(remote_error_from(err)) from err
    batch = first.batch
    log.info("voucher batch created", batch_id=batch.batch_id, sku=batch.sku, count=batch.count, by=staff.id)

    def rows(chunk: orders_pb2.VoucherBatchChunk) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for card in chunk.cards:
            writer.writerow([card.card_number, card.pin, batch.sku, batch.face_value_fen,
                             render.voucher_batch(batch)["expires_at"]])
        return out.getvalue()

    async def body_stream() -> AsyncIterator[str]:
        yield "card_number,pin,sku,face_value_fen,expires_at\n"
        yield rows(first)
        while (chunk := await stream.read()) is not grpc.aio.EOF:
            yield rows(chunk)

    return StreamingResponse(body_stream(), status_code=201, media_type="text/csv", headers={
        "X-Batch-Id": batch.batch_id, "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="vouchers-{batch.batch_id}.csv"'})


@router.get("/voucher-batches/{batch_id}", response_model=VoucherBatchOut, responses=_ERRORS,
            summary="A batch and how many of its cards are in each state (never a PIN)")
async def get_batch(batch_id: str, request: Request, staff: Staffer) -> FastJSON:
    upstream: Upstream = request.app.state.upstream
    batch = await call(upstream.orders.GetVoucherBatch(orders_pb2.GetVoucherBatchRequest(batch_id=batch_id),
                                                       timeout=_timeout(request)))
    return FastJSON(render.voucher_batch(batch))


def _change(action: str, summary: str):  # type: ignore[no-untyped-def]
    @router.post(f"/voucher-batches/{{batch_id}}/{action}", response_model=CardsChangedOut, responses=_ERRORS,
                 openapi_extra=openapi_body(CardRangeIn), summary=summary, name=f"{action}_vouchers")
    async def change(batch_id: str, request: Request, staff: Admin) -> FastJSON:
        raw = await read_body(request, request.app.state.settings.max_body_bytes)
        body = parse_body(CardRangeIn, raw or b"{}")
        upstream: Upstream = request.app.state.upstream
        method = getattr(upstream.orders, f"{action.capitalize()}Vouchers")
        result = await call(method(orders_pb2.ChangeVouchersRequest(
            batch_id=batch_id, card_first=body.card_first or "", card_last=body.card_last or "",
            actor=_actor(staff), reason=body.reason), timeout=_timeout(request)))
        log.info("voucher cards changed", batch_id=batch_id, action=action, changed=result.changed, by=staff.id)
        return FastJSON({"changed": result.changed, "skipped": result.skipped})

    return change


activate = _change("activate", "Activate (sell) a batch, a range of it, or one card")
freeze = _change("freeze", "Freeze cards (they cannot be redeemed until unfrozen)")
unfreeze = _change("unfreeze", "Unfreeze frozen cards")
void = _change("void", "Void cards for good")


@router.get("/vouchers/{card_number}", response_model=VoucherOut, responses=_ERRORS,
            summary="One card's state and audit trail (never its PIN)")
async def get_voucher(card_number: str, request: Request, staff: Staffer) -> FastJSON:
    upstream: Upstream = request.app.state.upstream
    card = await call(upstream.orders.GetVoucher(orders_pb2.GetVoucherRequest(card_number=card_number),
                                                 timeout=_timeout(request)))
    return FastJSON(render.voucher(card))
