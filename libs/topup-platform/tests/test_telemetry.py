"""Subscriber numbers never leave in a span."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

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

