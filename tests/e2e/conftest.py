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
    # callbacks retried within seconds, not Alipay's hours
    "GATEWAY_CALLBACK_RETRY_SECONDS": "[0.3, 0.5, 1, 1, 1]",
    "GATEWAY_CALLBACK_POLL_SECONDS": "0.2",
    "GATEWAY_CALLBACK_LEASE_SECONDS": "3",
    "GATEWAY_CALLBACK_TIMEOUT_SECONDS": "2",
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


async def create_channel(gateway: str, channel_id: str, **fields: Any) -> dict[str, Any]:
    """Register a channel through the admin API; the answer carries its secrets (this once)."""
    import httpx

    body = {"channel_id": channel_id, "name": channel_id, **fields}
    async with httpx.AsyncClient(base_url=gateway) as http:
        reply = await http.post("/admin/v1/channels", headers=staff_headers("admin"), json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


def secret_of(created: dict[str, Any], kind: str) -> str:
    return next(s["secret"] for s in created["secrets"] if s["kind"] == kind)  # type: ignore[no-any-return]


@pytest.fixture
async def new_channel(stack: Stack) -> AsyncIterator[Any]:
    """Register a channel through the admin API, and give a client signing for it (`client.created`: the
    admin API's answer, with the callback secret)."""
    clients: list[AsyncTopupClient] = []

    async def make(channel_id: str, **fields: Any) -> AsyncTopupClient:
        created = await create_channel(stack.gateway, channel_id, **fields)
        client = AsyncTopupClient(stack.gateway, channel_id, secret_of(created, "hmac"), retries=0)
        client.created = created  # type: ignore[attr-defined]
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.http.aclose()


class CallbackSink:
    """A channel's notify_url endpoint for tests: answers each POST with the next status of `answers` (the last
    one from then on) and keeps what it received (path with query, headers, body)."""

    def __init__(self, answers: tuple[int, ...] = (200,)) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.answers = list(answers)
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink._lock:
                    sink.received.append((self.path, dict(self.headers.items()), body))
                    status = sink.answers.pop(0) if len(sink.answers) > 1 else sink.answers[0]
                reply = b"success" if status < 300 else b"not now"
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/notify") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[tuple[str, dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink() -> Iterator[Any]:
    """Make callback sinks (closed at the end of the test)."""
    made: list[CallbackSink] = []

    def make(*answers: int) -> CallbackSink:
        s = CallbackSink(answers or (200,))
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
