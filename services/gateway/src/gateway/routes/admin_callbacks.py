"""Admin API: an order's callbacks, every attempt of each, and re-sending the latest (staff only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gateway.admin_auth import Role, Staff, require
from gateway.callbacks import CallbackService
from gateway.errors import ApiError
from gateway.responses import FastJSON
from gateway.routes.recharges import _ERRORS
from gateway.schemas import CallbacksOut, ResendOut
from topup_platform.logging import get_logger

log = get_logger(__name__)
router = APIRouter(prefix="/admin/v1", tags=["admin: callbacks"])
Staffer = Annotated[Staff, Depends(require(Role.REVIEWER, Role.FINANCE))]


@router.get("/orders/{order_id}/callbacks", response_model=CallbacksOut, responses=_ERRORS,
            summary="An order's callbacks (one per final status), each with every delivery attempt")
async def list_callbacks(order_id: str, request: Request, staff: Staffer) -> FastJSON:
    callbacks: CallbackService = request.app.state.callbacks
    return FastJSON({"callbacks": await callbacks.store.for_order(order_id)})


@router.post("/orders/{order_id}/callbacks/resend", status_code=202, response_model=ResendOut, responses=_ERRORS,
             summary="Send the order's latest callback again, now (also after it was delivered or given up)")
async def resend(order_id: str, request: Request, staff: Staffer) -> FastJSON:
    callbacks: CallbackService = request.app.state.callbacks
    callback_id = await callbacks.store.resend(order_id, staff.id)
    if callback_id is None:
        raise ApiError("CALLBACK_NOT_FOUND", details={"order_id": order_id})
    callbacks.wake()
    log.info("callback re-send requested", order_id=order_id, callback_id=callback_id, by=staff.id)
    return FastJSON({"callback_id": callback_id, "state": "pending"}, status_code=202)
