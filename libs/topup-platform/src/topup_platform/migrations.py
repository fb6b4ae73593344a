"""Schema migrations: a deliberately small, forward-only runner over plain SQL files.

Why not Alembic or yoyo: the services use asyncpg directly and write plain SQL, so Alembic would bring
SQLAlchemy only to run `op.execute(...)`, and yoyo needs a second (sync) driver that does not accept the
unix-socket URIs the embedded PostgreSQL hands out. What a runner must get right is small, and is all here:

* files `NNNN_name.sql` in a package directory, applied in order, each in its own transaction together
  with its bookkeeping row, so a failed migration leaves nothing half-applied;
* a session advisory lock per schema, so replicas (or a k8s Job and a pod) never migrate concurrently;
* a checksum per applied file: editing a migration after it ran is refused instead of silently ignored;
* namespaces: the platform's own tables (outbox, inbox) are migrations too, shared by every service.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg

from topup_platform.logging import get_logger

log = get_logger(__name__)

_FILE = re.compile(r"([0-9]{4})_[a-z0-9_]+\.sql", re.ASCII)
_SCHEMA = re.compile(r"[a-z_][a-z0-9_]*", re.ASCII)


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    namespace: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load(namespace: str, directory: Traversable) -> list[Migration]:
    found = []
    for entry in directory.iterdir():
        match = _FILE.fullmatch(entry.name)
        if match:
            found.append(Migration(namespace, int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{namespace}: two migrations share a version number")
    return found


def platform_migrations() -> list[Migration]:
    """The outbox and inbox tables every service has."""
    return load("platform", resources.files("topup_platform") / "sql")


async def migrate(conn: asyncpg.Connection, schema: str, migrations: list[Migration]) -> list[str]:
    """Apply what is missing in `schema`; returns the names applied."""
    if not _SCHEMA.fullmatch(schema):
        raise MigrationError(f"bad schema name {schema!r}")
    applied_now: list[str] = []
    lock_key = int.from_bytes(hashlib.sha256(f"migrate:{schema}".encode()).digest()[:8], "big", signed=True)
    await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(f"SET search_path TO {schema}")
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   namespace text NOT NULL,
                   version integer NOT NULL,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (namespace, version))"""
        )
        rows = await conn.fetch("SELECT namespace, version, name, checksum FROM schema_migrations")
        done = {(r["namespace"], r["version"]): r for r in rows}
        for m in migrations:
            previous = done.get((m.namespace, m.version))
            if previous is not None:
                if previous["checksum"] != m.checksum:
                    raise MigrationError(
                        f"{schema}: migration {m.namespace}/{m.name} was edited after it was applied"
                    )
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (namespace, version, name, checksum) VALUES ($1, $2, $3, $4)",
                    m.namespace, m.version, m.name, m.checksum,
                )
            applied_now.append(f"{m.namespace}/{m.name}")
            log.info("migration applied", schema=schema, migration=f"{m.namespace}/{m.name}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
        await conn.execute("RESET search_path")
    return applied_now


async def migrate_dsn(dsn: str, schema: str, migrations: list[Migration]) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn, schema, migrations)
    finally:
        await conn.close()
