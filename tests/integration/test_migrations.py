"""The migration runner on real PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg
import pytest

from topup_platform.migrations import Migration, MigrationError, migrate, platform_migrations
from topup_platform.runtime import service_migrations


async def _tables(conn: asyncpg.Connection, schema: str) -> set[str]:
    rows = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema)
    return {r["table_name"] for r in rows}


async def test_applies_once_and_is_idempotent(infra, schema: str) -> None:
    conn = await asyncpg.connect(infra.database_url)
    try:
        first = await migrate(conn, schema, service_migrations("orders"))
        again = await migrate(conn, schema, service_migrations("orders"))
        assert first[0] == "platform/0001_outbox_inbox.sql" and "orders/0001_orders.sql" in first
        assert again == []
        assert {"orders", "order_history", "outbox", "inbox", "products"} <= await _tables(conn, schema)
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.products WHERE sku LIKE 'CREDIT_%'") == 8
    finally:
        await conn.close()


async def test_an_edited_migration_is_refused(infra, schema: str) -> None:
    conn = await asyncpg.connect(infra.database_url)
    try:
        await migrate(conn, schema, platform_migrations())
        edited = [replace(m, sql=m.sql + "\n-- edited") for m in platform_migrations()]
        with pytest.raises(MigrationError, match="edited after it was applied"):
            await migrate(conn, schema, edited)
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_behind(infra, schema: str) -> None:
    broken = [Migration("x", 1, "0001_ok.sql", "CREATE TABLE a (id int);"),
              Migration("x", 2, "0002_bad.sql", "CREATE TABLE b (id int); SELECT no_such_function();")]
    conn = await asyncpg.connect(infra.database_url)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await migrate(conn, schema, broken)
        assert await _tables(conn, schema) == {"schema_migrations", "a"}
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.schema_migrations") == 1
    finally:
        await conn.close()


async def test_concurrent_migrations_do_not_collide(infra, schema: str) -> None:
    conns = [await asyncpg.connect(infra.database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c, schema, service_migrations("risk")) for c in conns))
        assert sorted(len(r) for r in results) == [0, 0, 0, len(service_migrations("risk"))]  # exactly one ran
    finally:
        for c in conns:
            await c.close()
