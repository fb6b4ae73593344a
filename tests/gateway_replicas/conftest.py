"""The gateway as several replicas, killed and restarted, on a platform of its own (its own database and
broker): the other processes run under the launcher, the gateways are run by the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import FAST, allow_sinks, sink, sink_env  # noqa: F401 (the callback-sink fixture, shared)
from topup_devstack.infra import free_port
from topup_devstack.stack import Stack, start_stack

pytestmark = pytest.mark.e2e

#: quick heartbeats and leases, so replicas come and go within seconds
REPLICA_ENV = {
    "GATEWAY_REPLICA_HEARTBEAT_SECONDS": "0.5",
    "GATEWAY_CHANNEL_REFRESH_SECONDS": "0.5",
    "GATEWAY_CALLBACK_RETRY_SECONDS": "[1.5, 1.5, 1.5, 1.5]",
    "GATEWAY_CALLBACK_LEASE_SECONDS": "3",
    "GATEWAY_CALLBACK_POLL_SECONDS": "0.2",
}


@pytest.fixture(scope="package")
def gstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {**FAST, **REPLICA_ENV, **sink_env(), "DATABASE_URL": "", "KAFKA_BOOTSTRAP_SERVERS": ""}
    s = start_stack(tmp_path_factory.mktemp("gstack"), env, without=("gateway",))
    yield s
    s.stop()


class Gateway:
    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, leases and heartbeats left behind."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def metric(self, name: str) -> float:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))


@pytest.fixture
def gateways(gstack: Stack) -> Iterator[Callable[..., Gateway]]:
    """Start gateway replicas (each on its own port, or a given one); all are killed at the end."""
    started: list[Gateway] = []

    def start(port: int | None = None, **env: str) -> Gateway:
        port = port or free_port()
        process = gstack.spawn("gateway", "gateway", GATEWAY_PORT=str(port), **env)
        gateway = Gateway(process, port)
        started.append(gateway)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{gateway.url}/readyz", timeout=2).status_code == 200:
                    allow_sinks(gateway.url)  # the demo channel's callback prefixes: the session's sinks
                    return gateway
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not start:\n{gstack.log_tail()}")
            time.sleep(0.2)

    yield start
    for gateway in started:
        gateway.kill()


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
