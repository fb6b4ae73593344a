"""The risk janitor forgets what no rule can see any more, and only that; one replica prunes at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from risk.janitor import _LOCK, Janitor
from tests.integration.conftest import migrated_pool
from topup_platform.runtime import service_migrations


@pytest.fixture
async def pool(infra, schema: str) -> AsyncIterator[asyncpg.Pool]:  # type: ignore[no-untyped-def]
    p = await migrated_pool(infra.database_url, schema, service_migrations("risk"), 5)
    yield p
    await p.close()


async def test_stale_features_are_pruned_and_live_ones_kept(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("""INSERT INTO claims (idempotency_key, claimed_at) VALUES
                              ('old', now() - interval '2 days'), ('fresh', now())""")
        await conn.execute("""INSERT INTO counters (dim, key, updated_at) VALUES
                              ('recharge:ip', 'old', now() - interval '2 days'), ('recharge:ip', 'fresh', now())""")
        await conn.execute("""INSERT INTO voucher_failures (kind, value, locked_until, updated_at) VALUES
                              ('ip', 'old', NULL, now() - interval '2 days'),
                              ('ip', 'old-but-locked', now() + interval '1 hour', now() - interval '2 days'),
                              ('ip', 'fresh', NULL, now())""")
    assert await Janitor(pool).prune_once() == 3
    async with pool.acquire() as conn:
        assert [r[0] for r in await conn.fetch("SELECT idempotency_key FROM claims")] == ["fresh"]
        assert [r[0] for r in await conn.fetch("SELECT key FROM counters")] == ["fresh"]
        assert sorted(r[0] for r in await conn.fetch("SELECT value FROM voucher_failures")) == [
            "fresh", "old-but-locked"]


async def test_one_replica_prunes_at_a_time(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO claims (idempotency_key, claimed_at) VALUES ('old', now() - interval '2 days')")
        assert await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK)  # another replica is pruning
        try:
            assert await Janitor(pool).prune_once() == 0
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK)
    assert await Janitor(pool).prune_once() == 1
