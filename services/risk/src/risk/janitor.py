"""Forgets what no rule can see any more: claims older than a day, counter rows untouched for longer than the
longest window, voucher failures older than a day that lock nothing, PIN guesses that never heard of their
outcome after a day. One replica at a time (advisory lock),
in small batches so that no statement holds many row locks."""

from __future__ import annotations

import asyncpg

from risk.domain.features import HORIZON_MINUTES
from topup_platform.logging import get_logger

log = get_logger(__name__)

_LOCK = 0x5249534B4A  # "RISKJ"
_BATCH = 5000
_PRUNE = [
    "DELETE FROM claims WHERE ctid = ANY(ARRAY(SELECT ctid FROM claims WHERE claimed_at < now() - interval '1 day' "
    "LIMIT $1))",
    # no index on updated_at (it would stop updates being HOT): one scan, rows nobody has touched for a day
    f"DELETE FROM counters WHERE updated_at < now() - interval '{HORIZON_MINUTES + 1} minutes' AND $1 > 0",
    "DELETE FROM voucher_failures WHERE ctid = ANY(ARRAY(SELECT ctid FROM voucher_failures WHERE updated_at < "
    "now() - interval '1 day' AND (locked_until IS NULL OR locked_until < now()) "
    "AND (guess_locked_until IS NULL OR guess_locked_until < now()) LIMIT $1))",
    # a guess that never heard of its outcome stays counted until its failure left every window
    "DELETE FROM pin_guesses WHERE ctid = ANY(ARRAY(SELECT ctid FROM pin_guesses WHERE created_at < "
    "now() - interval '1 day' LIMIT $1))",
]


class Janitor:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def prune_once(self) -> int:
        removed = 0
        async with self.pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK):
                return 0
            try:
                for statement in _PRUNE:
                    while True:
                        done = int((await conn.execute(statement, _BATCH)).split()[-1])
                        removed += done
                        if done < _BATCH:
                            break
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK)
        return removed

    async def prune(self) -> None:
        """One round (run periodically by the service)."""
        removed = await self.prune_once()
        if removed:
            log.info("risk features pruned", rows=removed)
