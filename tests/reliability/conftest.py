"""Reliability tests: faults, kills and restarts, checking the ledger invariants (DESIGN.md section 4).

The platform runs as separate processes, except the billing adapter, which each test runs (and kills, and
restarts) itself."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import FAST, is_final
from topup_client import AsyncTopupClient
from topup_devstack.infra import EmbeddedKafka, free_port
from topup_devstack.stack import Stack, start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="package")
def rstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # A database and a broker of its own: these tests compare whole ledgers, and two platforms on one broker
    # would share consumer groups (each taking the other's events).
    env = {**FAST, "DATABASE_URL": "", "KAFKA_BOOTSTRAP_SERVERS": "", "BILLING_BREAKER_RESET_SECONDS": "2",
           "BOSS_SIM_LATENCY_MS": "10"}
    s = start_stack(tmp_path_factory.mktemp("rstack"), env, without=("billing-adapter",))
    yield s
    s.stop()


@pytest.fixture
def adapters(rstack: Stack) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start billing adapters (killed at the end of the test)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        process = rstack.spawn("billing_adapter", "billing-adapter", **env)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture
async def rclient(rstack: Stack) -> AsyncIterator[AsyncTopupClient]:
    async with AsyncTopupClient(rstack.gateway, "demo", "demo-secret", retries=3) as c:
        yield c


@pytest.fixture
async def db(rstack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(rstack.ports["database_url"], min_size=1, max_size=4)
    assert pool is not None
    yield pool
    await pool.close()


async def set_faults(stack: Stack, **faults: float) -> None:
    async with httpx.AsyncClient() as http:
        reply = await http.put(f"{stack.boss}/sim/faults", json=faults)
        reply.raise_for_status()


async def wait_all_final(client: AsyncTopupClient, order_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    final: dict[str, dict[str, Any]] = {}
    while True:
        for order_id in [o for o in order_ids if o not in final]:
            order = await client.get_recharge(order_id)
            if is_final(order):
                final[order_id] = order
        if len(final) == len(order_ids) or time.monotonic() > deadline:
            return final
        await asyncio.sleep(0.5)


async def boss_ledger(db: asyncpg.Pool, order_ids: list[str]) -> dict[str, list[asyncpg.Record]]:
    """BOSS's successful transactions per order (our transaction ids are <order id hex>-c / -d)."""
    rows = await db.fetch(
        "SELECT transaction_id, account_id, amount_fen, status FROM boss_sim.transactions WHERE status = 'SUCCESS'"
        " AND left(transaction_id, 32) = ANY($1::text[])", [o.replace("-", "") for o in order_ids])
    out: dict[str, list[asyncpg.Record]] = {o: [] for o in order_ids}
    by_hex = {o.replace("-", ""): o for o in order_ids}
    for r in rows:
        out[by_hex[r["transaction_id"][:32]]].append(r)
    return out


async def provider_refunds(db: asyncpg.Pool, transaction_ids: list[str]) -> dict[str, list[int]]:
    """The payment provider's settled refunds per original payment (fen)."""
    rows = await db.fetch("SELECT transaction_id, amount_fen FROM payments_sim.refunds WHERE status = 'SETTLED'"
                          " AND transaction_id = ANY($1::text[])", transaction_ids)
    out: dict[str, list[int]] = {t: [] for t in transaction_ids}
    for r in rows:
        out[r["transaction_id"]].append(r["amount_fen"])
    return out


class Broker:
    """A Kafka-protocol broker the test owns (not the launcher), so that it can be killed without a goodbye and
    started again on the same port. The embedded Tansu broker keeps everything in memory: started again, it is
    empty (no topics, no messages, no committed offsets), as a broker that lost its disks would be."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.log_path = workdir / "tansu.log"
        self._broker = EmbeddedKafka(self.port, self.log_path)

    @property
    def env(self) -> dict[str, str]:
        return {"KAFKA_BOOTSTRAP_SERVERS": self._broker.bootstrap, **EmbeddedKafka.CLIENT_ENV}

    def start(self) -> None:
        self._broker = EmbeddedKafka(self.port, self.log_path)
        self._broker.start()

    def kill(self) -> None:
        """SIGKILL: whatever it held is gone."""
        process = self._broker._proc
        assert process is not None and process.poll() is None, "the broker is not running"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        self._broker.stop()


def pid_of(stack: Stack, module: str) -> int:
    """The process id of one of the stack's processes (`python -m <module>` with the stack's database)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            if cmdline[-3:-1] != [b"-m", module.encode()]:
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"DATABASE_URL={stack.ports['database_url']}".encode() in environ:
            return int(entry.name)
    raise LookupError(f"no {module} process of this stack")


@contextlib.contextmanager
def paused(stack: Stack, *modules: str) -> Iterator[None]:
    """Freeze processes of the stack (SIGSTOP) and let them go on (SIGCONT) afterwards: while frozen they
    consume nothing, so what is sent to them waits in the broker."""
    pids = [pid_of(stack, m) for m in modules]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
