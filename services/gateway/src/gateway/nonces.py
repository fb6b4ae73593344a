"""The nonce store: a nonce is accepted once per channel within the replay window.

It lives in PostgreSQL, so it holds across any number of gateway replicas (one primary key decides).
Its writes use `synchronous_commit = off`: a database crash may forget the nonces of its last fraction of
a second, which would let those exact requests be replayed within their 300-second window. That is safe
because the only request that changes anything, a recharge, is idempotent on channel_order_id anyway;
in exchange the nonce check does not wait for a disk flush on every request.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

from topup_platform.logging import get_logger

log = get_logger(__name__)


class NonceStore:
    def __init__(self, pool: asyncpg.Pool, window_seconds: int) -> None:
        self.pool = pool
        self.window_seconds = window_seconds
        self._stopping = asyncio.Event()

    async def claim(self, channel_id: str, nonce: str) -> bool:
        """True the first time a (channel, nonce) is seen; False for a replay."""
        async with self.pool.acquire() as conn:
            return bool(await conn.fetchval(
                "INSERT INTO nonces (channel_id, nonce) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
                channel_id, nonce,
            ))

    async def purge(self) -> int:
        """Forget nonces older than twice the window (a timestamp can be up to one window either side)."""
        async with self.pool.acquire() as conn:
            status = await conn.execute(
                "DELETE FROM nonces WHERE seen_at < now() - make_interval(secs => $1)", 2 * self.window_seconds
            )
        return int(status.split()[-1])

    async def run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 60)
            try:
                await self.purge()
            except Exception:
                log.exception("nonce purge failed")

    async def stop(self) -> None:
        self._stopping.set()
