"""`make run`'s supervisor (issue 13, items 3 and 7): a process that dies, the broker included, is started again
with a backoff while the rest keeps running; Ctrl-C still stops everything with exit code 0 (no `make: ***
Error 130`) and no traceback; the data is kept across restarts unless `make reset` wipes it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.e2e.conftest import recharge, wait_final
from topup_client import ApiError, AsyncTopupClient
from topup_devstack.infra import port_open
from topup_devstack.stack import Stack, start_stack

ENV = {"DATABASE_URL": "", "KAFKA_BOOTSTRAP_SERVERS": "", "BOSS_SIM_LATENCY_MS": "0"}


def pids(stack: Stack, name: str) -> list[int]:
    """Every pid the supervisor announced for `name`, in order (`... system | orders started (pid=123)`)."""
    text = stack.log_path.read_text(errors="replace")
    return [int(p) for p in re.findall(rf"\| {re.escape(name)} started \(pid=([0-9]+)\)", text)]


def wait_for(what: str, condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.2)


def ready(stack: Stack) -> bool:
    try:
        return httpx.get(f"{stack.gateway}/readyz", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def serving(stack: Stack, name: str) -> bool:
    cert, key, ca = stack.pki.read("ops")
    credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    try:
        with grpc.secure_channel(stack.grpc(name), credentials) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
    except grpc.RpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def recharged(stack: Stack) -> dict:  # type: ignore[type-arg]
    """A new order, accepted (retried while the platform comes back) and then final."""
    async with AsyncTopupClient(stack.gateway, "demo", "demo-secret", retries=0) as client:
        body = recharge()
        deadline = time.monotonic() + 60
        while True:
            try:
                order = await client.create_recharge(**body)
                break
            except (ApiError, httpx.HTTPError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        return await wait_final(client, order["order_id"], timeout=60)  # type: ignore[no-any-return]


async def order_status(stack: Stack, order_id: str) -> int:
    path = f"/v1/recharges/{order_id}"
    from topup_client.signing import signed_headers

    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        reply = await http.get(path, headers=signed_headers("demo", "demo-secret", "GET", path, b""))
    return reply.status_code


def running(pattern: str) -> bool:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0


@pytest.mark.timeout(420)
async def test_a_dead_process_is_restarted_and_ctrl_c_still_stops_everything(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, ENV)
    try:
        first = await recharged(stack)
        assert first["status"] == "SUCCEEDED", first

        # a service killed outright comes back on its own, and the rest never stopped
        [orders] = pids(stack, "orders")
        gateway = pids(stack, "gateway")
        os.kill(orders, signal.SIGKILL)
        wait_for("orders started again", lambda: len(pids(stack, "orders")) == 2)
        assert pids(stack, "orders")[1] != orders
        wait_for("orders serving again", lambda: serving(stack, "orders"))
        assert stack.process.poll() is None, stack.log_tail()
        assert pids(stack, "gateway") == gateway, "the gateway was restarted too"
        assert (await recharged(stack))["status"] == "SUCCEEDED"

        # so does the broker (empty: it keeps nothing), and new orders are taken and carried through again
        [broker] = pids(stack, "kafka")
        os.kill(broker, signal.SIGKILL)
        wait_for("the broker started again", lambda: len(pids(stack, "kafka")) == 2)
        wait_for("ready again", lambda: ready(stack), timeout=90)
        assert (await recharged(stack))["status"] == "SUCCEEDED"
        assert stack.process.poll() is None, stack.log_tail()
        stopping_at = stack.log_path.stat().st_size
        # BOSS holds this one's calls without answering (sandbox 06): the stop finds a request in flight there
        async with AsyncTopupClient(stack.gateway, "demo", "demo-secret", retries=0) as client:
            await client.create_recharge(**recharge("18600000006", sku="CREDIT_10", paid_fen=1000))
        await asyncio.sleep(1.5)
    finally:
        code = stack.stop()

    # Ctrl-C: exit 0 (make says nothing), no traceback, nothing left listening, the database stopped
    assert code == 0, stack.log_tail()
    with stack.log_path.open("rb") as log:
        log.seek(stopping_at)
        assert b"Traceback" not in log.read()
    ports = [v for k, v in stack.ports.items() if isinstance(v, int)]
    assert [p for p in ports if port_open(p)] == []
    assert not running(str(tmp_path / "pgdata")), "the embedded PostgreSQL was left running"
    assert not running(f"tcp://127.0.0.1:{stack.ports['kafka']}"), "the broker was left running"

    # started again on the same data: the order is still there (the broker starts empty, PostgreSQL does not);
    # `make reset` refuses while it runs, and wipes the database once it is stopped
    again = start_stack(tmp_path, ENV)
    try:
        assert await order_status(again, first["order_id"]) == 200
        refused = reset(tmp_path)
        assert refused.returncode == 1 and "stop make run first" in refused.stderr, refused
    finally:
        assert again.stop() == 0
    assert reset(tmp_path).returncode == 0
    assert not (tmp_path / "pgdata").exists()


def reset(workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "topup_devstack.launcher", "reset", "--data-dir",
                           str(workdir / "pgdata")], capture_output=True, text=True, timeout=30)
