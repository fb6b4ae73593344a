"""The command line every service shares: `python -m <service> [serve|migrate]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import uvloop

from topup_platform.logging import configure_logging
from topup_platform.migrations import migrate_dsn
from topup_platform.runtime import run, service_migrations
from topup_platform.settings import PlatformSettings
from topup_platform.telemetry import configure_tracing

S = TypeVar("S", bound=PlatformSettings)


def service_cli(settings_cls: type[S], package: str, main: Callable[[S], Awaitable[int | None]]) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {package}")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args()
    settings = settings_cls()
    if args.command == "migrate":
        configure_logging(settings.service_name, level=settings.log_level, json=settings.json_logs)
        uvloop.run(migrate_dsn(settings.database_url.get_secret_value(), settings.db_schema,
                               service_migrations(package)))
        return
    run(lambda: main(settings))


class CancelledAtShutdown(logging.Filter):
    """uvicorn cancels the requests still running when its graceful shutdown times out and logs each one as
    "Exception in ASGI application" with its whole traceback: a simulator holding a request on purpose
    (sandbox 18600000006 never answers) printed hundreds of traceback lines on every Ctrl-C of `make run`.
    Such a request was not failed by the application, it was cut short by the stop: one line says so."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, asyncio.CancelledError):
            record.msg, record.args, record.exc_info = "a request still running at shutdown was cancelled", (), None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def http_app_cli(
    settings_cls: type[S],
    package: str,
    create_app: Callable[[S], object],
    *,
    host: Callable[[S], str],
    port: Callable[[S], int],
    platform_tables: bool = True,
) -> None:
    """`python -m <package> [serve|migrate]` for an HTTP (ASGI) process served by uvicorn."""
    import uvicorn

    parser = argparse.ArgumentParser(prog=f"python -m {package}")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args()
    settings = settings_cls()
    configure_logging(settings.service_name, level=settings.log_level, json=settings.json_logs)
    if args.command == "migrate":
        uvloop.run(migrate_dsn(settings.database_url.get_secret_value(), settings.db_schema,
                               service_migrations(package, platform=platform_tables)))
        return
    configure_tracing(settings.service_name)
    logging.getLogger("uvicorn.error").addFilter(CancelledAtShutdown())
    uvicorn.run(create_app(settings), host=host(settings), port=port(settings), log_config=None,  # type: ignore[arg-type]
                access_log=False, timeout_graceful_shutdown=int(settings.shutdown_grace_seconds), loop="uvloop",
                http="httptools")
