"""Starting and stopping the platform as separate processes, exactly as `make run` does (for the e2e tests
and the benchmarks)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc import aio as grpc_aio

from topup_devstack.certs import DevPki


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    ports: dict[str, Any]
    log_path: Path
    #: the environment the stack was started with (on top of this process's)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def boss(self) -> str:
        return f"http://127.0.0.1:{self.ports['boss']}"

    @property
    def payments(self) -> str:
        return f"http://127.0.0.1:{self.ports['payments']}"

    def grpc(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    @property
    def pki(self) -> DevPki:
        """The dev CA and certificates the platform runs with (mutual TLS between the services)."""
        return DevPki(Path(self.ports["certs"]))

    def channel(self, name: str, identity: str = "ops") -> grpc_aio.Channel:
        """A gRPC channel to one of the services, as `identity` (its certificate: gateway, refunds, ops...)."""
        cert, key, ca = self.pki.read(identity)
        return grpc_aio.secure_channel(self.grpc(name), grpc.ssl_channel_credentials(ca, key, cert))

    def spawn(self, module: str, log_name: str, **extra_env: str) -> subprocess.Popen[bytes]:
        """Run one of the platform's processes (left out with `without`) with the stack's environment and, for a
        service, its certificate (`log_name` is its process name: billing-adapter, gateway...)."""
        with open(self.log_path.with_name(f"{log_name}.log"), "ab") as log:
            return subprocess.Popen([sys.executable, "-m", module], env={**os.environ, **self.env,
                                                                         **self.ports["env"],
                                                                         **self.ports["tls"].get(log_name, {}),
                                                                         **extra_env},
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> int:
        """Ctrl-C, as a person would; returns the launcher's exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
                raise
        return self.process.returncode


def start_stack(workdir: Path, env: dict[str, str], *, timeout: float = 120.0,
                without: tuple[str, ...] = (), args: tuple[str, ...] = ()) -> Stack:
    """The platform as `make run` starts it; `without` leaves processes out for the caller to run (the
    environment they need is `stack.ports["env"]`); `args` go to `topup-dev run` (`--reset`). Started again
    in the same `workdir`, it finds the database as the last run left it."""
    workdir.mkdir(parents=True, exist_ok=True)
    ready = workdir / "ready.json"
    ready.unlink(missing_ok=True)
    log_path = workdir / "stack.log"
    args = (sys.executable, "-m", "topup_devstack.launcher", "run", "--port-base", "0", "--ready-file", str(ready),
            "--data-dir", str(workdir / "pgdata"), *(f"--without={name}" for name in without), *args)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    stack = Stack(process, {}, log_path, env)
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                stack.stop()
            raise RuntimeError(f"the platform did not start:\n{stack.log_tail()}")
        time.sleep(0.2)
    stack.ports = json.loads(ready.read_text())
    return stack
