"""End-to-end tests: every service and simulator as its own process (started by the same launcher as
`make run`), on the session's PostgreSQL and broker, driven through the gateway the way a channel would."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.otlp import OtlpCollector
from topup_client import ApiError, AsyncTopupClient, is_settled
from topup_devstack.stack import Stack, start_stack

pytestmark = pytest.mark.e2e

#: Faster clocks than production, so faults resolve in seconds: BOSS calls time out after 0.5 s.
FAST = {
    "BOSS_SIM_LATENCY_MS": "0",
    "BOSS_SIM_HANG_SECONDS": "30",
    "BOSS_SIM_LATE_WRITE_SECONDS": "1.5",
    "BILLING_BOSS_TIMEOUT_SECONDS": "0.5",
    "BILLING_BOSS_CLOCK_SKEW_SECONDS": "0.2",  # BOSS's simulator runs on our clock
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
    "REFUNDS_LEDGER_CHECK_SECONDS": "2",
    "REFUNDS_LEDGER_CHECK_SETTLE_SECONDS": "1",
    "LOG_FORMAT": "json",
    # callbacks retried within seconds, not Alipay's hours
    "GATEWAY_CALLBACK_RETRY_SECONDS": "[0.3, 0.5, 1, 1, 1]",
    "GATEWAY_CALLBACK_POLL_SECONDS": "0.2",
    "GATEWAY_CALLBACK_LEASE_SECONDS": "3",
    "GATEWAY_CALLBACK_TIMEOUT_SECONDS": "2",
}

#: where an order rests: a paid order that failed or was rejected rests only once its refund settled (REFUNDED)
is_final = is_settled


@pytest.fixture(scope="package")
def collector() -> Iterator[OtlpCollector]:
    """Where the stack's spans go: tracing is on in these tests, as it is in production."""
    c = OtlpCollector().start()
    yield c
    c.stop()


@pytest.fixture(scope="package")
def stack(infra, collector: OtlpCollector, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    s = start_stack(tmp_path_factory.mktemp("stack"), {**infra.env(), **FAST, **collector.env(), **sink_env()})
    allow_sinks(s.gateway)
    allow_sandbox_numbers(s.gateway)
    yield s
    s.stop()


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[AsyncTopupClient]:
    async with AsyncTopupClient(stack.gateway, "demo", "demo-secret", retries=0) as c:
        yield c


def new_id(prefix: str = "e2e") -> str:
    return f"{prefix}-{time.time_ns()}"


def some_number() -> str:
    """A Unicom number of its own for a test (the risk engine counts recharges per number: tests that all used
    one number would trip its velocity rules)."""
    return f"1861{secrets.randbelow(10**7):07d}"


def recharge(account_id: str | None = None, sku: str = "CREDIT_50", paid_fen: int = 5000,
             **extra: Any) -> dict[str, Any]:
    return {"channel_order_id": new_id(), "account_id": account_id or some_number(), "sku": sku,
            "payment_method": "alipay",
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


async def outcome(coro: Any) -> tuple[int, str]:
    """(HTTP status, code) of an SDK call: (200, "OK") when it succeeds, else the gateway's error."""
    try:
        await coro
    except ApiError as err:
        return err.status, err.code
    return 200, "OK"


class CallbackSink:
    """A channel's notify_url endpoint for tests: answers each POST with the next status of `answers` (the last
    one from then on; a status alone answers `success` or `not now`, a (status, body) pair that body; a 3xx
    with `Location: location`) and keeps what it received (path with query, headers,
    body). Its URLs are under a path of its own on a `SinkServer`, so a late callback meant for another test's
    sink never lands here."""

    def __init__(self, server: SinkServer, token: str, answers: tuple[int | tuple[int, bytes], ...] = (200,),
                 location: str | None = None) -> None:
        import threading

        self.server = server
        self.token = token
        self.answers = list(answers)
        self.location = location
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()

    def url(self, path: str = "/notify") -> str:
        return f"http://127.0.0.1:{self.server.port}/{self.token}{path}"

    def path(self, path: str = "/notify") -> str:
        """The path (with query) a callback to `url(path)` arrives with."""
        return f"/{self.token}{path}"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        with self.lock:
            self.received.append((path, headers, body))
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer if isinstance(answer, tuple) else (answer, b"success" if answer < 300 else b"not now")

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[tuple[str, dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return list(self.received)

    def close(self) -> None:
        self.server.sinks.pop(self.token, None)


class SinkServer:
    """One local HTTP server for callback sinks, each under `/<token>/` (a request for no open sink: 404)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.sinks: dict[str, CallbackSink] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint = server.sinks.get(self.path.split("/")[1])
                status, reply = endpoint.answer(self.path, dict(self.headers.items()), body) if endpoint \
                    else (404, b"no such sink")
                self.send_response(status)
                if endpoint and endpoint.location and 300 <= status < 400:
                    self.send_header("Location", endpoint.location)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.http.server_address[1])
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def sink(self, answers: tuple[int | tuple[int, bytes], ...] = (200,), location: str | None = None) -> CallbackSink:
        endpoint = CallbackSink(self, f"s{time.time_ns()}", answers, location)
        self.sinks[endpoint.token] = endpoint
        return endpoint

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


class Sinks:
    """The callback endpoints of a test session: a `SinkServer` listening from the start on the one port the
    gateway's test-only allowlist names (callbacks never reach loopback otherwise), and one allowlisted port
    where nothing listens (a dead endpoint). The demo channel registers both as its callback URL prefixes."""

    def __init__(self) -> None:
        import socket

        self.server = SinkServer()
        self._dead = socket.socket()
        self._dead.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        self.dead_port = int(self._dead.getsockname()[1])

    @property
    def ports(self) -> list[int]:
        return [self.server.port, self.dead_port]


_SINKS: Sinks | None = None


def sinks() -> Sinks:
    global _SINKS
    if _SINKS is None:
        _SINKS = Sinks()
    return _SINKS


def sink_env() -> dict[str, str]:
    """The gateway's test-only allowlist: exactly the session's sink server and dead port."""
    import json

    return {"GATEWAY_CALLBACK_TEST_ALLOW_ADDRESSES": json.dumps([f"127.0.0.1:{p}" for p in sinks().ports])}


def sink_prefixes() -> list[str]:
    """The callback URL prefixes of the session's sinks (for a channel that wants to be called back there)."""
    return [f"http://127.0.0.1:{p}/" for p in sinks().ports]


def dead_url(path: str = "/notify") -> str:
    """An allowlisted callback address where nobody listens."""
    return f"http://127.0.0.1:{sinks().dead_port}{path}"


#: BOSS's sandbox numbers (README: BOSS sandbox numbers), which every suite's tests use again and again
SANDBOX_NUMBERS = tuple(f"186000000{n:02d}" for n in range(1, 9))


def allow_sandbox_numbers(gateway: str) -> None:
    """The sandbox numbers are the suite's test cards, recharged by many tests within minutes: on the risk
    engine's allow list, its velocity rules (20 recharges of one number in 10 minutes) leave them alone. Tests of
    those rules use numbers of their own (`some_number`)."""
    for number in SANDBOX_NUMBERS:
        reply = httpx.put(f"{gateway}/admin/v1/risk/lists/allow/account/{number}", headers=staff_headers("admin"),
                          timeout=30, json={"reason": "sandbox number: the e2e suite's test card"})
        assert reply.status_code in (200, 201), reply.text


def allow_sinks(gateway: str, channel_id: str = "demo") -> None:
    """Register the session's sink addresses as the channel's callback URL prefixes (a channel without prefixes
    cannot use notify_url)."""
    reply = httpx.patch(f"{gateway}/admin/v1/channels/{channel_id}", headers=staff_headers("admin"), timeout=30,
                        json={"callbacks": {"enabled": True, "url_prefixes": sink_prefixes()}})
    assert reply.status_code == 200, reply.text


@pytest.fixture
def sink() -> Iterator[Any]:
    """Make callback sinks on the session's sink server (closed at the end of the test)."""
    made: list[CallbackSink] = []

    def make(*answers: int | tuple[int, bytes], location: str | None = None) -> CallbackSink:
        made.append(sinks().server.sink(answers or (200,), location))
        return made[-1]

    yield make
    for s in made:
        s.close()
