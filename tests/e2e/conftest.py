"""End-to-end tests: every service and simulator as its own process (started by the same launcher as
`make run`), on the session's PostgreSQL and broker, driven through the gateway the way a channel would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from topup_client import AsyncTopupClient
from topup_devstack.stack import Stack, start_stack

pytestmark = pytest.mark.e2e

#: Faster clocks than production, so faults resolve in seconds: BOSS calls time out after 0.5 s.
FAST = {
    "BOSS_SIM_LATENCY_MS": "0",
    "BOSS_SIM_HANG_SECONDS": "30",
    "BILLING_BOSS_TIMEOUT_SECONDS": "0.5",
    "BILLING_BACKOFF_BASE_SECONDS": "0.05",
    "BILLING_STATUS_QUERY_BACKOFF_SECONDS": "0.1",
    "BILLING_LEASE_SECONDS": "5",
    "LOG_FORMAT": "json",
}

FINAL = {"SUCCEEDED", "FAILED", "REFUNDED", "REJECTED", "UNDER_REVIEW"}


@pytest.fixture(scope="package")
def stack(infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    s = start_stack(tmp_path_factory.mktemp("stack"), {**infra.env(), **FAST})
    yield s
    s.stop()


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[AsyncTopupClient]:
    async with AsyncTopupClient(stack.gateway, "demo", "demo-secret", retries=0) as c:
        yield c


def new_id(prefix: str = "e2e") -> str:
    return f"{prefix}-{time.time_ns()}"


def recharge(account_id: str = "18612345678", sku: str = "CREDIT_50", paid_fen: int = 5000,
             **extra: Any) -> dict[str, Any]:
    return {"channel_order_id": new_id(), "account_id": account_id, "sku": sku, "payment_method": "alipay",
            "transaction_id": new_id("PAY"), "paid_fen": paid_fen, **extra}


async def wait_final(client: AsyncTopupClient, order_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        order = await client.get_recharge(order_id)
        if order["status"] in FINAL or time.monotonic() > deadline:
            return order  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)


def staff_headers(*roles: str, staff: str = "alice") -> dict[str, str]:
    """A staff bearer token signed with the development secret the stack runs with."""
    from gateway.admin_auth import Role, issue_token
    from gateway.settings import GatewaySettings

    return {"Authorization": "Bearer " + issue_token(GatewaySettings(), staff, [Role(r) for r in roles])}


@pytest.fixture
async def new_channel(stack: Stack) -> AsyncIterator[Any]:
    """Make a channel (its registry row and key, as the gateway's admin does) and a client signing for it."""
    import asyncpg

    from gateway.channels import ChannelRegistry, SecretBox
    from gateway.settings import GatewaySettings

    clients: list[AsyncTopupClient] = []
    pool = await asyncpg.create_pool(stack.ports["database_url"], min_size=1, max_size=2,
                                     server_settings={"search_path": "gateway"})
    settings = GatewaySettings()

    async def make(channel_id: str, secret: str = "s3cret-of-the-shop") -> AsyncTopupClient:
        registry = ChannelRegistry(pool, SecretBox(settings.master_key.get_secret_value()), 5)
        await registry.ensure_channel(channel_id, channel_id, "k1", secret)
        client = AsyncTopupClient(stack.gateway, channel_id, secret, retries=0)
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.http.aclose()
    await pool.close()
