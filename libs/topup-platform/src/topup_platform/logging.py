"""structlog, configured once per process (after polar's `logging.py`).

JSON lines in production, a console renderer in development. Every line carries the service name and,
when there is one, the trace id, span id, request id and order id (contextvars). A redaction processor
masks any key that names a secret, so a PIN, key, password or code never reaches a log even by mistake.
Standard-library loggers (uvicorn, aiokafka, grpc) go through the same pipeline.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog
from opentelemetry import baggage, trace

from topup_platform.telemetry import REQUEST_ID

# A key is secret when one of its underscore-separated words is one of these ("pin", "voucher_pin",
# "channel_secret", "x_signature"...), not when the letters merely occur inside a word ("mapping").
_SECRET_KEY = re.compile(
    r"(?:^|_)(pin|secret|password|passwd|otp|sms_code|signature|token|authorization|api_key|master_key)(?:_|$)",
    re.IGNORECASE,
)
REDACTED = "[REDACTED]"


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key != "event" and _SECRET_KEY.search(key):
            event_dict[key] = REDACTED
    return event_dict


def add_trace_ids(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The current trace and span, and the request id the trace's baggage carries from the gateway (a
    request id bound in this process wins)."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    if "request_id" not in event_dict and (request_id := baggage.get_baggage(REQUEST_ID)):
        event_dict["request_id"] = request_id
    return event_dict


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


#: what a console line leaves out: the supervisor's prefix names the process, and a trace is looked up by the
#: request id or order id the line keeps (JSON lines carry everything)
CONSOLE_DROPPED = ("service", "trace_id", "span_id")


def _drop_for_console(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in CONSOLE_DROPPED:
        event_dict.pop(key, None)
    return event_dict


def configure_logging(service: str, *, level: str = "INFO", json: bool = True,
                      timestamps: bool | None = None) -> None:
    """`timestamps`: whether a line carries its own time. JSON lines always do; console lines (development) only
    on a terminal by default: under a supervisor (`make run`'s honcho stamps every line it prints) a second time
    would only lengthen the line. A console line is short: `12:00:01 [info] event key=value`, without the
    service (the supervisor's prefix) or the trace and span ids."""

    def add_service(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    stamp = json or (sys.stderr.isatty() if timestamps is None else timestamps)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        *([structlog.processors.TimeStamper(fmt="iso" if json else "%H:%M:%S", utc=json)] if stamp else []),
        add_service,
        add_trace_ids,
        redact_secrets,
        *([] if json else [_drop_for_console]),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if json
        # Never the frames' local variables (structlog's default with rich installed): they hold what a request
        # carried (a PIN, a body, a key), and one bad request would write hundreds of kilobytes.
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(),
                                           exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        # Drop below-level events before any other processor runs (they would be filtered later anyway).
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if json else structlog.processors.StackInfoRenderer(),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Quiet the chatty ones; their warnings still come through.
    for name in ("aiokafka", "kafka", "asyncio", "grpc", "httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
