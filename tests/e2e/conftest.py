"""End-to-end tests: every service and simulator as its own process (started by the same launcher as
`make run`), on the session's PostgreSQL and broker, driven through the gateway the way a channel would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
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
    # sandbox 04 and 06 are BOSS being unwell on purpose, many times over: the breaker must not hold the suite
    "BILLING_BREAKER_THRESHOLD": "40",
    "BILLING_BREAKER_RESET_SECONDS": "2",
    "PAYMENTS_SIM_SETTLE_SECONDS": "0.2",
    "PAYMENTS_SIM_TICK_SECONDS": "0.05",
    "PAYMENTS_SIM_NOTICE_BACKOFF_SECONDS": "0.2",
    "PAYMENTS_SIM_HANG_SECONDS": "2",
    "REFUNDS_PROVIDER_TIMEOUT_SECONDS": "1",
    "REFUNDS_POLL_INITIAL_SECONDS": "0.5",
    "REFUNDS_BACKOFF_BASE_SECONDS": "0.1",
    "REFUNDS_BACKOFF_CAP_SECONDS": "0.5",
    "REFUNDS_MAX_ATTEMPTS": "4",
    "REFUNDS_MONITOR_SECONDS": "1",
    "LOG_FORMAT": "json",
}

#: where an order rests: a paid order that failed or was rejected rests only once its refund settled (REFUNDED)
SETTLED = {"SUCCEEDED", "REFUNDED", "UNDER_REVIEW"}


def is_final(order: dict[str, Any]) -> bool:
    unpaid = order["payment"]["method"] == "voucher" or order["payment"]["paid_fen"] == 0
    return order["status"] in SETTLED or (order["status"] in ("FAILED", "REJECTED") and unpaid)


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
    return await wait_until(client, order_id, is_final, timeout)


async def wait_status(client: AsyncTopupClient, order_id: str, status: str, timeout: float = 30.0) -> dict[str, Any]:
    return await wait_until(client, order_id, lambda o: o["status"] == status, timeout)


async def wait_until(client: AsyncTopupClient, order_id: str, done: Callable[[dict[str, Any]], bool],
                     timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        order = await client.get_recharge(order_id)
        if done(order) or time.monotonic() > deadline:
            return order  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)


async def provider_ledger(stack: Stack, provider: str, transaction_id: str) -> dict[str, Any]:
    """The payment provider's view of one original payment: its refunds, and how much went back."""
    async with httpx.AsyncClient(base_url=stack.payments) as http:
        reply = await http.get(f"/{provider}/v1/payments/{transaction_id}")
        reply.raise_for_status()
        return reply.json()  # type: ignore[no-any-return]


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


class Desk:
    """The admin API of the review desk and refunds, as staff use it (each call names who and in which role)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def call(self, method: str, path: str, *, staff: str = "alice", role: str = "reviewer",
                   **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, path, headers=staff_headers(role, staff=staff), **kwargs)

    async def case_of(self, order_id: str, kind: str = "ORDER_UNDER_REVIEW", timeout: float = 20.0) -> dict[str, Any]:
        """The order's case of this kind (waits for the event that opens it), with its audit trail."""
        deadline = time.monotonic() + timeout
        while True:
            reply = await self.call("GET", "/admin/v1/review-cases", params={"order_id": order_id, "kind": kind})
            reply.raise_for_status()
            if cases := reply.json()["cases"]:
                return (await self.call("GET", f"/admin/v1/review-cases/{cases[0]['case_id']}")).json()  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                raise AssertionError(f"no {kind} case for order {order_id}")
            await asyncio.sleep(0.1)

    async def decide(self, case_id: str, action: str, *, staff: str = "alice", role: str = "reviewer",
                     reason: str = "checked with BOSS operations", reference: str = "") -> httpx.Response:
        return await self.call("POST", f"/admin/v1/review-cases/{case_id}/decisions", staff=staff, role=role,
                               json={"action": action, "reason": reason, "reference": reference})

    async def refund_of(self, order_id: str, *, until: str | None = None, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            reply = await self.call("GET", f"/admin/v1/orders/{order_id}/refund", role="finance")
            if reply.status_code == 200 and (until is None or reply.json()["status"] == until):
                return reply.json()  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                raise AssertionError(f"refund of {order_id}: {reply.status_code} {reply.text}")
            await asyncio.sleep(0.1)


@pytest.fixture
async def desk(stack: Stack) -> AsyncIterator[Desk]:
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=30) as http:
        yield Desk(http)
