"""Channel authentication: the signature scheme of the contract (DESIGN.md section 5).

Checks, in order: the four headers are present and well-formed → the channel exists → the timestamp is
within the window → the body is not too large (and arrives in time) → the signature verifies with one of
the channel's active keys (HMAC-SHA256, or SHA256withRSA for a channel that registered a public key) → the
channel is enabled → the channel's quota has room → the nonce was never seen. The nonce is recorded only for
a request whose signature verified, so nobody can burn a channel's nonces or quota without its key; and a
request over quota costs no database round trip.

A refusal says which header it is about, and helps without giving anything away: a signature that does not
verify is answered with the shape of the string we expected signed (the method and path as we received them, the
timestamp and nonce as placeholders, and the hash of the body we received: all the channel's own), never with a
secret or the signature we computed; a timestamp outside the window with the server's time.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Annotated

from fastapi import Depends, Header, Request

from gateway.channels import HMAC_SIGNATURE_LENGTH, Channel, ChannelRegistry
from gateway.errors import ApiError
from gateway.limits import QuotaLimiter, retry_after
from gateway.nonces import NonceStore
from topup_platform import identifiers as ids

HEADERS = ("X-Channel-Id", "X-Timestamp", "X-Nonce", "X-Signature")


def parse_timestamp(value: str) -> int | None:
    """Unix seconds as ASCII digits (not `str.isdigit`, which takes '²' and other scripts' digits)."""
    return int(value) if ids.matches(ids.TIMESTAMP, value) else None


def signature_help(method: str, target: str, body: bytes, signature: str) -> dict[str, object]:
    """What a channel whose signature did not verify may see: the shape of the string to sign, from its own
    request (never a secret, never the expected signature)."""
    body_hash = hashlib.sha256(body).hexdigest()
    return {
        "header": "X-Signature",
        "string_to_sign": "\n".join([method.upper(), target, "<X-Timestamp>", "<X-Nonce>", body_hash]),
        "body_sha256": body_hash,
        "body_bytes": len(body),
        "signature_read_as": "HMAC-SHA256" if len(signature) <= HMAC_SIGNATURE_LENGTH else "SHA256withRSA",
    }


def timestamp_help(received: int, *, now: float, window: int) -> dict[str, object]:
    server_time = int(now)
    return {"header": "X-Timestamp", "server_time": server_time, "received": received,
            "skew_seconds": received - server_time, "window_seconds": window}


async def read_body(request: Request, limit: int, seconds: float = 10.0) -> bytes:
    """The raw body, refusing (413) more than `limit` bytes without reading them all, and (408) a body that
    trickles in slower than `seconds`."""
    declared = request.headers.get("content-length")
    if declared and ids.matches(r"[0-9]{1,19}", declared) and int(declared) > limit:
        raise ApiError("PAYLOAD_TOO_LARGE", f"at most {limit} bytes")
    chunks, size = [], 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiError("PAYLOAD_TOO_LARGE", f"at most {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError("REQUEST_TIMEOUT", f"the body must arrive within {seconds:g} s") from None
    return b"".join(chunks)


#: the APIs whose bodies are JSON (a provider's refund notice is read as the provider signed it)
JSON_APIS = ("/v1/", "/admin/v1/")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def require_json(request: Request) -> None:
    """A dependency of every route: a body sent to the JSON APIs must be declared `application/json` (with, at
    most, `charset=utf-8`), else 415 `UNSUPPORTED_MEDIA_TYPE`, before anything reads it. A request without a
    body needs no Content-Type."""
    if request.method not in _WITH_BODY or not request.url.path.startswith(JSON_APIS):
        return
    headers = request.headers
    if headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers:
        return
    media, *params = (part.strip().lower() for part in headers.get("content-type", "").split(";"))
    if media != "application/json" or any(p.replace(" ", "") not in ("charset=utf-8", "") for p in params):
        raise ApiError("UNSUPPORTED_MEDIA_TYPE", details={"content_type": headers.get("content-type", "")[:100]})


def path_with_query(request: Request) -> str:
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string", b"")
    return raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")


async def authenticate(
    request: Request,
    x_channel_id: Annotated[str | None, Header(alias="X-Channel-Id", description="The channel's id")] = None,
    x_timestamp: Annotated[str | None, Header(
        alias="X-Timestamp", description="Unix seconds; within 300 s of the server's clock")] = None,
    x_nonce: Annotated[str | None, Header(
        alias="X-Nonce", description="16-64 visible characters, never reused in the window")] = None,
    x_signature: Annotated[str | None, Header(
        alias="X-Signature",
        description='base64(HMAC-SHA256(secret, METHOD "\\n" PATH_WITH_QUERY "\\n" TIMESTAMP "\\n" NONCE "\\n" '
                    "hex(sha256(body)))), or base64 of the SHA256withRSA signature of the same string for a "
                    "channel that registered an RSA public key")] = None,
) -> Channel:
    state = request.app.state
    registry: ChannelRegistry = state.channels
    nonces: NonceStore = state.nonces
    quotas: QuotaLimiter = state.quotas
    if not (x_channel_id and x_timestamp and x_nonce and x_signature):
        missing = [name for name, value in zip(HEADERS, (x_channel_id, x_timestamp, x_nonce, x_signature),
                                               strict=True) if not value]
        raise ApiError("AUTH_HEADERS_MISSING", "missing " + ", ".join(missing), details={"headers": missing})
    if not ids.matches(ids.CHANNEL_ID, x_channel_id):
        raise ApiError("AUTH_HEADERS_MISSING", "malformed X-Channel-Id: lower-case letters, digits, _ and -",
                       details={"header": "X-Channel-Id"})
    timestamp = parse_timestamp(x_timestamp)
    if timestamp is None:
        raise ApiError("AUTH_HEADERS_MISSING", "malformed X-Timestamp: unix seconds, ASCII digits",
                       details={"header": "X-Timestamp"})
    if not ids.matches(ids.NONCE, x_nonce):
        raise ApiError("AUTH_NONCE_INVALID", details={"header": "X-Nonce"})
    channel = await registry.get(x_channel_id)
    if channel is None:
        raise ApiError("AUTH_CHANNEL_UNKNOWN", details={"header": "X-Channel-Id"})
    now, window = time.time(), state.settings.timestamp_window_seconds
    if abs(now - timestamp) > window:
        raise ApiError("AUTH_TIMESTAMP_EXPIRED", details=timestamp_help(timestamp, now=now, window=window))
    body = await read_body(request, state.settings.max_body_bytes, state.settings.body_timeout_seconds)
    request.state.raw_body = body
    target = path_with_query(request)
    if not channel.verify(x_signature, request.method, target, x_timestamp, x_nonce, body):
        raise ApiError("AUTH_SIGNATURE_INVALID", "X-Signature does not verify over this string with any of the "
                       "channel's active keys", details=signature_help(request.method, target, body, x_signature))
    if not channel.enabled:
        raise ApiError("CHANNEL_DISABLED")
    wait = quotas.check(channel)
    if wait:
        raise ApiError("RATE_LIMITED", headers={"Retry-After": retry_after(wait)},
                       details={"rate_per_second": channel.rate_per_second, "burst": channel.burst})
    if not await nonces.claim(channel.channel_id, x_nonce):
        raise ApiError("AUTH_NONCE_REPLAYED")
    return channel


AuthenticatedChannel = Annotated[Channel, Depends(authenticate)]
