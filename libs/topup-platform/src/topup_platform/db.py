"""The asyncpg pool. Each service connects with `search_path` set to the one schema it owns."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from topup_platform.settings import PlatformSettings


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (RESET ALL, UNLISTEN *, ...: a round trip on every release).
    Our code leaves no session state on pooled connections; an open transaction is still rolled back."""


async def create_pool(
    dsn: str,
    *,
    schema: str,
    application_name: str,
    min_size: int = 1,
    max_size: int = 10,
    server_settings: dict[str, str] | None = None,
    **kwargs: Any,
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": schema, "application_name": application_name, **(server_settings or {})},
        init=_init_connection,
        reset=_keep_session,
        **kwargs,
    )
    assert pool is not None
    return pool


async def pool_from_settings(settings: PlatformSettings) -> asyncpg.Pool:
    return await create_pool(
        settings.database_url.get_secret_value(),
        schema=settings.db_schema,
        application_name=settings.service_name,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
    )
