"""OpenTelemetry set-up: one TracerProvider per process, exported over OTLP when the standard
`OTEL_*` variables say so (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`;
`OTEL_TRACES_EXPORTER=console` prints spans; `OTEL_SDK_DISABLED=true` turns tracing off).

Trace context travels as W3C `traceparent` in gRPC metadata, HTTP headers and Kafka message headers
(and inside every event envelope), so one order is one trace across the services.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.instrumentation.grpc import filters as grpc_filters
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

if TYPE_CHECKING:  # the HTTP apps' own dependency; this module does not import FastAPI
    from fastapi.telemetry import TelemetryConfig

_enabled = False
#: the baggage entry that carries the channel request's id across services
REQUEST_ID = "request_id"
#: gRPC calls worth a span: all but health checks (probes every few seconds would bury the orders' traces)
NOT_HEALTH_CHECK = grpc_filters.negate(grpc_filters.health_check())
_tracer = trace.get_tracer("topup_platform")


def _exporter_from_env() -> SpanExporter | None:
    choice = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if choice == "none":
        return None
    if choice == "console":
        return ConsoleSpanExporter()
    if choice == "otlp" or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        protocol = os.environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        )
        if protocol.startswith("http"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter as HttpExporter,
            )

            return HttpExporter()
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return None


#: a subscriber's number (mobile, or broadband: 0, the area code, the line) is personal data: it never leaves in
#: a span, though URLs carry it (`/v1/accounts/mobile/186.../recharges`, `?account=...`, BOSS's subscriber paths).
#: The one place `\d` is meant Unicode-wide: masking errs towards more (a look-alike number is masked too).
_ACCOUNT = re.compile(r"(?<!\d)(?:(?:\+|%2[Bb])?86[- ]?)?(?:1[3-9]\d{9}|0\d{10,11})(?!\d)")
_URL_ATTRIBUTES = ("url.path", "url.query", "url.full", "http.url", "http.target")


class MaskAccounts(SpanProcessor):
    """Masks subscriber numbers in the URL attributes a span starts with (the HTTP instrumentations set them
    there), before any exporter sees it."""

    def on_start(self, span: Span, parent_context: context.Context | None = None) -> None:
        for key in _URL_ATTRIBUTES:
            value = (span.attributes or {}).get(key)
            if isinstance(value, str) and _ACCOUNT.search(value):
                span.set_attribute(key, _ACCOUNT.sub("***", value))


def configure_tracing(service: str) -> TracerProvider | None:
    """Install the process's TracerProvider when spans have somewhere to go (an exporter from the `OTEL_*`
    variables); the sampler follows `OTEL_TRACES_SAMPLER`. Without an exporter nothing is installed and
    tracing costs nothing: no spans are made, the gRPC tracing interceptors are left out, and a trace
    context that arrives (HTTP, gRPC, Kafka) is still passed on."""
    global _enabled
    if _enabled or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    exporter = _exporter_from_env()
    if exporter is None:
        return None
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", service)})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(MaskAccounts())  # first: the exporter sees masked spans
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _enabled = True
    return provider


def fastapi_telemetry(*, unprobed: tuple[str, ...] = ("/healthz", "/readyz", "/metrics")) -> TelemetryConfig:
    """FastAPI's own OpenTelemetry settings for our HTTP apps: the HTTP server span (continuing the caller's
    trace, when tracing is on) and nothing else; probes and scrapes make no spans."""
    return {"operation_spans": False, "metrics": False, "logs": False,
            "exclude": lambda scope: scope.get("path") in unprobed}


def tracing_enabled() -> bool:
    return _enabled


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if shutdown is not None:
        shutdown()


def inject_context(carrier: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """The current trace context as W3C headers (`traceparent`, `tracestate`)."""
    out: dict[str, str] = dict(carrier or {})
    propagate.inject(out)
    return out


def extract_context(carrier: Mapping[str, str]) -> context.Context:
    return propagate.extract(dict(carrier))


@contextlib.contextmanager
def attached(carrier: Mapping[str, str]) -> Iterator[None]:
    """Make the context `carrier` holds current for the block, without a span of its own: log lines written
    inside carry that trace (and the request id in its baggage). An empty carrier leaves the context as is."""
    if not carrier:
        yield
        return
    token = context.attach(propagate.extract(dict(carrier)))
    try:
        yield
    finally:
        context.detach(token)


@contextlib.contextmanager
def item_spans(name: str, items: Iterable[tuple[Mapping[str, str], Mapping[str, str | int]]], *,
               kind: trace.SpanKind = trace.SpanKind.INTERNAL) -> Iterator[None]:
    """Work done for many requests at once (a batch call, a poll of events): for each item, given as (its
    trace context, its span attributes), a span in that item's own trace covering the whole batch. None of
    them is made current: the batch belongs to no single trace. Items that came with no trace get none.
    `items` is read only when tracing is on (pass a generator: it costs nothing otherwise)."""
    if not _enabled:
        yield
        return
    parents = ((propagate.extract(dict(carrier)), attributes) for carrier, attributes in items if carrier)
    spans = [_tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
             for parent, attributes in parents if trace.get_current_span(parent).get_span_context().is_valid]
    try:
        yield
    except Exception as exc:  # (a cancelled call is not an error of the items')
        for span in spans:
            span.record_exception(exc)
            span.set_status(trace.StatusCode.ERROR)
        raise
    finally:
        for span in spans:
            span.end()


@contextlib.contextmanager
def linked_trace(carrier: Mapping[str, str], name: str, *,
                 attributes: Mapping[str, str | int] | None = None) -> Iterator[trace.Span]:
    """A trace of its own, linked to the one `carrier` holds: for work repeated many times over hours for
    one order (a refund's status polls), which would otherwise grow the order's trace without bound."""
    linked = trace.get_current_span(propagate.extract(dict(carrier))).get_span_context() if carrier else None
    links = [trace.Link(linked)] if linked is not None and linked.is_valid else []
    with _tracer.start_as_current_span(name, context=context.Context(), links=links, attributes=attributes) as span:
        yield span


@contextlib.contextmanager
def rejoin(carrier: Mapping[str, str]) -> Iterator[None]:
    """Work on something whose trace `carrier` holds, arriving from elsewhere (a provider's notice, a person's
    decision): inside the block the current context is the carrier's, unless it already is that trace (then
    the present span stays the parent). Events written inside join the order's trace."""
    stored = trace.get_current_span(propagate.extract(dict(carrier))).get_span_context() if carrier else None
    current = trace.get_current_span().get_span_context()
    if stored is None or not stored.is_valid or (current.is_valid and current.trace_id == stored.trace_id):
        yield
        return
    with attached(carrier):
        yield


@contextlib.contextmanager
def continue_trace(carrier: Mapping[str, str], name: str, *, kind: trace.SpanKind = trace.SpanKind.INTERNAL,
                   attributes: Mapping[str, str | int] | None = None) -> Iterator[trace.Span]:
    """A span in the trace whose context `carrier` holds (an event's envelope, a stored job), current for the
    block: work that resumes later, in another process or task, stays in its order's trace."""
    with attached(carrier), _tracer.start_as_current_span(name, kind=kind, attributes=attributes) as span:
        yield span


def with_request_id(request_id: str) -> context.Context:
    """The current context with the request id as W3C baggage: it travels wherever the trace context does
    (gRPC metadata, event envelopes, Kafka headers), so other services' log lines name the request too."""
    return baggage.set_baggage(REQUEST_ID, request_id)


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
