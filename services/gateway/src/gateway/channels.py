"""The channel registry: who may call us, with which keys.

Secrets are encrypted at rest with AES-256-GCM under the master key from settings (the channel and key id
are the associated data, so a ciphertext cannot be moved to another row). They are decrypted only into
this process's memory, never logged and never returned after creation. The registry is cached and
reloaded every few seconds, so a key rotation or a disabled channel reaches every replica quickly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time
from dataclasses import dataclass, field

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from topup_platform.logging import get_logger

log = get_logger(__name__)


class SecretBox:
    def __init__(self, master_key_b64: str) -> None:
        key = base64.b64decode(master_key_b64)
        if len(key) != 32:
            raise ValueError("the master key must be 32 bytes, base64-encoded")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        return self._aead.decrypt(sealed[:12], sealed[12:], context.encode())


@dataclass(frozen=True, slots=True)
class Channel:
    channel_id: str
    name: str
    enabled: bool
    #: decrypted HMAC secrets of the active keys (several during a rotation)
    hmac_secrets: tuple[bytes, ...] = field(default=(), repr=False)
    #: what it may do beyond recharging, e.g. "balance"
    permissions: frozenset[str] = frozenset()


class ChannelRegistry:
    def __init__(self, pool: asyncpg.Pool, box: SecretBox, refresh_seconds: float) -> None:
        self.pool = pool
        self.box = box
        self.refresh_seconds = refresh_seconds
        self._channels: dict[str, Channel] = {}
        self._last_miss_reload = 0.0
        self._stopping = asyncio.Event()

    async def get(self, channel_id: str) -> Channel | None:
        channel = self._channels.get(channel_id)
        if channel is None and time.monotonic() - self._last_miss_reload > 1.0:
            # A channel created a moment ago on another replica: look once (at most once a second).
            self._last_miss_reload = time.monotonic()
            await self.reload()
            channel = self._channels.get(channel_id)
        return channel

    async def reload(self) -> None:
        async with self.pool.acquire() as conn:
            channels = await conn.fetch("SELECT channel_id, name, enabled, permissions FROM channels")
            keys = await conn.fetch(
                "SELECT channel_id, key_id, secret_ciphertext FROM channel_keys"
                " WHERE status = 'active' AND kind = 'hmac' ORDER BY created_at DESC"
            )
        secrets: dict[str, list[bytes]] = {}
        for k in keys:
            secrets.setdefault(k["channel_id"], []).append(
                self.box.open(k["secret_ciphertext"], f"{k['channel_id']}/{k['key_id']}")
            )
        self._channels = {
            c["channel_id"]: Channel(c["channel_id"], c["name"], c["enabled"], tuple(secrets.get(c["channel_id"], ())),
                                     frozenset(c["permissions"]))
            for c in channels
        }

    async def run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.refresh_seconds)
            if self._stopping.is_set():
                return
            try:
                await self.reload()
            except Exception:
                log.exception("channel registry reload failed; keeping the previous one")

    async def stop(self) -> None:
        self._stopping.set()

    async def ensure_channel(self, channel_id: str, name: str, key_id: str, secret: str,
                             permissions: frozenset[str] = frozenset()) -> None:
        """Create the channel with this HMAC key if missing, or make this the key's secret (dev seeding)."""
        sealed = self.box.seal(secret.encode(), f"{channel_id}/{key_id}")
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO channels (channel_id, name, permissions) VALUES ($1, $2, $3)
                   ON CONFLICT (channel_id) DO UPDATE SET permissions = EXCLUDED.permissions""",
                channel_id, name, sorted(permissions),
            )
            await conn.execute(
                """INSERT INTO channel_keys (channel_id, key_id, kind, secret_ciphertext) VALUES ($1, $2, 'hmac', $3)
                   ON CONFLICT (channel_id, key_id) DO UPDATE SET secret_ciphertext = EXCLUDED.secret_ciphertext,
                                                                  status = 'active', retired_at = NULL""",
                channel_id, key_id, sealed,
            )
        await self.reload()
