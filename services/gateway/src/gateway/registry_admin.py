"""Managing the channel registry (the admin API's use cases and their SQL).

Secrets are made here (256 random bits), sealed with the master key before they touch the database, and
handed back to the caller exactly once; nothing here logs a secret. RSA public keys are checked (PEM, RSA,
>= 2048 bits) before they are stored.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from cryptography.hazmat.primitives import serialization

from gateway.channels import ChannelRegistry, InvalidKeyError, load_rsa_public_key, new_secret
from gateway.errors import ApiError
from gateway.schemas import ChannelIn, ChannelPatchIn, KeyIn
from topup_platform.logging import get_logger

log = get_logger(__name__)

_CHANNEL_COLUMNS = """channel_id, name, enabled, permissions, rate_per_second, burst, callbacks_enabled,
                      callback_url_prefixes, created_at, updated_at"""
_KEY_COLUMNS = "key_id, kind, status, created_at, expires_at, retired_at, public_key_pem"
#: the kinds that verify requests: a channel keeps at least one of them active
REQUEST_KINDS = ("hmac", "rsa")


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if value else None


def key_view(row: asyncpg.Record, now: datetime) -> dict[str, Any]:
    status = row["status"]
    if status == "active" and row["expires_at"] is not None and row["expires_at"] <= now:
        status = "expired"
    fingerprint = None
    if row["kind"] == "rsa":
        der = load_rsa_public_key(row["public_key_pem"]).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        fingerprint = hashlib.sha256(der).hexdigest()
    return {"key_id": row["key_id"], "kind": row["kind"], "status": status, "created_at": _iso(row["created_at"]),
            "expires_at": _iso(row["expires_at"]), "retired_at": _iso(row["retired_at"]), "fingerprint": fingerprint}


def channel_view(row: asyncpg.Record, keys: list[asyncpg.Record], now: datetime) -> dict[str, Any]:
    return {
        "channel_id": row["channel_id"], "name": row["name"], "enabled": row["enabled"],
        "permissions": list(row["permissions"]),
        "quota": {"rate_per_second": row["rate_per_second"], "burst": row["burst"]},
        "callbacks": {"enabled": row["callbacks_enabled"], "url_prefixes": list(row["callback_url_prefixes"])},
        "keys": [key_view(k, now) for k in keys],
        "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"]),
    }


def _new_key_id(kind: str) -> str:
    return f"{kind}-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"


class RegistryAdmin:
    def __init__(self, pool: asyncpg.Pool, registry: ChannelRegistry) -> None:
        self.pool = pool
        self.registry = registry

    async def _now(self, conn: asyncpg.Connection) -> datetime:
        now: datetime = await conn.fetchval("SELECT now()")
        return now

    async def list(self) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            now = await self._now(conn)
            rows = await conn.fetch(f"SELECT {_CHANNEL_COLUMNS} FROM channels ORDER BY channel_id")
            keys = await conn.fetch(f"SELECT channel_id, {_KEY_COLUMNS} FROM channel_keys ORDER BY created_at, key_id")
        by_channel: dict[str, list[asyncpg.Record]] = {}
        for k in keys:
            by_channel.setdefault(k["channel_id"], []).append(k)
        return [channel_view(r, by_channel.get(r["channel_id"], []), now) for r in rows]

    async def get(self, channel_id: str, conn: asyncpg.Connection | None = None) -> dict[str, Any]:
        if conn is None:
            async with self.pool.acquire() as own:
                return await self.get(channel_id, own)
        now = await self._now(conn)
        row = await conn.fetchrow(f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE channel_id = $1", channel_id)
        if row is None:
            raise ApiError("CHANNEL_NOT_FOUND", details={"channel_id": channel_id})
        keys = await conn.fetch(f"SELECT {_KEY_COLUMNS} FROM channel_keys WHERE channel_id = $1"
                                " ORDER BY created_at, key_id", channel_id)
        return channel_view(row, keys, now)

    async def exists(self, channel_id: str) -> bool:
        async with self.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT true FROM channels WHERE channel_id = $1", channel_id))

    async def _insert_key(self, conn: asyncpg.Connection, channel_id: str, kind: str, key_id: str | None,
                          public_key_pem: str | None) -> tuple[str, str | None]:
        """Store a key; returns (key id, the new secret or None for an RSA key)."""
        key_id = key_id or _new_key_id(kind)
        secret: str | None = None
        if kind == "rsa":
            if not public_key_pem:
                raise ApiError("INVALID_REQUEST", "public_key_pem is required for an rsa key")
            try:
                load_rsa_public_key(public_key_pem)
            except InvalidKeyError as err:
                raise ApiError("KEY_INVALID", str(err)) from None
            sealed, pem = None, public_key_pem.strip() + "\n"
        else:
            if public_key_pem:
                raise ApiError("INVALID_REQUEST", "public_key_pem is only for an rsa key")
            secret = new_secret()
            sealed, pem = self.registry.box.seal(secret.encode(), f"{channel_id}/{key_id}"), None
        inserted = await conn.fetchval(
            """INSERT INTO channel_keys (channel_id, key_id, kind, secret_ciphertext, public_key_pem)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel_id, key_id) DO NOTHING RETURNING true""",
            channel_id, key_id, kind, sealed, pem)
        if not inserted:
            raise ApiError("KEY_EXISTS", details={"key_id": key_id})
        return key_id, secret

    async def create(self, body: ChannelIn, staff_id: str,
                     set_prices: Callable[[], Awaitable[None]] | None) -> dict[str, Any]:
        """The channel, its first keys, and (in the same breath) its price list at the order core: if setting
        the prices fails, nothing is created."""
        if not body.hmac and not body.rsa_public_key_pem:
            raise ApiError("INVALID_REQUEST", "a channel needs a request-signing key: hmac, or rsa_public_key_pem")
        made: list[tuple[str, str, str | None]] = []
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                inserted = await conn.fetchval(
                    """INSERT INTO channels (channel_id, name, enabled, permissions, rate_per_second, burst,
                                             callbacks_enabled, callback_url_prefixes)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (channel_id) DO NOTHING RETURNING true""",
                    body.channel_id, body.name, body.enabled, sorted(set(body.permissions)), body.quota.rate_per_second,
                    body.quota.burst, body.callbacks.enabled, body.callbacks.url_prefixes)
                if not inserted:
                    raise ApiError("CHANNEL_EXISTS", details={"channel_id": body.channel_id})
                if body.hmac:
                    made.append(("hmac", *await self._insert_key(conn, body.channel_id, "hmac", None, None)))
                if body.rsa_public_key_pem:
                    made.append(("rsa", *await self._insert_key(conn, body.channel_id, "rsa", None,
                                                                 body.rsa_public_key_pem)))
                made.append(("callback", *await self._insert_key(conn, body.channel_id, "callback", None, None)))
                if set_prices is not None:
                    await set_prices()
            view = await self.get(body.channel_id, conn)
        await self.registry.reload()
        log.info("channel created", channel=body.channel_id, by=staff_id, keys=[k for _, k, _ in made])
        by_id = {k["key_id"]: k for k in view["keys"]}
        view["secrets"] = [{**by_id[key_id], "secret": secret} for _, key_id, secret in made if secret]
        return view

    async def update(self, channel_id: str, body: ChannelPatchIn, staff_id: str) -> dict[str, Any]:
        sets: list[str] = []
        args: list[Any] = [channel_id]

        def put(column: str, value: Any) -> None:
            args.append(value)
            sets.append(f"{column} = ${len(args)}")

        if body.name is not None:
            put("name", body.name)
        if body.enabled is not None:
            put("enabled", body.enabled)
        if body.permissions is not None:
            put("permissions", sorted(set(body.permissions)))
        if body.quota is not None:
            put("rate_per_second", body.quota.rate_per_second)
            put("burst", body.quota.burst)
        if body.callbacks is not None:
            put("callbacks_enabled", body.callbacks.enabled)
            put("callback_url_prefixes", body.callbacks.url_prefixes)
        async with self.pool.acquire() as conn:
            if sets:
                done = await conn.fetchval(
                    f"UPDATE channels SET {', '.join(sets)}, updated_at = now() WHERE channel_id = $1 RETURNING true",
                    *args)
                if not done:
                    raise ApiError("CHANNEL_NOT_FOUND", details={"channel_id": channel_id})
            view = await self.get(channel_id, conn)
        await self.registry.reload()
        log.info("channel changed", channel=channel_id, by=staff_id,
                 fields=sorted(body.model_dump(exclude_none=True)))
        return view

    async def add_key(self, channel_id: str, body: KeyIn, staff_id: str) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                if not await conn.fetchval("SELECT true FROM channels WHERE channel_id = $1 FOR UPDATE", channel_id):
                    raise ApiError("CHANNEL_NOT_FOUND", details={"channel_id": channel_id})
                key_id, secret = await self._insert_key(conn, channel_id, body.kind, body.key_id, body.public_key_pem)
                if body.retire_others_after_seconds is not None:
                    await conn.execute(
                        """UPDATE channel_keys SET expires_at = LEAST(coalesce(expires_at, 'infinity'),
                                                                      now() + make_interval(secs => $4))
                           WHERE channel_id = $1 AND kind = $2 AND key_id <> $3 AND status = 'active'""",
                        channel_id, body.kind, key_id, body.retire_others_after_seconds)
                row = await conn.fetchrow(f"SELECT {_KEY_COLUMNS} FROM channel_keys WHERE channel_id = $1"
                                          " AND key_id = $2", channel_id, key_id)
                now = await self._now(conn)
        await self.registry.reload()
        log.info("channel key added", channel=channel_id, key_id=key_id, kind=body.kind, by=staff_id,
                 others_expire_in=body.retire_others_after_seconds)
        return {**key_view(row, now), "secret": secret}

    async def retire_key(self, channel_id: str, key_id: str, staff_id: str) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                if not await conn.fetchval("SELECT true FROM channels WHERE channel_id = $1 FOR UPDATE", channel_id):
                    raise ApiError("CHANNEL_NOT_FOUND", details={"channel_id": channel_id})
                key = await conn.fetchrow(f"SELECT {_KEY_COLUMNS} FROM channel_keys WHERE channel_id = $1"
                                          " AND key_id = $2", channel_id, key_id)
                if key is None:
                    raise ApiError("KEY_NOT_FOUND", details={"key_id": key_id})
                if key["status"] == "active":
                    kinds = list(REQUEST_KINDS) if key["kind"] in REQUEST_KINDS else [key["kind"]]
                    others = await conn.fetchval(
                        """SELECT count(*) FROM channel_keys WHERE channel_id = $1 AND key_id <> $2
                           AND kind = ANY($3::text[]) AND status = 'active'
                           AND (expires_at IS NULL OR expires_at > now())""", channel_id, key_id, kinds)
                    if not others:
                        raise ApiError("KEY_LAST_ACTIVE", details={"key_id": key_id})
                    await conn.execute(
                        """UPDATE channel_keys SET status = 'retired', retired_at = now()
                           WHERE channel_id = $1 AND key_id = $2""", channel_id, key_id)
                row = await conn.fetchrow(f"SELECT {_KEY_COLUMNS} FROM channel_keys WHERE channel_id = $1"
                                          " AND key_id = $2", channel_id, key_id)
                now = await self._now(conn)
        await self.registry.reload()
        log.info("channel key retired", channel=channel_id, key_id=key_id, by=staff_id)
        return key_view(row, now)
