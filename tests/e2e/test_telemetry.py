"""Telemetry, end to end: one order is one trace, from the channel's HTTP request through gRPC and Kafka to
the call to BOSS, exported over OTLP to a real receiver; the JSON log lines about the order carry it; and the
order core's metrics count each order once, by channel and outcome, with its arrival time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import recharge, staff_headers, wait_final
from tests.e2e.otlp import OtlpCollector, Span
from topup_client import AsyncTopupClient
from topup_client.client import recharge_body
from topup_devstack.stack import Stack

SERVER, CLIENT, CONSUMER = 2, 3, 5  # OTLP's SpanKind numbers

#: the hops of one recharge that must all be in its trace: (service, span kind, a test of the span)
HOPS: dict[str, tuple[str, int, Callable[[Span], bool]]] = {
    "the channel's HTTP request": ("gateway", SERVER, lambda s: s.name == "POST /v1/recharges"),
    "the risk decision (gRPC)": ("risk", SERVER, lambda s: s.name.startswith("/topup.risk.v1.RiskService/Evaluate")),
    "the order's creation (gRPC)": ("orders", SERVER, lambda s: "OrdersService/CreateRecharge" in s.name),
    "the order event, consumed": ("billing-adapter", CONSUMER, lambda s: "topup.orders.events" in s.name),
    "the call to BOSS": ("billing-adapter", CLIENT, lambda s: s.attributes.get("http.request.method", s.attributes.get(
        "http.method")) == "POST"),
    "BOSS receiving it (traceparent header)": ("boss-sim", SERVER, lambda s: s.name == "POST /boss/v1/recharges"),
    "the billing outcome, consumed": ("orders", CONSUMER, lambda s: "topup.billing.events" in s.name),
}


def trace_of(spans: list[Span], order_id: str) -> str | None:
    return next((s.trace_id for s in spans if order_id in (s.attributes.get("topup.aggregate_id"),
                                                           s.attributes.get("topup.order_id"))), None)


def missing_hops(trace: list[Span]) -> list[str]:
    return [hop for hop, (service, kind, test) in HOPS.items()
            if not any(s.service == service and s.kind == kind and test(s) for s in trace)]


async def order_trace(collector: OtlpCollector, order_id: str, timeout: float = 20.0) -> list[Span]:
    """The spans of the order's trace, once every hop has been exported (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        spans = collector.spans()
        trace_id = trace_of(spans, order_id)
        trace = [s for s in spans if s.trace_id == trace_id]
        if (trace and not missing_hops(trace)) or time.monotonic() > deadline:
            return trace
        await asyncio.sleep(0.2)


async def test_the_spans_of_one_order_share_one_trace(client: AsyncTopupClient, collector: OtlpCollector) -> None:
    order = await client.create_recharge(**recharge())
    assert (await wait_final(client, order["order_id"]))["status"] == "SUCCEEDED"

    trace = await order_trace(collector, order["order_id"])
    assert trace, "no span names the order"
    assert missing_hops(trace) == []
    # one root (the channel's request); every other span's parent is in the same trace
    span_ids = {s.span_id for s in trace}
    roots = [s for s in trace if not s.parent_span_id]
    assert [(r.service, r.name) for r in roots] == [("gateway", "POST /v1/recharges")]
    assert all(s.parent_span_id in span_ids for s in trace if s.parent_span_id)
    # the call to BOSS happens inside the fulfilment of this order
    fulfil = next(s for s in trace if s.name == "fulfil order")
    assert fulfil.attributes["topup.order_id"] == order["order_id"]


async def test_probes_make_no_spans(client: AsyncTopupClient, collector: OtlpCollector, stack: Stack) -> None:
    async with httpx.AsyncClient() as http:  # the launcher and the gateway's readiness probe the others too
        assert (await http.get(f"{stack.gateway}/readyz")).status_code == 200
    await asyncio.sleep(1)
    probes = [(s.service, s.name) for s in collector.spans()
              if "grpc.health" in s.name or s.name in ("GET /healthz", "GET /readyz", "GET /metrics")]
    assert probes == []


async def test_two_orders_are_two_traces(client: AsyncTopupClient, collector: OtlpCollector) -> None:
    first, second = await asyncio.gather(client.create_recharge(**recharge()), client.create_recharge(**recharge()))
    for o in (first, second):
        assert (await wait_final(client, o["order_id"]))["status"] == "SUCCEEDED"
    one, other = (await order_trace(collector, first["order_id"]), await order_trace(collector, second["order_id"]))
    assert missing_hops(one) == [] and missing_hops(other) == []
    assert one[0].trace_id != other[0].trace_id


async def test_log_lines_about_an_order_carry_its_trace_and_ids(client: AsyncTopupClient, stack: Stack,
                                                                 collector: OtlpCollector) -> None:
    # baggage from outside is not ours to pass on: a forged request id must not reach our log lines
    order = await client.request("POST", "/v1/recharges", body=recharge_body(**recharge()),
                                 headers={"baggage": "request_id=forged-by-a-channel"})
    assert client.last_response is not None
    request_id = client.last_response.headers["X-Request-Id"]
    assert (await wait_final(client, order["order_id"]))["status"] == "SUCCEEDED"
    trace_id = (await order_trace(collector, order["order_id"]))[0].trace_id

    lines = [orjson.loads(line[line.index("{"):]) for line in stack.log_path.read_text(errors="replace").splitlines()
             if order["order_id"] in line and "{" in line]
    records = [r for r in lines if r.get("order_id") == order["order_id"]]
    services = {r["service"] for r in records}
    assert {"orders", "billing-adapter"} <= services, services
    assert all(r.get("trace_id") == trace_id for r in records), records
    created = next(r for r in records if r["event"] == "order created")
    assert created["request_id"] == request_id


async def orders_metrics(stack: Stack, channel: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The orders service's samples for one channel: (sample name, labels but the channel) -> value."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{stack.ports['metrics_base'] + 1}/metrics")).text
    return {(s.name, frozenset((k, v) for k, v in s.labels.items() if k != "channel")): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.labels.get("channel") == channel}


async def test_orders_are_counted_once_by_channel_and_outcome_with_their_arrival_time(
        stack: Stack, new_channel) -> None:  # type: ignore[no-untyped-def]
    channel = f"metrics{time.time_ns() % 10**8}"
    shop = await new_channel(channel)
    async with httpx.AsyncClient(base_url=stack.gateway) as http:  # a new channel sells nothing until priced
        reply = await http.put(f"/admin/v1/channels/{channel}/prices", headers=staff_headers("admin"),
                               json={"prices": [{"sku": "CREDIT_50", "price_fen": 5000},
                                                {"sku": "CREDIT_20", "price_fen": 2000}]})
        assert reply.status_code == 200, reply.text
    good = [await shop.create_recharge(**recharge()) for _ in range(2)]
    # BOSS does not know this subscriber: the order fails, and is then refunded (one order, one outcome)
    lost = await shop.create_recharge(**recharge("18600000001", "CREDIT_20", 2000))
    for o in good:
        assert (await wait_final(shop, o["order_id"]))["status"] == "SUCCEEDED"
    assert (await wait_final(shop, lost["order_id"]))["status"] == "REFUNDED"

    samples = await orders_metrics(stack, channel)
    counted = {dict(labels)["status"]: (dict(labels)["sku"], value) for (name, labels), value in samples.items()
               if name == "topup_orders_total"}
    assert counted == {"SUCCEEDED": ("CREDIT_50", 2.0), "FAILED": ("CREDIT_20", 1.0)}
    arrival = {name: value for (name, labels), value in samples.items()
               if name.startswith("topup_order_arrival_seconds") and dict(labels).get("le") in (None, "10.0")}
    # both credits arrived within the document's 10 s (the BOSS simulator answers at once here)
    assert arrival["topup_order_arrival_seconds_count"] == 2
    assert arrival["topup_order_arrival_seconds_bucket"] == 2
    assert 0 < arrival["topup_order_arrival_seconds_sum"] < 20
