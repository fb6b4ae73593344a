"""Subscriber numbers never leave in a span; batch items and repeated work get the traces they should."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from topup_platform import telemetry
from topup_platform.telemetry import MaskAccounts


@pytest.fixture
def exported() -> tuple[TracerProvider, InMemorySpanExporter]:
    provider, exporter = TracerProvider(), InMemorySpanExporter()
    provider.add_span_processor(MaskAccounts())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.mark.parametrize(("key", "value", "masked"), [
    ("url.path", "/v1/accounts/mobile/18612345678/recharges", "/v1/accounts/mobile/***/recharges"),
    ("url.query", "account=18612345678&x=1", "account=***&x=1"),
    ("url.query", "account=%2B8618612345678", "account=***"),
    ("url.path", "/v1/accounts/mobile/+86-18612345678/recharges", "/v1/accounts/mobile/***/recharges"),
    ("url.full", "http://boss/boss/v1/subscribers/broadband/01012345678", "http://boss/boss/v1/subscribers/broadband/***"),
    *[("url.path", kept, kept) for kept in ("/v1/recharges/01a20f33-7731-7217-bffb-fcb009f4d5c7",
                                            "/boss/v1/transactions/T123456789012345")],
])
def test_subscriber_numbers_are_masked_in_url_attributes(exported: tuple[TracerProvider, InMemorySpanExporter],
                                                         key: str, value: str, masked: str) -> None:
    provider, exporter = exported
    provider.get_tracer("t").start_span("GET", attributes={key: value, "other": "18612345678"}).end()
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes[key] == masked
    assert span.attributes["other"] == "18612345678"  # only URLs are rewritten; our own attributes never hold one



@pytest.fixture
def tracing(exported: tuple[TracerProvider, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch) -> Any:
    provider, exporter = exported
    monkeypatch.setattr(telemetry, "_tracer", provider.get_tracer("test"))
    monkeypatch.setattr(telemetry, "_enabled", True)
    return provider, exporter


def carrier_of(span: trace.Span) -> dict[str, str]:
    out: dict[str, str] = {}
    propagate.inject(out, context=trace.set_span_in_context(span))
    return out


def test_each_batch_item_gets_a_span_in_its_own_trace_and_items_without_one_get_none(tracing: Any) -> None:
    provider, exporter = tracing
    one, other = (provider.get_tracer("t").start_span(n) for n in ("request 1", "request 2"))
    with telemetry.item_spans("create order", iter([(carrier_of(one), {"n": 1}), (carrier_of(other), {"n": 2}),
                                                    ({}, {"n": 3}), ({"baggage": "request_id=x"}, {"n": 4})])):
        pass
    items = [s for s in exporter.get_finished_spans() if s.name == "create order"]
    assert sorted((s.attributes or {})["n"] for s in items) == [1, 2]
    parents = {(s.attributes or {})["n"]: (s.context.trace_id, s.parent.span_id if s.parent else None) for s in items}
    assert parents[1] == (one.get_span_context().trace_id, one.get_span_context().span_id)
    assert parents[2] == (other.get_span_context().trace_id, other.get_span_context().span_id)


def test_repeated_work_is_a_trace_of_its_own_linked_to_the_orders(tracing: Any) -> None:
    provider, exporter = tracing
    order = provider.get_tracer("t").start_span("POST /v1/recharges")
    with telemetry.linked_trace(carrier_of(order), "refund status poll"):
        pass
    (poll,) = [s for s in exporter.get_finished_spans() if s.name == "refund status poll"]
    assert poll.parent is None and poll.context.trace_id != order.get_span_context().trace_id
    assert [link.context.span_id for link in poll.links] == [order.get_span_context().span_id]
