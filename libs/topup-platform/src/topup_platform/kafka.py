"""Kafka clients (aiokafka): the producer the outbox relay uses, and topic creation at start-up."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from topup_platform.logging import get_logger
from topup_platform.settings import PlatformSettings

log = get_logger(__name__)


def security_options(settings: PlatformSettings) -> dict[str, Any]:
    """The connection-security arguments every aiokafka client (producer, consumer, admin) takes."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile is not None else None
        options["ssl_context"] = create_ssl_context(cafile=cafile)
    if protocol.startswith("SASL_"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def make_producer(settings: PlatformSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        **security_options(settings),
        client_id=settings.service_name,
        acks="all",
        # Real Kafka: on (no duplicates from producer retries). The embedded Tansu broker refuses it,
        # and correctness never depends on it: consumers dedupe by event id.
        enable_idempotence=settings.kafka_enable_idempotence,
        linger_ms=2,
        request_timeout_ms=15000,
        metadata_max_age_ms=settings.kafka_metadata_max_age_ms,
    )


async def ensure_topics(settings: PlatformSettings, topics: Iterable[str], *, attempts: int = 30) -> None:
    """Create the topics that do not exist yet (idempotent; waits for the broker at start-up)."""
    wanted = list(dict.fromkeys(topics))
    for attempt in range(1, attempts + 1):
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers,
                                    client_id=f"{settings.service_name}-admin", **security_options(settings))
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t not in existing]
            if missing:
                try:
                    await admin.create_topics(
                        [NewTopic(t, num_partitions=settings.kafka_topic_partitions,
                                  replication_factor=settings.kafka_topic_replication_factor)
                         for t in missing]
                    )
                except TopicAlreadyExistsError:
                    pass
                log.info("kafka topics created", topics=missing)
            return
        except (KafkaConnectionError, OSError) as exc:
            if attempt == attempts:
                raise
            log.warning("kafka not reachable yet", attempt=attempt, error=str(exc))
            await asyncio.sleep(min(0.2 * attempt, 2.0))
        finally:
            await admin.close()
