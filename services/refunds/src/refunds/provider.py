"""The payment providers' refund APIs, as seen from here: each call's answer classified into what we do
next, and their settlement notices verified.

    submit a refund   202 ACCEPTED / SETTLED  → Accepted (poll or wait for the notice)
                      REJECTED                → Rejected (for good: a person decides; REFUND_EXCEEDS_PAYMENT,
                                                more than the payment paid, is never paid back by hand)
                      409 REFUND_ID_CONFLICT  → Rejected (our id names another refund at the provider)
                      other 4xx               → Rejected (the provider will not take it as sent)
                      5xx, timeout, network   → Transient (send again, same refund id: providers are
                                                idempotent on it, so a lost reply never pays twice)
    query a refund    ACCEPTED/SETTLED/REJECTED → as the provider says
                      404                     → NotFound (never arrived: submit again)
                      5xx, timeout, network   → Transient
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from refunds import metrics
from topup_platform import telemetry, vocab

PROVIDERS = frozenset(name for name in vocab.PAYMENT_METHODS if name != "voucher")


@dataclass(frozen=True, slots=True)
class Accepted:
    settled: bool
    provider_refund_no: str


@dataclass(frozen=True, slots=True)
class Rejected:
    reason_code: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Transient:
    error: str


@dataclass(frozen=True, slots=True)
class NotFound:
    pass


Answer = Accepted | Rejected | Transient | NotFound


def classify(status_code: int, body: dict[str, Any]) -> Answer:
    if status_code in (200, 201, 202):
        status = body.get("status")
        if status == "REJECTED":
            return Rejected(str(body.get("reject_reason") or "PROVIDER_REJECTED"))
        if status in ("ACCEPTED", "SETTLED"):
            return Accepted(status == "SETTLED", str(body.get("provider_refund_no", "")))
        return Transient(f"unexpected answer {status!r}")
    if status_code == 404:
        return NotFound()
    if status_code in (408, 429) or status_code >= 500:
        return Transient(f"HTTP {status_code} {body.get('code', '')}".strip())
    return Rejected(str(body.get("code") or f"HTTP_{status_code}"), str(body.get("message", "")))


class ProviderClient:
    def __init__(self, base_url: str, notify_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.notify_url = notify_url.rstrip("/")
        self.http = httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=64))
        if telemetry.tracing_enabled():  # each call a client span, carrying the order's trace (traceparent)
            HTTPXClientInstrumentor.instrument_client(self.http)

    async def submit(self, provider: str, refund_id: str, transaction_id: str, amount_fen: int,
                     paid_fen: int | None = None) -> Answer:
        """`paid_fen`: what the original payment paid, when we know it (WeChat Pay's `amount.total`)."""
        body: dict[str, Any] = {"refund_id": refund_id, "transaction_id": transaction_id, "amount_fen": amount_fen,
                                "notify_url": f"{self.notify_url}/{provider}/refund-notices"}
        if paid_fen:
            body["paid_fen"] = paid_fen
        return await self._call(provider, "submit", "POST", f"/{provider}/v1/refunds", body)

    async def query(self, provider: str, refund_id: str) -> Answer:
        return await self._call(provider, "query", "GET", f"/{provider}/v1/refunds/{refund_id}", None)

    async def _call(self, provider: str, kind: str, method: str, path: str, body: dict[str, Any] | None) -> Answer:
        try:
            response = await self.http.request(method, self.base_url + path,
                                               content=orjson.dumps(body) if body is not None else None,
                                               headers={"Content-Type": "application/json"})
            try:
                payload = response.json()
            except ValueError:
                payload = {}
            answer = classify(response.status_code, payload if isinstance(payload, dict) else {})
        except httpx.HTTPError as err:
            answer = Transient(f"{type(err).__name__}: {err}"[:300])
        metrics.PROVIDER_CALLS.labels(provider, kind, type(answer).__name__.lower()).inc()
        return answer

    async def close(self) -> None:
        await self.http.aclose()


def verify_notice(secret: str, body: bytes, signature: str) -> bool:
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, signature)
