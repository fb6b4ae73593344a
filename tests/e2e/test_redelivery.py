"""At-least-once delivery, exactly-once effects: events delivered again change nothing."""

from __future__ import annotations

import asyncio

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import recharge, wait_final
from topup.events.v1 import envelope_pb2
from topup_client import AsyncTopupClient
from topup_devstack.stack import Stack
from topup_platform.events import BILLING_TOPIC, ORDERS_TOPIC


async def _events_of(bootstrap: str, topic: str, order_id: str) -> list[tuple[str, bytes, list[tuple[str, bytes]]]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()])
        end = await consumer.end_offsets(list(consumer.assignment()))
        found = []
        while [tp for tp in end if await consumer.position(tp) < end[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [(topic, r.value, list(r.headers)) for r in records if r.key == order_id.encode()]
        return found
    finally:
        await consumer.stop()


async def _duplicates(stack: Stack) -> dict[str, float]:
    """topup_events_consumed_total{outcome="duplicate"} per consumer, from each service's /metrics."""
    out: dict[str, float] = {}
    async with httpx.AsyncClient() as http:
        for offset in (1, 2, 3):  # orders, billing-adapter, refunds
            text = (await http.get(f"http://127.0.0.1:{stack.ports['metrics_base'] + offset}/metrics")).text
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == "topup_events_consumed_total" and sample.labels["outcome"] == "duplicate":
                        out[sample.labels["consumer"]] = out.get(sample.labels["consumer"], 0) + sample.value
    return out


async def test_redelivered_events_change_nothing(client: AsyncTopupClient, stack: Stack) -> None:
    bootstrap = stack.ports["kafka_bootstrap"]
    body = recharge("18612340001", "CREDIT_20", 2000)
    order = await client.create_recharge(**body)
    assert (await wait_final(client, order["order_id"]))["status"] == "SUCCEEDED"
    history_before = (await client.request("GET", f"/v1/recharges/{order['order_id']}",
                                           query={"include_history": "true"}))["history"]
    async with httpx.AsyncClient() as http:
        balance_before = (await http.get(f"{stack.boss}/boss/v1/subscribers/mobile/18612340001")).json()

    # Every event of this order, on both topics, delivered once more (same bytes, same event ids).
    replays = await _events_of(bootstrap, ORDERS_TOPIC, order["order_id"]) + await _events_of(
        bootstrap, BILLING_TOPIC, order["order_id"])
    types = {envelope_pb2.EventEnvelope.FromString(v).event_type for _, v, _ in replays}
    assert {"topup.events.v1.FulfilmentRequested", "topup.events.v1.FulfilmentSucceeded"} <= types
    duplicates_before = await _duplicates(stack)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic, value, headers in replays:
            await producer.send_and_wait(topic, value, key=order["order_id"].encode(), headers=headers)
    finally:
        await producer.stop()
    # Each consumer saw every replay it cares about and recognised it by its event id. (Refunds cares only
    # about failed orders, so for this one it skips every event without a transaction.)
    expected = {
        "orders": sum(1 for t, _, _ in replays if t == BILLING_TOPIC),
        "billing-adapter": sum(1 for _, v, _ in replays if envelope_pb2.EventEnvelope.FromString(v).event_type
                               == "topup.events.v1.FulfilmentRequested"),
    }
    async with asyncio.timeout(20):
        while True:
            now = await _duplicates(stack)
            if {k: now.get(k, 0) - duplicates_before.get(k, 0) for k in expected} == expected:
                break
            await asyncio.sleep(0.2)

    history_after = (await client.request("GET", f"/v1/recharges/{order['order_id']}",
                                          query={"include_history": "true"}))["history"]
    async with httpx.AsyncClient() as http:
        balance_after = (await http.get(f"{stack.boss}/boss/v1/subscribers/mobile/18612340001")).json()
    assert history_after == history_before
    assert balance_after["balance_fen"] == balance_before["balance_fen"]  # BOSS was not credited again


async def test_polls_are_applied_together_without_falling_back(client: AsyncTopupClient, stack: Stack) -> None:
    """The one-transaction path of every consumer works (a failure there would be hidden by the fallback)."""
    orders = [await client.create_recharge(**recharge(f"1861234{i:04d}", "CREDIT_10", 1000)) for i in range(20)]
    for order in orders:
        assert (await wait_final(client, order["order_id"]))["status"] == "SUCCEEDED"
    async with httpx.AsyncClient() as http:
        for offset in (1, 2, 3):  # orders, billing-adapter, refunds
            text = (await http.get(f"http://127.0.0.1:{stack.ports['metrics_base'] + offset}/metrics")).text
            fallbacks = [s.value for f in text_string_to_metric_families(text) for s in f.samples
                         if s.name == "topup_consumer_batch_fallbacks_total"]
            assert sum(fallbacks) == 0
