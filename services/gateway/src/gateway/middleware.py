"""One pure-ASGI middleware for every request: a request id (echoed as X-Request-Id, bound into every
log line, and sent on as trace baggage so the services behind log it too) and the per-route
metrics. (The HTTP server span is FastAPI's own telemetry, when tracing is on.)"""

from __future__ import annotations

import re
import time
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import propagate
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from topup_platform import telemetry
from topup_platform.ids import new_id_str
from topup_platform.metrics import LATENCY_BUCKETS

REQUESTS = Counter("topup_http_requests_total", "HTTP requests by route, method and status",
                   ["route", "method", "status"])
LATENCY = Histogram("topup_http_request_seconds", "HTTP request latency by route", ["route", "method"],
                    buckets=LATENCY_BUCKETS)
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{8,64}", re.ASCII)
class TrustBoundary:
    """The outermost layer of the gateway (outside FastAPI's own telemetry, which reads the trace headers):
    drops the trace context a caller sends, so every request starts a trace of ours. A channel neither picks
    our trace ids (nor their sampling) nor adds baggage that would travel through our services, events and
    database, and on to BOSS. The headers are those of the W3C formats and of whatever propagators
    `OTEL_PROPAGATORS` configures."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.untrusted = frozenset({b"traceparent", b"tracestate", b"baggage",
                                    *(f.lower().encode() for f in propagate.get_global_textmap().fields)})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(k in self.untrusted for k, _ in scope["headers"]):
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k not in self.untrusted]}
        await self.app(scope, receive, send)


_CHANNEL_RE = re.compile(r"[a-z0-9_-]{1,64}", re.ASCII)
access_log = structlog.get_logger("gateway.access")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, log_requests: bool = False) -> None:
        self.app = app
        #: one line per request: the route's template (never an account id or a query), the status, the error
        #: code of a refusal, the time taken and the channel
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = incoming if _REQUEST_ID_RE.fullmatch(incoming) else new_id_str()
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        token = otel_context.attach(telemetry.with_request_id(request_id))
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            otel_context.detach(token)
            route = _route_template(scope)
            elapsed = time.perf_counter() - started
            REQUESTS.labels(route, scope["method"], str(status)).inc()
            LATENCY.labels(route, scope["method"]).observe(elapsed)
            if self.log_requests and route not in _QUIET:
                channel = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-channel-id"), "")
                access_log.info(f"{scope['method']} {route} {status}", ms=round(elapsed * 1000, 1),
                                code=scope["state"].get("error_code"),
                                channel=channel if _CHANNEL_RE.fullmatch(channel) else None)


#: probes and scrapes: a line each would drown the requests
_QUIET = frozenset({"/healthz", "/readyz", "/metrics"})


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    return getattr(route, "path", None) or "unmatched"
