"""Admin API: the channel registry (channels, credentials and their rotation, quotas, callback settings) and
each channel's price list (kept by the order core; managed from here)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from gateway.admin_auth import Role, Staff, require
from gateway.auth import read_body
from gateway.callback_net import NotifyUrlChecker
from gateway.errors import ApiError
from gateway.registry_admin import RegistryAdmin
from gateway.responses import FastJSON
from gateway.routes.recharges import _ERRORS, openapi_body, parse_body
from gateway.schemas import (
    ChannelCreatedOut,
    ChannelIn,
    ChannelOut,
    ChannelPatchIn,
    ChannelsOut,
    KeyCreatedOut,
    KeyIn,
    KeyOut,
    PriceIn,
    PriceListIn,
    PriceListOut,
)
from gateway.upstream import Upstream, call
from topup.common.v1 import common_pb2
from topup.orders.v1 import orders_pb2
from topup_platform.logging import get_logger

log = get_logger(__name__)
router = APIRouter(prefix="/admin/v1", tags=["admin: channels"])
Admin = Annotated[Staff, Depends(require(Role.ADMIN))]
Staffer = Annotated[Staff, Depends(require(Role.REVIEWER, Role.FINANCE))]


def _admin(request: Request) -> RegistryAdmin:
    return RegistryAdmin(request.app.state.pool, request.app.state.channels)


async def _body(request: Request) -> bytes:
    return await read_body(request, request.app.state.settings.max_body_bytes,
                           request.app.state.settings.body_timeout_seconds)


async def _check_prefixes(request: Request, prefixes: list[str]) -> None:
    """Callback URL prefixes follow notify_url's rules, and reach no internal address (resolved before any
    transaction)."""
    checker: NotifyUrlChecker = request.app.state.notify_urls
    await checker.check_prefixes(prefixes)


def _timeout(request: Request) -> float:
    return float(request.app.state.settings.orders_timeout_seconds)


async def _set_prices(request: Request, channel_id: str, prices: list[PriceIn], staff: Staff) -> list[dict[str, Any]]:
    upstream: Upstream = request.app.state.upstream
    reply = await call(upstream.orders.SetChannelPrices(orders_pb2.SetChannelPricesRequest(
        channel_id=channel_id, prices=[orders_pb2.PriceEntry(sku=p.sku, price_fen=p.price_fen) for p in prices],
        actor=common_pb2.Actor(kind=common_pb2.Actor.KIND_STAFF, id=staff.id)), timeout=_timeout(request)))
    return [{"sku": p.sku, "price_fen": p.price_fen} for p in reply.prices]


async def _get_prices(request: Request, channel_id: str) -> list[dict[str, Any]]:
    upstream: Upstream = request.app.state.upstream
    reply = await call(upstream.orders.GetChannelPrices(
        orders_pb2.GetChannelPricesRequest(channel_id=channel_id), timeout=_timeout(request)))
    return [{"sku": p.sku, "price_fen": p.price_fen} for p in reply.prices]


# --- channels ------------------------------------------------------------------------------------------

@router.post("/channels", status_code=201, response_model=ChannelCreatedOut, responses=_ERRORS,
             openapi_extra=openapi_body(ChannelIn),
             summary="Register a channel: its keys (the secrets come back this once), quota, callbacks, prices")
async def create_channel(request: Request, staff: Admin) -> FastJSON:
    body = parse_body(ChannelIn, await _body(request))
    await _check_prefixes(request, body.callbacks.url_prefixes)
    prices = body.prices

    async def set_prices() -> None:
        assert prices is not None
        await _set_prices(request, body.channel_id, prices, staff)

    view = await _admin(request).create(body, staff.id, set_prices if prices is not None else None)
    if prices is not None:
        view["prices"] = [p.model_dump() for p in prices]
    return FastJSON(view, status_code=201, headers={"Cache-Control": "no-store"})


@router.get("/channels", response_model=ChannelsOut, responses=_ERRORS,
            summary="Every channel, with its keys' metadata (never a secret)")
async def list_channels(request: Request, staff: Staffer) -> FastJSON:
    return FastJSON({"channels": await _admin(request).list()})


@router.get("/channels/{channel_id}", response_model=ChannelOut, responses=_ERRORS,
            summary="One channel, with its keys' metadata (never a secret) and its price list")
async def get_channel(channel_id: str, request: Request, staff: Staffer) -> FastJSON:
    view = await _admin(request).get(channel_id)
    view["prices"] = await _get_prices(request, channel_id)
    return FastJSON(view)


@router.patch("/channels/{channel_id}", response_model=ChannelOut, responses=_ERRORS,
              openapi_extra=openapi_body(ChannelPatchIn),
              summary="Change a channel: name, enabled, permissions, quota, callback settings")
async def update_channel(channel_id: str, request: Request, staff: Admin) -> FastJSON:
    body = parse_body(ChannelPatchIn, await _body(request))
    if body.callbacks is not None:
        await _check_prefixes(request, body.callbacks.url_prefixes)
    return FastJSON(await _admin(request).update(channel_id, body, staff.id))


# --- keys ----------------------------------------------------------------------------------------------

@router.post("/channels/{channel_id}/keys", status_code=201, response_model=KeyCreatedOut, responses=_ERRORS,
             openapi_extra=openapi_body(KeyIn),
             summary="Add a key (a rotation: the old key keeps working until retired or expired)")
async def add_key(channel_id: str, request: Request, staff: Admin) -> FastJSON:
    body = parse_body(KeyIn, await _body(request))
    return FastJSON(await _admin(request).add_key(channel_id, body, staff.id), status_code=201,
                    headers={"Cache-Control": "no-store"})


@router.post("/channels/{channel_id}/keys/{key_id}/retire", response_model=KeyOut, responses=_ERRORS,
             summary="Retire a key at once (never the last active one of its use)")
async def retire_key(channel_id: str, key_id: str, request: Request, staff: Admin) -> FastJSON:
    return FastJSON(await _admin(request).retire_key(channel_id, key_id, staff.id))


# --- price lists (the order core keeps them) -----------------------------------------------------------

@router.get("/channels/{channel_id}/prices", response_model=PriceListOut, responses=_ERRORS,
            summary="What a channel sells, at what price (fen)")
async def get_prices(channel_id: str, request: Request, staff: Staffer) -> FastJSON:
    if not await _admin(request).exists(channel_id):
        raise ApiError("CHANNEL_NOT_FOUND", details={"channel_id": channel_id})
    return FastJSON({"channel_id": channel_id, "prices": await _get_prices(request, channel_id)})


@router.put("/channels/{channel_id}/prices", response_model=PriceListOut, responses=_ERRORS,
            openapi_extra=openapi_body(PriceListIn),
            summary="Replace a channel's price list (a channel may sell below face value)")
async def put_prices(channel_id: str, request: Request, staff: Admin) -> FastJSON:
    body = parse_body(PriceListIn, await _body(request))
    if not await _admin(request).exists(channel_id):
        raise ApiError("CHANNEL_NOT_FOUND", details={"channel_id": channel_id})
    prices = await _set_prices(request, channel_id, body.prices, staff)
    log.info("channel prices replaced", channel=channel_id, by=staff.id)
    return FastJSON({"channel_id": channel_id, "prices": prices})
