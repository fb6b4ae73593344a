"""Readiness that follows the broker.

A service whose broker is unreachable still answers calls, but what it accepts goes nowhere until the broker
is back (events wait in the outbox, consumers stand still): it is alive, not ready. `BrokerWatch` asks the
broker for its metadata every few seconds over a connection of its own (with the same security settings as
the producer) and tells its listeners when the answer changes:

- a gRPC service's health (`""` and each service name, what readiness probes and the gateway's `/readyz`
  ask) goes NOT_SERVING while the broker is unreachable and SERVING again when it is back;
- the gateway's `/readyz` answers 503 with `checks.broker`;
- liveness never follows it: the gRPC health service `liveness` and the gateway's `/healthz` stay SERVING /
  200 while the process runs, so a dead broker takes pods out of rotation and never gets them killed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from topup_platform.kafka import security_options
from topup_platform.logging import get_logger
from topup_platform.settings import PlatformSettings

log = get_logger(__name__)

#: the gRPC health service name that liveness probes ask: SERVING while the process runs, whatever the broker
LIVENESS = "liveness"


async def broker_reachable(settings: PlatformSettings, within: float) -> bool:
    """Whether the broker answers a metadata request within `within` seconds (a connection of its own)."""
    client = AIOKafkaClient(bootstrap_servers=settings.kafka_bootstrap_servers,
                            client_id=f"{settings.service_name}-readiness",
                            request_timeout_ms=max(int(within * 1000), 1000), **security_options(settings))
    try:
        await asyncio.wait_for(client.bootstrap(), within)
        return True
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        with contextlib.suppress(Exception):
            await client.close()


class BrokerWatch:
    """A worker (`run`/`stop`) that checks the broker every `interval` seconds; `reachable` is the last answer
    and `listeners` hear every change (`True`: back, `False`: lost)."""

    def __init__(self, settings: PlatformSettings, *, interval: float | None = None,
                 timeout: float | None = None) -> None:
        self.settings = settings
        self.interval = interval if interval is not None else settings.kafka_readiness_interval_seconds
        self.timeout = timeout if timeout is not None else settings.kafka_readiness_timeout_seconds
        self.reachable = True
        self.listeners: list[Callable[[bool], Awaitable[None]]] = []
        self._stopping = asyncio.Event()

    async def check(self) -> bool:
        reachable = await broker_reachable(self.settings, self.timeout)
        if reachable != self.reachable:
            self.reachable = reachable
            if reachable:
                log.info("the broker is reachable again: ready", bootstrap=self.settings.kafka_bootstrap_servers)
            else:
                log.warning("the broker is unreachable: not ready until it is back",
                            bootstrap=self.settings.kafka_bootstrap_servers)
            for listener in self.listeners:
                await listener(reachable)
        return reachable

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.check()
            except Exception:
                log.exception("broker readiness check failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    async def stop(self) -> None:
        self._stopping.set()
