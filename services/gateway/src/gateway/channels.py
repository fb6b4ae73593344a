"""The channel registry: who may call us, with which keys, how often, and where their callbacks go.

Secrets are encrypted at rest with AES-256-GCM under the master key from settings (the channel and key id
are the associated data, so a ciphertext cannot be moved to another row). They are decrypted only into
this process's memory, never logged and never returned after creation. The registry is cached and
reloaded every few seconds (and on a miss), so a new key, a retired one, a new quota or a disabled channel
reaches every replica within `GATEWAY_CHANNEL_REFRESH_SECONDS`.

Keys of a channel:

    hmac      verifies requests signed as the contract says (HMAC-SHA256)
    rsa       verifies requests signed SHA256withRSA (PKCS#1 v1.5) with the channel's private key, as
              Alipay-style partners do; we hold only the public key
    callback  the HMAC secret we sign our callbacks to the channel with (we make it; the channel gets it once)

Several active keys of a kind make a rotation's overlap: a request verifies with any of them. A key can be
given an expiry (`expires_at`), after which it no longer counts, so a rotation can retire the old key later
by itself.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from topup_client.signing import verify, verify_rsa
from topup_platform.logging import get_logger

log = get_logger(__name__)

#: no RSA key below this size is accepted
MIN_RSA_BITS = 2048
#: an HMAC-SHA256 signature is 32 bytes, 44 characters of base64; anything longer is read as SHA256withRSA
HMAC_SIGNATURE_LENGTH = 44
_FOREVER = float("inf")


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


class InvalidKeyError(ValueError):
    """A public key that cannot be used (not PEM, not RSA, too short)."""


def load_rsa_public_key(pem: str) -> RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, binascii.Error) as err:
        raise InvalidKeyError("not a PEM public key (-----BEGIN PUBLIC KEY-----)") from err
    if not isinstance(key, RSAPublicKey):
        raise InvalidKeyError("not an RSA public key")
    if key.key_size < MIN_RSA_BITS:
        raise InvalidKeyError(f"an RSA key must have at least {MIN_RSA_BITS} bits")
    return key


def new_secret() -> str:
    """A fresh shared secret: 256 random bits, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class HmacKey:
    key_id: str
    secret: bytes = field(repr=False)
    expires: float = _FOREVER  # unix seconds


@dataclass(frozen=True, slots=True)
class RsaKey:
    key_id: str
    public_key: RSAPublicKey = field(repr=False)
    expires: float = _FOREVER


@dataclass(frozen=True, slots=True)
class Channel:
    channel_id: str
    name: str
    enabled: bool
    #: active HMAC keys, newest first (several during a rotation)
    hmac_keys: tuple[HmacKey, ...] = ()
    #: active RSA public keys, newest first
    rsa_keys: tuple[RsaKey, ...] = ()
    #: the newest active callback key (we sign callbacks with it), if any
    callback_key: HmacKey | None = None
    #: what it may do beyond recharging, e.g. "balance"
    permissions: frozenset[str] = frozenset()
    rate_per_second: int = 50
    burst: int = 100
    callbacks_enabled: bool = True
    callback_url_prefixes: tuple[str, ...] = ()

    @property
    def hmac_secrets(self) -> tuple[bytes, ...]:
        return tuple(k.secret for k in self.hmac_keys)

    def verify(self, signature: str, method: str, target: str, timestamp: str, nonce: str, body: bytes) -> bool:
        """True if one of the channel's active keys made `signature`. An HMAC-SHA256 signature is 32 bytes
        (44 characters of base64); anything longer can only be an RSA signature."""
        now = time.time()
        if len(signature) <= HMAC_SIGNATURE_LENGTH:
            return any(verify(k.secret, signature, method, target, timestamp, nonce, body)
                       for k in self.hmac_keys if k.expires > now)
        return any(verify_rsa(k.public_key, signature, method, target, timestamp, nonce, body)
                   for k in self.rsa_keys if k.expires > now)


class ChannelRegistry:
    def __init__(self, pool: asyncpg.Pool, box: SecretBox) -> None:
        self.pool = pool
        self.box = box
        self._channels: dict[str, Channel] = {}
        self._last_miss_reload = 0.0
        self._miss_lock = asyncio.Lock()
        #: decrypted/parsed key material by (channel, key id, kind, stored bytes): reloads skip the work
        self._material: dict[tuple[str, str, str, bytes], Any] = {}

    async def get(self, channel_id: str) -> Channel | None:
        channel = self._channels.get(channel_id)
        if channel is None:
            # A channel created a moment ago on another replica: look once (at most once a second). Requests
            # that miss meanwhile wait for that look instead of being refused while it is under way.
            async with self._miss_lock:
                channel = self._channels.get(channel_id)
                if channel is None and time.monotonic() - self._last_miss_reload > 1.0:
                    self._last_miss_reload = time.monotonic()
                    await self.reload()
                    channel = self._channels.get(channel_id)
        return channel

    def cached(self, channel_id: str) -> Channel | None:
        return self._channels.get(channel_id)

    def _open(self, channel_id: str, key_id: str, kind: str, stored: bytes) -> Any:
        cache_key = (channel_id, key_id, kind, stored)
        material = self._material.get(cache_key)
        if material is None:
            if kind == "rsa":
                material = load_rsa_public_key(stored.decode())
            else:
                material = self.box.open(stored, f"{channel_id}/{key_id}")
            self._material[cache_key] = material
        return material

    async def reload(self) -> None:
        async with self.pool.acquire() as conn:
            channels = await conn.fetch(
                """SELECT channel_id, name, enabled, permissions, rate_per_second, burst, callbacks_enabled,
                          callback_url_prefixes FROM channels""")
            keys = await conn.fetch(
                """SELECT channel_id, key_id, kind, secret_ciphertext, public_key_pem,
                          extract(epoch FROM expires_at)::float8 AS expires
                   FROM channel_keys WHERE status = 'active' AND (expires_at IS NULL OR expires_at > now())
                   ORDER BY created_at DESC, key_id""")
        hmac: dict[str, list[HmacKey]] = {}
        rsa: dict[str, list[RsaKey]] = {}
        callback: dict[str, HmacKey] = {}
        live: set[tuple[str, str, str, bytes]] = set()
        for k in keys:
            cid, kid, kind = k["channel_id"], k["key_id"], k["kind"]
            stored: bytes = k["public_key_pem"].encode() if kind == "rsa" else k["secret_ciphertext"]
            try:
                material = self._open(cid, kid, kind, stored)
            except Exception:
                log.error("a channel key cannot be opened; ignoring it", channel=cid, key_id=kid, kind=kind)
                continue
            live.add((cid, kid, kind, stored))
            expires = k["expires"] if k["expires"] is not None else _FOREVER
            if kind == "hmac":
                hmac.setdefault(cid, []).append(HmacKey(kid, material, expires))
            elif kind == "rsa":
                rsa.setdefault(cid, []).append(RsaKey(kid, material, expires))
            elif cid not in callback:  # newest first: the first one signs
                callback[cid] = HmacKey(kid, material, expires)
        self._material = {k: v for k, v in self._material.items() if k in live}
        self._channels = {
            c["channel_id"]: Channel(
                c["channel_id"], c["name"], c["enabled"], tuple(hmac.get(c["channel_id"], ())),
                tuple(rsa.get(c["channel_id"], ())), callback.get(c["channel_id"]), frozenset(c["permissions"]),
                c["rate_per_second"], c["burst"], c["callbacks_enabled"], tuple(c["callback_url_prefixes"]))
            for c in channels
        }

    async def ensure_channel(self, channel_id: str, name: str, key_id: str, secret: str,
                             permissions: frozenset[str] = frozenset(), *, rate_per_second: int = 50,
                             burst: int = 100) -> None:
        """Create the channel with this HMAC key (and the same secret as its callback key) if missing, or make
        these its secrets (dev seeding only: in production every secret is made by the admin API)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO channels (channel_id, name, permissions, rate_per_second, burst)
                   VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (channel_id) DO UPDATE SET permissions = EXCLUDED.permissions,
                       rate_per_second = EXCLUDED.rate_per_second, burst = EXCLUDED.burst""",
                channel_id, name, sorted(permissions), rate_per_second, burst,
            )
            for kid, kind in ((key_id, "hmac"), (f"{key_id}-callback", "callback")):
                await conn.execute(
                    """INSERT INTO channel_keys (channel_id, key_id, kind, secret_ciphertext) VALUES ($1, $2, $3, $4)
                       ON CONFLICT (channel_id, key_id) DO UPDATE SET secret_ciphertext = EXCLUDED.secret_ciphertext,
                           status = 'active', retired_at = NULL, expires_at = NULL""",
                    channel_id, kid, kind, self.box.seal(secret.encode(), f"{channel_id}/{kid}"),
                )
        await self.reload()
