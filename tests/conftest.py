"""Infrastructure for the cross-service tests: one PostgreSQL and one Kafka-protocol broker per session.

Real ones when `DATABASE_URL` and `KAFKA_BOOTSTRAP_SERVERS` name them; otherwise the embedded ones the
dev stack uses (pgserver and Tansu), started here and stopped at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from topup_devstack.infra import EmbeddedKafka, EmbeddedPostgres, free_port


@dataclass(frozen=True)
class Infra:
    database_url: str
    kafka_bootstrap: str
    #: client settings the services need for this broker (e.g. Tansu's short group sessions)
    client_env: dict[str, str]

    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database_url, "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap, **self.client_env}


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    database_url = os.environ.get("DATABASE_URL")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    postgres = kafka = None
    client_env: dict[str, str] = {}
    base = tmp_path_factory.mktemp("infra")
    try:
        if not database_url:
            postgres = EmbeddedPostgres(base / "pgdata")
            database_url = postgres.start()
        if not bootstrap:
            kafka = EmbeddedKafka(free_port(), base / "tansu.log")
            bootstrap = kafka.start()
            client_env = dict(EmbeddedKafka.CLIENT_ENV)
        yield Infra(database_url, bootstrap, client_env)
    finally:
        if kafka is not None:
            kafka.stop()
        if postgres is not None:
            postgres.stop()
