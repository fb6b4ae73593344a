"""Telemetry, end to end: one order is one trace, from the channel's HTTP request through gRPC and Kafka to
the call to BOSS, exported over OTLP to a real receiver; the JSON log lines about the order carry it; and the
order core's metrics count each order once, by channel and outcome, with its arrival time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from uuid import UUID

import asyncpg
import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import recharge, staff_headers, wait_final
from tests.e2e.otlp import OtlpCollector, Span
from topup_client import AsyncTopupClient
from topup_client.client import recharge_body
from topup_devstack.stack import Stack

INTERNAL, SERVER, CLIENT, CONSUMER = 1, 2, 3, 5  # OTLP's SpanKind numbers

#: the hops of one recharge that must all be in its trace: (service, span kind, a test of the span)
HOPS: dict[str, tuple[str, int, Callable[[Span], bool]]] = {
    "the channel's HTTP request": ("gateway", SERVER, lambda s: s.name == "POST /v1/recharges"),
    # (the gateway coalesces concurrent requests into batch calls: each item has its own span in its own trace)
    "the risk decision (gRPC)": ("risk", INTERNAL, lambda s: s.name == "evaluate attempt"),
    "the order's creation (gRPC)": ("orders", INTERNAL, lambda s: s.name == "create order"),
    "the order event, consumed": ("billing-adapter", CONSUMER, lambda s: "topup.orders.events" in s.name),
    "the fulfilment": ("billing-adapter", INTERNAL, lambda s: s.name == "fulfil order"),
    "the call to BOSS": ("billing-adapter", CLIENT, lambda s: s.attributes.get("http.request.method", s.attributes.get(
        "http.method")) == "POST"),
    "BOSS receiving it (traceparent header)": ("boss-sim", SERVER, lambda s: s.name == "POST /boss/v1/recharges"),
    "the billing outcome, consumed": ("orders", CONSUMER, lambda s: "topup.billing.events" in s.name),
}


#: and when BOSS refuses the credit, the refund's hops, in the same trace
REFUND_HOPS: dict[str, tuple[str, int, Callable[[Span], bool]]] = {
    "the failed order's event, consumed by refunds": ("refunds", CONSUMER, lambda s: "topup.orders.events" in s.name),
    "the refund's work": ("refunds", INTERNAL, lambda s: s.name == "refund order"),
    "the call to the payment provider": ("refunds", CLIENT, lambda s: s.attributes.get(
        "http.request.method", s.attributes.get("http.method")) == "POST"),
    "the provider receiving it (traceparent header)": ("payments-sim", SERVER,
                                                        lambda s: s.name == "POST /{provider}/v1/refunds"),
    "the settlement, consumed by orders": ("orders", CONSUMER, lambda s: "topup.refunds.events" in s.name),
}


def trace_of(spans: list[Span], order_id: str) -> str | None:
    return next((s.trace_id for s in spans if order_id in (s.attributes.get("topup.aggregate_id"),
                                                           s.attributes.get("topup.order_id"))), None)


def missing_hops(trace: list[Span], hops: dict[str, tuple[str, int, Callable[[Span], bool]]] = HOPS) -> list[str]:
    return [hop for hop, (service, kind, test) in hops.items()
            if not any(s.service == service and s.kind == kind and test(s) for s in trace)]


def orphans(trace: list[Span]) -> list[Span]:
    """Spans whose parent is not (yet) among the trace's exported spans."""
    ids = {s.span_id for s in trace}
    return [s for s in trace if s.parent_span_id and s.parent_span_id not in ids]


async def order_trace(collector: OtlpCollector, order_id: str, timeout: float = 20.0,
                      hops: dict[str, tuple[str, int, Callable[[Span], bool]]] = HOPS) -> list[Span]:
    """The spans of the order's trace, once every hop has been exported (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        spans = collector.spans()
        trace_id = trace_of(spans, order_id)
        trace = [s for s in spans if s.trace_id == trace_id]
        # each process exports on its own timer: wait for every hop, and for every span's parent
        if (trace and not missing_hops(trace, hops) and not orphans(trace)) or time.monotonic() > deadline:
            return trace
        await asyncio.sleep(0.2)


async def test_the_spans_of_one_order_share_one_trace(client: AsyncTopupClient, collector: OtlpCollector) -> None:
    order = await client.create_recharge(**recharge())
    assert (await wait_final(client, order["order_id"]))["status"] == "SUCCEEDED"

    trace = await order_trace(collector, order["order_id"])
    assert trace, "no span names the order"
    assert missing_hops(trace) == []
    # one root (the channel's request); every other span's parent is in the same trace
    roots = [s for s in trace if not s.parent_span_id]
    assert [(r.service, r.name) for r in roots] == [("gateway", "POST /v1/recharges")]
    assert orphans(trace) == []
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


async def test_a_refund_stays_in_its_orders_trace(client: AsyncTopupClient, collector: OtlpCollector) -> None:
    order = await client.create_recharge(**recharge("18600000001", "CREDIT_20", 2000))  # BOSS: no such subscriber
    assert (await wait_final(client, order["order_id"]))["status"] == "REFUNDED"
    everything = {**HOPS, **REFUND_HOPS}
    trace = await order_trace(collector, order["order_id"], hops=everything)
    assert missing_hops(trace, everything) == []
    roots = [s for s in trace if not s.parent_span_id]
    assert [(r.service, r.name) for r in roots] == [("gateway", "POST /v1/recharges")]


async def test_concurrent_orders_are_one_trace_each(client: AsyncTopupClient, collector: OtlpCollector) -> None:
    """Concurrent requests go to risk and orders in shared batch calls: still one whole trace per order, with
    its own root, and no subscriber number in any span."""
    bodies = [recharge() for _ in range(12)]
    orders = await asyncio.gather(*(client.create_recharge(**b) for b in bodies))
    for o in orders:
        assert (await wait_final(client, o["order_id"]))["status"] == "SUCCEEDED"
    traces = [await order_trace(collector, o["order_id"]) for o in orders]
    for trace in traces:
        assert missing_hops(trace) == [] and orphans(trace) == []
        assert [s.name for s in trace if not s.parent_span_id] == ["POST /v1/recharges"]
    assert len({t[0].trace_id for t in traces}) == len(orders)
    numbers = {b["account_id"] for b in bodies}
    for n in list(numbers)[:2]:  # URLs that name a subscriber: the pre-flight and the history
        await client.request("GET", "/v1/products", query={"account": n})
        await client.request("GET", f"/v1/accounts/mobile/{n}/recharges")
    await asyncio.sleep(1)  # exported
    leaked = [(s.service, s.name, k) for s in collector.spans() for k, v in s.attributes.items()
              if any(n in str(v) for n in numbers)]
    assert leaked == []


async def test_log_lines_about_an_order_carry_its_trace_and_ids(client: AsyncTopupClient, stack: Stack,
                                                                 collector: OtlpCollector) -> None:
    # trace context from outside is not ours to continue or pass on: not the channel's trace id, not its baggage
    forged_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    order = await client.request("POST", "/v1/recharges", body=recharge_body(**recharge()), headers={
        "traceparent": f"00-{forged_trace}-00f067aa0ba902b7-01", "tracestate": "channel=1",
        "baggage": "request_id=forged-by-a-channel,evil=1"})
    assert client.last_response is not None
    request_id = client.last_response.headers["X-Request-Id"]
    assert (await wait_final(client, order["order_id"]))["status"] == "SUCCEEDED"
    trace = await order_trace(collector, order["order_id"])
    trace_id = trace[0].trace_id
    assert trace_id != forged_trace
    assert [s.name for s in trace if not s.parent_span_id] == ["POST /v1/recharges"]
    conn = await asyncpg.connect(stack.ports["database_url"])
    try:  # what the billing adapter keeps of the order's context, and sends on to BOSS
        kept = await conn.fetchval("SELECT trace_context FROM billing.fulfilments WHERE order_id = $1",
                                   UUID(order["order_id"]))
    finally:
        await conn.close()
    assert "evil" not in kept and "forged" not in kept and "channel=1" not in kept and forged_trace not in kept
    assert trace_id in kept

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
