"""HTTP client of BOSS (aiohttp). Returns classified outcomes; raises nothing for BOSS's own failures."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from opentelemetry.instrumentation.aiohttp_client import create_trace_config
from yarl import URL

from billing_adapter import transformers
from billing_adapter.domain.outcomes import Classified
from topup_platform import telemetry
from topup_platform.identifiers import url_segment


@dataclass(frozen=True, slots=True)
class Call:
    result: Classified
    latency_ms: int


class BossClient:
    def __init__(self, base_url: str, timeout: float, *, max_connections: int = 100) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 1.0))
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:  # created inside the running loop
            # with tracing on, every call is a client span and carries the order's trace to BOSS (traceparent)
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, connector=aiohttp.TCPConnector(limit=self.max_connections),
                raise_for_status=False,
                trace_configs=[create_trace_config()] if telemetry.tracing_enabled() else None)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def credit(self, transaction_id: str, account_type: str, account_id: str, amount_fen: int, *,
                     deadline: datetime) -> Call:
        """A credit BOSS applies before `deadline` or never (so a lost answer stops mattering after it)."""
        return await self._call("POST", "/boss/v1/recharges", transformers.classify_write, {
            "transaction_id": transaction_id, "account_type": account_type, "account_id": account_id,
            "amount_fen": amount_fen}, deadline=deadline)

    async def data_pack(self, transaction_id: str, account_type: str, account_id: str, pack_code: str, *,
                        deadline: datetime) -> Call:
        return await self._call("POST", "/boss/v1/data-packs", transformers.classify_write, {
            "transaction_id": transaction_id, "account_type": account_type, "account_id": account_id,
            "pack_code": pack_code}, deadline=deadline)

    async def query(self, transaction_id: str) -> Call:
        return await self._call("GET", f"/boss/v1/transactions/{url_segment(transaction_id)}",
                                transformers.classify_query)

    async def ported_numbers(self, since: datetime) -> list[tuple[datetime, str, str]]:
        """(ported_at, number, carrier) of the numbers BOSS published as ported since `since`."""
        async with self.session.get(f"{self.base_url}/boss/v1/ported-numbers",
                                    params={"since": since.isoformat()}) as reply:
            body = await _json(reply)
        if reply.status != 200 or body.get("result_code") != "0000":
            raise RuntimeError(f"BOSS refused the ported-number query: {reply.status} {body.get('result_code')}")
        return [(datetime.fromisoformat(i["ported_at"]), str(i["number"]), str(i["carrier"])) for i in body["items"]]

    async def transactions(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """BOSS's transaction list for [start, end): the reconciliation file, read page by page."""
        items: list[dict[str, Any]] = []
        after = ""
        while True:
            async with self.session.get(f"{self.base_url}/boss/v1/transactions", params={
                    "start": start.isoformat(), "end": end.isoformat(), "after": after, "limit": "5000"},
                    timeout=aiohttp.ClientTimeout(total=60)) as reply:
                body = await _json(reply)
            if reply.status != 200 or body.get("result_code") != "0000":
                raise RuntimeError(f"BOSS refused the transaction list: {reply.status} {body.get('result_code')}")
            items += body["items"]
            after = body.get("next") or ""
            if not after:
                return items

    async def balance(self, account_type: str, account_id: str) -> tuple[int, Mapping[str, Any]]:
        """(HTTP status, body) of a balance query; transport errors propagate."""
        async with self.session.get(self._url(f"/boss/v1/subscribers/{url_segment(account_type)}/"
                                              f"{url_segment(account_id)}")) as reply:
            return reply.status, await _json(reply)

    def _url(self, path: str) -> URL:
        """The URL of `path`, whose segments are quoted already (url_segment): taken as it is, not re-parsed."""
        return URL(self.base_url + path, encoded=True)

    async def _call(self, method: str, path: str, classify: Callable[[int, Mapping[str, Any]], Classified],
                    body: dict[str, Any] | None = None, *, deadline: datetime | None = None) -> Call:
        started = time.perf_counter()
        headers = {"X-Request-Deadline": deadline.isoformat()} if deadline is not None else None
        try:
            async with self.session.request(method, self._url(path), json=body, headers=headers) as reply:
                result = classify(reply.status, await _json(reply))
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            result = transformers.classify_transport_error(err)
        return Call(result, int((time.perf_counter() - started) * 1000))


async def _json(reply: aiohttp.ClientResponse) -> Mapping[str, Any]:
    try:
        body = await reply.json(content_type=None)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
