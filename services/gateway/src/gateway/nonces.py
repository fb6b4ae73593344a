"""The nonce store: a nonce is accepted once per channel within the replay window.

It lives in PostgreSQL, so it holds across any number of gateway replicas (one primary key decides).
Its writes use `synchronous_commit = off`: a database crash may forget the nonces of its last fraction of
a second, which would let those exact requests be replayed within their 300-second window. That is safe
because the only request that changes anything, a recharge, is idempotent on channel_order_id anyway;
in exchange the nonce check does not wait for a disk flush on every request.
"""

from __future__ import annotations

import asyncpg

from topup_platform.batching import MicroBatcher


class NonceStore:
    def __init__(self, pool: asyncpg.Pool, window_seconds: int, *, max_batch: int = 64, max_in_flight: int = 2) -> None:
        self.pool = pool
        self.window_seconds = window_seconds
        self._claims: MicroBatcher[tuple[str, str], bool] = MicroBatcher(
            self._claim_batch, max_batch=max_batch, max_in_flight=max_in_flight)

    async def claim(self, channel_id: str, nonce: str) -> bool:
        """True the first time a (channel, nonce) is seen; False for a replay. Concurrent claims are written
        in one statement."""
        return await self._claims.submit((channel_id, nonce))

    async def _claim_batch(self, items: list[tuple[str, str]]) -> list[bool]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """INSERT INTO nonces (channel_id, nonce)
                   SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING
                   RETURNING channel_id, nonce""",
                [c for c, _ in items], [n for _, n in items],
            )
        fresh = {(r["channel_id"], r["nonce"]) for r in rows}
        out = []
        for item in items:
            out.append(item in fresh)
            fresh.discard(item)  # the same nonce twice in one batch: only the first is new
        return out

    async def purge(self) -> int:
        """Forget nonces older than twice the window (a timestamp can be up to one window either side)."""
        async with self.pool.acquire() as conn:
            status = await conn.execute(
                "DELETE FROM nonces WHERE seen_at < now() - make_interval(secs => $1)", 2 * self.window_seconds
            )
        return int(status.split()[-1])
