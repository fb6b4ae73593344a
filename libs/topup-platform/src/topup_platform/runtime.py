"""Process lifecycle of a service: `python -m <service>` → `run(main)`.

`ServiceRuntime` owns what a service process holds (the pool, the Kafka producer, the gRPC server, the
background workers) and tears it down in order on SIGTERM or SIGINT:

    health NOT_SERVING → stop accepting → finish in-flight calls → stop workers (consumers finish their
    poll and commit offsets) → flush the producer → close the pool.

A worker that dies unexpectedly stops the whole process with a non-zero exit, so the supervisor (`make run`'s,
Kubernetes) restarts it instead of leaving a half-alive service. A gRPC service with a producer is ready only
while its broker answers (topup_platform.readiness); its liveness does not depend on the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable
from importlib import resources
from typing import Protocol

import asyncpg
import uvloop
from aiokafka import AIOKafkaProducer

from topup_platform import metrics, migrations, telemetry
from topup_platform.db import pool_from_settings
from topup_platform.grpc_server import GrpcServer
from topup_platform.kafka import ensure_topics, make_producer
from topup_platform.logging import configure_logging, get_logger
from topup_platform.readiness import BrokerWatch
from topup_platform.settings import PlatformSettings

log = get_logger(__name__)


class Worker(Protocol):
    async def run(self) -> None: ...
    async def stop(self) -> None: ...


class Periodic:
    """A worker that runs `job` every `interval` seconds until stopped (sweepers, monitors, refreshes). A
    round that fails is logged and the next one runs: one bad round never stops the process."""

    def __init__(self, name: str, job: Callable[[], Awaitable[object]], interval: float, *,
                 run_at_start: bool = True) -> None:
        self.name = name
        self.job = job
        self.interval = interval
        self.run_at_start = run_at_start
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        if not self.run_at_start:
            await self._pause()
        while not self._stopping.is_set():
            try:
                await self.job()
            except Exception:
                log.exception("periodic job failed; it runs again next round", job=self.name)
            await self._pause()

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.interval)

    async def stop(self) -> None:
        self._stopping.set()


def service_migrations(package: str, *, platform: bool = True) -> list[migrations.Migration]:
    """The platform's migrations (outbox, inbox) followed by the package's own (`<package>/migrations/*.sql`)."""
    own = migrations.load(package, resources.files(package) / "migrations")
    return [*migrations.platform_migrations(), *own] if platform else own


async def connect_pool(settings: PlatformSettings, *, attempts: int = 60) -> asyncpg.Pool:
    for attempt in range(1, attempts + 1):
        try:
            return await pool_from_settings(settings)
        except (OSError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError) as exc:
            if attempt == attempts:
                raise
            log.warning("database not reachable yet", attempt=attempt, error=str(exc))
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


async def open_pool(settings: PlatformSettings, package: str, *, platform_tables: bool = True) -> asyncpg.Pool:
    """The service's pool, after applying its migrations when `TOPUP_MIGRATE_ON_START` says so."""
    pool = await connect_pool(settings)
    if settings.migrate_on_start:
        async with pool.acquire() as conn:
            await migrations.migrate(conn, settings.db_schema, service_migrations(package, platform=platform_tables))
    return pool


class ServiceRuntime:
    def __init__(self, settings: PlatformSettings, *, package: str) -> None:
        self.settings = settings
        self.package = package
        self.stop_requested = asyncio.Event()
        self.exit_code = 0
        self._pool: asyncpg.Pool | None = None
        self._producer: AIOKafkaProducer | None = None
        self._workers: list[tuple[Worker, asyncio.Task[None]]] = []

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "database not started"
        return self._pool

    @property
    def producer(self) -> AIOKafkaProducer:
        assert self._producer is not None, "kafka not started"
        return self._producer

    async def __aenter__(self) -> ServiceRuntime:
        s = self.settings
        configure_logging(s.service_name, level=s.log_level, json=s.json_logs)
        telemetry.configure_tracing(s.service_name)
        s.require_tls()
        metrics.serve_metrics(s.metrics_port, s.listen_host)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        self._pool = await open_pool(s, self.package)
        return self

    async def start_kafka(self, topics: Iterable[str]) -> AIOKafkaProducer:
        await ensure_topics(self.settings, topics)
        self._producer = make_producer(self.settings)
        await self._producer.start()
        return self._producer

    def request_stop(self) -> None:
        if not self.stop_requested.is_set():
            log.info("stop requested")
            self.stop_requested.set()

    def start_worker(self, worker: Worker, name: str) -> None:
        task = asyncio.create_task(worker.run(), name=name)

        def done(t: asyncio.Task[None]) -> None:
            if t.cancelled() or self.stop_requested.is_set():
                return
            log.error("worker stopped unexpectedly; stopping the process", worker=name,
                      error=repr(t.exception()) if t.exception() else None)
            self.exit_code = 1
            self.request_stop()

        task.add_done_callback(done)
        self._workers.append((worker, task))

    async def serve(
        self, server: GrpcServer | None = None, on_ready: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        if server is not None:
            await server.start()
            if self._producer is not None:
                # readiness follows the broker; liveness does not (topup_platform.readiness)
                watch = BrokerWatch(self.settings)
                watch.listeners.append(server.set_ready)
                self.start_worker(watch, "broker-readiness")
        if on_ready is not None:
            await on_ready()
        log.info("service ready", service=self.settings.service_name)
        await self.stop_requested.wait()
        grace = self.settings.shutdown_grace_seconds
        if server is not None:
            await server.stop(grace)
        await self.stop_workers(grace)

    async def stop_workers(self, grace: float) -> None:
        """Stop workers in the reverse order of their start: consumers first (no new work), then the workers
        finishing in-flight work, and the outbox relay (started first) last, so it publishes their events."""
        while self._workers:
            worker, task = self._workers.pop()
            await worker.stop()
            done, _ = await asyncio.wait([task], timeout=grace)
            if not done:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_workers(1.0)
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pool.close(), 5)
        telemetry.shutdown_tracing()
        log.info("service stopped", service=self.settings.service_name)


def run(main: Callable[[], Awaitable[int | None]]) -> None:
    """Run a service's async main on uvloop and exit with its code."""
    code: int | None = uvloop.run(main())  # type: ignore[arg-type]
    sys.exit(code or 0)
