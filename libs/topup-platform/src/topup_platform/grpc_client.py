"""gRPC aio client helpers: channels with mutual TLS, tracing, keep-alive and a retry policy for UNAVAILABLE, and a
call wrapper that turns a failed call into `RemoteError` carrying the callee's documented code."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import TypeVar

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from topup_platform import staff, telemetry
from topup_platform.errors import RemoteError, remote_error_from
from topup_platform.settings import PlatformSettings
from topup_platform.tls import TlsMaterial

T = TypeVar("T")

# Transparent retries only for UNAVAILABLE (the call never reached a handler, e.g. a restarting peer):
# safe for every method, including ones that change state.
_SERVICE_CONFIG = json.dumps({
    "methodConfig": [{
        "name": [{}],
        "retryPolicy": {
            "maxAttempts": 4,
            "initialBackoff": "0.05s",
            "maxBackoff": "1s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"],
        },
    }]
})


def channel(target: str, settings: PlatformSettings) -> grpc.aio.Channel:
    """A channel to a peer service: mutual TLS with this process's certificate when the settings name one
    (required outside dev), plaintext otherwise. Calls made while handling a staff request carry its staff
    assertion (topup_platform.staff)."""
    tls = TlsMaterial.from_settings(settings)
    interceptors: list[grpc.aio.ClientInterceptor] = [*staff.forwarding_interceptors()]
    if telemetry.tracing_enabled():
        interceptors.extend(aio_client_interceptors(filter_=telemetry.NOT_HEALTH_CHECK))
    options = [
        ("grpc.service_config", _SERVICE_CONFIG),
        ("grpc.enable_retries", 1),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
    ]
    if tls is None:
        return grpc.aio.insecure_channel(target, interceptors=interceptors, options=options)
    return grpc.aio.secure_channel(target, tls.channel_credentials(), interceptors=interceptors, options=options)


async def call(awaitable: Awaitable[T]) -> T:
    """Await a stub call; raise `RemoteError` (with the callee's code) if it fails."""
    try:
        return await awaitable
    except grpc.aio.AioRpcError as err:
        raise remote_error_from(err) from err


__all__ = ["RemoteError", "call", "channel"]
