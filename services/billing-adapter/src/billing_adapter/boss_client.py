"""HTTP client of BOSS. Returns classified outcomes; raises nothing for BOSS's own failures."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from billing_adapter import transformers
from billing_adapter.domain.outcomes import Classified


@dataclass(frozen=True, slots=True)
class Call:
    result: Classified
    latency_ms: int


class BossClient:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 1.0)),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def credit(self, transaction_id: str, account_type: str, account_id: str, amount_fen: int) -> Call:
        return await self._write("/boss/v1/recharges", {"transaction_id": transaction_id,
                                                        "account_type": account_type, "account_id": account_id,
                                                        "amount_fen": amount_fen})

    async def data_pack(self, transaction_id: str, account_type: str, account_id: str, pack_code: str) -> Call:
        return await self._write("/boss/v1/data-packs", {"transaction_id": transaction_id,
                                                         "account_type": account_type, "account_id": account_id,
                                                         "pack_code": pack_code})

    async def query(self, transaction_id: str) -> Call:
        started = time.perf_counter()
        try:
            response = await self.http.get(f"/boss/v1/transactions/{transaction_id}")
            result = transformers.classify_query(response)
        except httpx.HTTPError as err:
            result = transformers.classify_transport_error(err)
        return Call(result, _ms(started))

    async def balance(self, account_type: str, account_id: str) -> httpx.Response:
        return await self.http.get(f"/boss/v1/subscribers/{account_type}/{account_id}")

    async def _write(self, path: str, body: dict[str, object]) -> Call:
        started = time.perf_counter()
        try:
            response = await self.http.post(path, json=body)
            result = transformers.classify_write(response)
        except httpx.HTTPError as err:
            result = transformers.classify_transport_error(err)
        return Call(result, _ms(started))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
