"""What reaches BOSS's HTTP server when an id carries URL syntax: one quoted path segment, never a query, never a
climb to the parent path (a real aiohttp server on loopback records the raw request target)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from billing_adapter.boss_client import BossClient


@pytest.fixture
async def boss() -> AsyncIterator[tuple[BossClient, list[str]]]:
    seen: list[str] = []

    async def any_request(request: web.Request) -> web.Response:
        seen.append(request.raw_path)
        return web.json_response({"result_code": "2001"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", any_request)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = BossClient(f"http://127.0.0.1:{port}", timeout=5)
    yield client, seen
    await client.close()
    await runner.cleanup()


@pytest.mark.parametrize(("account_id", "target"), [
    ("18612345678", "/boss/v1/subscribers/mobile/18612345678"),
    ("18612345678?x=1", "/boss/v1/subscribers/mobile/18612345678%3Fx%3D1"),
    ("186/../../transactions", "/boss/v1/subscribers/mobile/186%2F..%2F..%2Ftransactions"),
    ("186#frag", "/boss/v1/subscribers/mobile/186%23frag"),
    ("%2e%2e", "/boss/v1/subscribers/mobile/%252e%252e"),
])
async def test_an_account_id_is_one_quoted_path_segment(boss: tuple[BossClient, list[str]], account_id: str,
                                                        target: str) -> None:
    client, seen = boss
    await client.balance("mobile", account_id)
    assert seen == [target]


@pytest.mark.parametrize("account_id", ["..", ".", ""])
async def test_dot_segments_never_leave(boss: tuple[BossClient, list[str]], account_id: str) -> None:
    client, seen = boss
    with pytest.raises(ValueError, match="segment"):
        await client.balance("mobile", account_id)
    assert seen == []


async def test_a_status_query_quotes_the_transaction_id(boss: tuple[BossClient, list[str]]) -> None:
    client, seen = boss
    await client.query("abc?d=1")
    assert seen == ["/boss/v1/transactions/abc%3Fd%3D1"]
