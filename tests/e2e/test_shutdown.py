"""Ctrl-C on `make run` stops everything: no service, broker or database is left listening."""

from __future__ import annotations

import subprocess

import pytest

from topup_devstack.infra import port_open
from topup_devstack.stack import start_stack


@pytest.mark.timeout(180)
def test_ctrl_c_leaves_nothing_listening(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Its own embedded PostgreSQL and broker, exactly as on a fresh machine (no DATABASE_URL, no Kafka named).
    env = {"DATABASE_URL": "", "KAFKA_BOOTSTRAP_SERVERS": "", "BOSS_SIM_LATENCY_MS": "0"}
    stack = start_stack(tmp_path, env)
    ports = [v for k, v in stack.ports.items() if isinstance(v, int)]
    pgdata = str(tmp_path / "pgdata")
    assert all(port_open(p) for p in (stack.ports["gateway"], stack.ports["risk"], stack.ports["boss"]))
    assert _running(pgdata)

    stack.stop()

    assert [p for p in ports if port_open(p)] == []
    assert not _running(pgdata), "the embedded PostgreSQL was left running"
    assert not _running(f"tcp://127.0.0.1:{stack.ports['kafka']}"), "the broker was left running"


def _running(pattern: str) -> bool:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0
