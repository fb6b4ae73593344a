"""Quotas (token buckets holding a replica's share) and load shedding (503 at once, fair per channel)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from gateway.channels import Channel
from gateway.limits import LoadShedMiddleware, QuotaLimiter, TokenBucket, retry_after


def test_a_bucket_gives_its_burst_then_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, capacity=3.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)  # one token every half second
    assert bucket.take(0.5) == 0.0
    assert bucket.take(0.6) == pytest.approx(0.4)
    assert [bucket.take(10.0) for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # refilled, never above the burst
    assert bucket.take(10.0) > 0


def test_each_replica_takes_its_share() -> None:
    channel = Channel("shop", "Shop", True, rate_per_second=10, burst=10)
    alone, one_of_two = QuotaLimiter(), QuotaLimiter()
    one_of_two.set_replicas(2)
    assert sum(alone.check(channel, 0.0) == 0 for _ in range(20)) == 10
    assert sum(one_of_two.check(channel, 0.0) == 0 for _ in range(20)) == 5
    assert one_of_two.check(channel, 0.0) == pytest.approx(0.2)  # 5 per second here
    # a quota change and a replica count change apply at once
    one_of_two.set_replicas(1)
    assert one_of_two.check(channel, 1.0) == 0.0
    other = Channel("other", "Other", True, rate_per_second=1, burst=1)
    assert alone.check(other, 0.0) == 0.0 and alone.check(other, 0.0) > 0


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after(s) for s in (0.01, 1.0, 1.2)] == ["1", "1", "2"]


async def _slow_app(scope: Any, receive: Any, send: Any) -> None:
    await asyncio.sleep(float(dict(scope["headers"]).get(b"x-sleep", b"0.3")))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _client(**limits: Any) -> httpx.AsyncClient:
    app = LoadShedMiddleware(_slow_app, **{"max_in_flight": 4, "max_per_channel": 2, "timeout_seconds": 5.0,
                                           **limits})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


async def test_past_the_channel_share_and_the_global_limit_it_sheds_at_once() -> None:
    async with _client() as http:
        async def call(channel: str, **headers: str) -> tuple[int, float]:
            started = time.perf_counter()
            reply = await http.get("/v1/products", headers={"X-Channel-Id": channel, **headers})
            return reply.status_code, time.perf_counter() - started

        flood = [asyncio.create_task(call("flood")) for _ in range(5)]
        await asyncio.sleep(0.05)
        calm = [asyncio.create_task(call("calm")) for _ in range(2)]
        await asyncio.sleep(0.05)
        third = await call("third")  # 2 flood + 2 calm in flight: the global limit
        results = await asyncio.gather(*flood, *calm)
    flood_codes = sorted(code for code, _ in results[:5])
    assert flood_codes == [200, 200, 503, 503, 503]
    assert all(elapsed < 0.1 for code, elapsed in results[:5] if code == 503), "shed at once, not queued"
    assert [code for code, _ in results[5:]] == [200, 200], "the other channel still got through"
    assert third[0] == 503 and third[1] < 0.1


async def test_a_shed_request_gets_the_documented_error() -> None:
    async with _client(max_in_flight=1) as http:
        slow = asyncio.create_task(http.get("/v1/products", headers={"X-Channel-Id": "a"}))
        await asyncio.sleep(0.05)
        reply = await http.get("/v1/products", headers={"X-Channel-Id": "b", "Accept-Language": "en"})
        health = await http.get("/healthz")  # never counted nor refused
        await slow
    assert reply.status_code == 503
    assert reply.headers["Retry-After"] == "1"
    body = json.loads(reply.content)
    assert body["code"] == "OVERLOADED" and body["message"].startswith("The gateway is at capacity")
    assert health.status_code == 200


async def test_a_request_past_its_deadline_is_answered_503() -> None:
    async with _client(timeout_seconds=0.1) as http:
        reply = await http.get("/v1/products", headers={"X-Channel-Id": "a", "X-Sleep": "1"})
    assert (reply.status_code, reply.json()["code"]) == (503, "UPSTREAM_TIMEOUT")


async def test_control_characters_in_the_path_or_query_are_refused_up_front() -> None:
    async with _client() as http:
        for target in ("/v1/recharges?channel_order_id=a%00b", "/v1/recharges/x%0Ay", "/v1/recharges?x=%7F"):
            reply = await http.get(target, headers={"X-Channel-Id": "a", "X-Sleep": "0"})
            assert (reply.status_code, reply.json()["code"]) == (400, "INVALID_REQUEST"), target
        assert (await http.get("/v1/recharges?channel_order_id=a%20b", headers={"X-Sleep": "0"})).status_code == 200


def test_text_fields_refuse_control_characters() -> None:
    from pydantic import ValidationError

    from gateway.schemas import RechargeIn

    body = {"channel_order_id": "A-1", "account": {"type": "mobile", "id": "18612345678"}, "sku": "CREDIT_50",
            "payment": {"method": "alipay", "transaction_id": "2026112422001", "paid_fen": 5000},
            "risk_context": {"ip": "10.0.0.1\u0000"}}
    with pytest.raises(ValidationError, match="control characters"):
        RechargeIn.model_validate_json(json.dumps(body))
    body["risk_context"]["ip"] = "10.0.0.1"  # type: ignore[index]
    assert RechargeIn.model_validate_json(json.dumps(body)).risk_context.ip == "10.0.0.1"  # type: ignore[union-attr]
