"""A channel's own notifications (our callbacks to its notify_url): list them, read one with every attempt
(what its endpoint answered), and replay one.

    GET  /v1/notifications?order_id=&state=&cursor=&limit=    newest first
    GET  /v1/notifications/{notify_id}                        with its attempts and the body we POST
    POST /v1/notifications/{notify_id}/replay                 send it again now (same notify_id, same body)
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from gateway.auth import AuthenticatedChannel
from gateway.callbacks import CallbackService
from gateway.errors import ApiError
from gateway.responses import FastJSON
from gateway.routes.recharges import _ERRORS, check_order_id
from gateway.schemas import NotificationOut, NotificationsPage, ReplayOut
from topup_platform import identifiers as ids
from topup_platform.logging import get_logger

log = get_logger(__name__)
router = APIRouter(tags=["notifications"])
State = Literal["pending", "delivered", "superseded", "gave_up"]
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,200}")


def encode_cursor(created_at: str, notify_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at}|{notify_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        if not _CURSOR.fullmatch(cursor):
            raise ValueError(cursor)
        at, notify_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
        return datetime.fromisoformat(at), uuid.UUID(notify_id)
    except (ValueError, UnicodeDecodeError):
        raise ApiError("CURSOR_INVALID") from None


def _notify_id(value: str) -> uuid.UUID:
    if not ids.matches(ids.UUID_TEXT, value):
        raise ApiError("NOTIFICATION_NOT_FOUND")
    return uuid.UUID(value)


@router.get("/v1/notifications", response_model=NotificationsPage, responses=_ERRORS,
            summary="Your notifications (our callbacks to your notify_url), newest first")
async def list_notifications(
    request: Request, channel: AuthenticatedChannel,
    order_id: Annotated[str | None, Query(description="Only this order's")] = None,
    state: Annotated[list[State] | None, Query(description="Any of these states")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page, unchanged")] = None,
) -> FastJSON:
    callbacks: CallbackService = request.app.state.callbacks
    after = decode_cursor(cursor) if cursor else None
    rows = await callbacks.store.for_channel(
        channel.channel_id, order_id=check_order_id(order_id) if order_id else None, states=state or [],
        limit=limit + 1, after=after)
    more, page = len(rows) > limit, rows[:limit]
    keys = [row.pop("_key") for row in rows]
    return FastJSON({"notifications": page, "next_cursor": encode_cursor(*keys[limit - 1]) if more else None})


@router.get("/v1/notifications/{notify_id}", response_model=NotificationOut, responses=_ERRORS,
            summary="One notification with every delivery attempt and what your endpoint answered")
async def get_notification(notify_id: str, request: Request, channel: AuthenticatedChannel) -> FastJSON:
    callbacks: CallbackService = request.app.state.callbacks
    found = await callbacks.store.notification(channel.channel_id, _notify_id(notify_id))
    if found is None:
        raise ApiError("NOTIFICATION_NOT_FOUND")
    return FastJSON(found)


@router.post("/v1/notifications/{notify_id}/replay", status_code=202, response_model=ReplayOut, responses=_ERRORS,
             summary="Send a notification again now (same notify_id and body), whatever its state")
async def replay(notify_id: str, request: Request, channel: AuthenticatedChannel) -> FastJSON:
    callbacks: CallbackService = request.app.state.callbacks
    if not await callbacks.store.replay(channel.channel_id, _notify_id(notify_id)):
        raise ApiError("NOTIFICATION_NOT_FOUND")
    callbacks.wake()
    log.info("notification replay requested", notify_id=notify_id, channel_id=channel.channel_id)
    return FastJSON({"notify_id": notify_id, "state": "pending"}, status_code=202)
