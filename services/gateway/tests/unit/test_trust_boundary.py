"""The gateway is a trust boundary for trace context: what a caller sends of it never reaches the app."""

from __future__ import annotations

from typing import Any

from gateway.middleware import TrustBoundary


async def test_a_callers_trace_headers_are_dropped_and_the_rest_kept() -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(list(scope["headers"]))

    headers = [(b"traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
               (b"tracestate", b"channel=1"), (b"baggage", b"request_id=forged,evil=1"),
               (b"x-signature", b"abc"), (b"content-type", b"application/json")]
    await TrustBoundary(app)({"type": "http", "headers": headers}, None, None)
    assert seen == [[(b"x-signature", b"abc"), (b"content-type", b"application/json")]]


async def test_other_scopes_pass_untouched() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)

    lifespan = {"type": "lifespan"}
    await TrustBoundary(app)(lifespan, None, None)
    assert seen == [lifespan]
