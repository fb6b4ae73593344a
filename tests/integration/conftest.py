"""Integration tests: real PostgreSQL and the real broker, each test in its own schema and topics."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import asyncpg
import pytest

from topup_platform.db import create_pool
from topup_platform.migrations import migrate, platform_migrations
from topup_platform.settings import PlatformSettings

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def schema(infra) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    name = unique("t")
    yield name
    conn = await asyncpg.connect(infra.database_url)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    finally:
        await conn.close()


async def migrated_pool(database_url: str, schema: str, migrations: list[Any], max_size: int) -> asyncpg.Pool:
    """A pool on `schema`, once `migrations` (a service's, or the platform's alone) are applied to it."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, schema, migrations)
    finally:
        await conn.close()
    return await create_pool(database_url, schema=schema, application_name="tests", max_size=max_size)


@pytest.fixture
async def pool(infra, schema: str) -> AsyncIterator[asyncpg.Pool]:  # type: ignore[no-untyped-def]
    """A pool on a fresh schema holding the platform tables (outbox, inbox)."""
    p = await migrated_pool(infra.database_url, schema, platform_migrations(), 20)
    yield p
    await p.close()


def settings_for(infra, schema_name: str, partitions: int = 4) -> PlatformSettings:  # type: ignore[no-untyped-def]
    class TestSettings(PlatformSettings):
        service_name: ClassVar[str] = "tests"
        db_schema: ClassVar[str] = schema_name

    return TestSettings(**infra.env(), KAFKA_TOPIC_PARTITIONS=partitions)
