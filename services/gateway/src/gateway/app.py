"""The gateway application: FastAPI, its lifespan and its error model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway import docs
from gateway.auth import require_json
from gateway.callback_net import NotifyUrlChecker, callback_guard
from gateway.callbacks import CallbackService
from gateway.channels import ChannelRegistry, SecretBox
from gateway.errors import CATALOGUE, ApiError, message
from gateway.limits import LoadShedMiddleware, QuotaLimiter, ReplicaHeartbeat
from gateway.middleware import RequestContextMiddleware
from gateway.nonces import NonceStore
from gateway.responses import FastJSON
from gateway.routes import (
    admin_callbacks,
    admin_catalog,
    admin_channels,
    admin_orders,
    admin_refunds,
    admin_review,
    admin_risk,
    balance,
    health,
    history,
    notifications,
    payment_notices,
    products,
    recharges,
    statements,
    vouchers,
)
from gateway.schemas import REQUEST_MODELS
from gateway.settings import GatewaySettings
from gateway.upstream import Upstream
from topup_platform import telemetry
from topup_platform.db import create_pool
from topup_platform.logging import get_logger
from topup_platform.readiness import BrokerWatch
from topup_platform.runtime import Periodic, Worker, open_pool

log = get_logger(__name__)

DESCRIPTION = """
The one signed JSON API every channel (Alipay, WeChat Pay, UnionPay, JD, Taobao, the official app,
enterprises) calls to top up China Unicom mobile numbers and broadband accounts.

**Signing.** Every request carries `X-Channel-Id`, `X-Timestamp` (unix seconds, within 300 s of our clock),
`X-Nonce` (16-64 characters, never reused) and `X-Signature`:
`base64(HMAC-SHA256(secret, METHOD + "\\n" + PATH_WITH_QUERY + "\\n" + TIMESTAMP + "\\n" + NONCE + "\\n" +
hex(sha256(body))))`.

**Money** is integer fen (分). **Errors** are `{"code", "message", "request_id"}`; messages are Chinese by
default and English with `Accept-Language: en`.
"""


def error_response(request: Request, err: ApiError) -> FastJSON:
    request.scope.setdefault("state", {})["error_code"] = err.spec.code  # for the access log
    body: dict[str, object] = {
        "code": err.spec.code,
        "message": message(err.spec, request.headers.get("accept-language")),
        "request_id": request.scope.get("state", {}).get("request_id", ""),
    }
    if err.detail or err.details:
        body["details"] = {**({"reason": err.detail} if err.detail else {}), **err.details}
    return FastJSON(body, status_code=err.spec.http_status, headers=err.headers or None)


def create_app(settings: GatewaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.is_dev:
            settings.check_production()
        pool = await open_pool(settings, "gateway")
        nonce_pool = await create_pool(
            settings.database_url.get_secret_value(), schema=settings.db_schema,
            application_name=f"{settings.service_name}-nonces", min_size=1, max_size=settings.db_pool_max,
            server_settings={"synchronous_commit": "off"},
        )
        registry = ChannelRegistry(pool, SecretBox(settings.master_key.get_secret_value()))
        if settings.is_dev:
            await registry.ensure_channel(settings.demo_channel_id, "Demo channel", "k1",
                                          settings.demo_channel_secret.get_secret_value(), frozenset({"balance"}),
                                          rate_per_second=settings.demo_channel_rate_per_second,
                                          burst=settings.demo_channel_rate_per_second)
        await registry.reload()
        nonces = NonceStore(nonce_pool, settings.timestamp_window_seconds)
        upstream = Upstream(settings)
        quotas = QuotaLimiter()
        heartbeat = ReplicaHeartbeat(pool, quotas, settings.replica_heartbeat_seconds)
        await heartbeat.beat()
        guard = callback_guard(settings)
        callbacks = CallbackService(settings, pool, registry, heartbeat.replica_id, guard)
        app.state.settings = settings
        app.state.pool = pool
        app.state.channels = registry
        app.state.nonces = nonces
        app.state.upstream = upstream
        app.state.quotas = quotas
        app.state.callbacks = callbacks
        app.state.notify_urls = NotifyUrlChecker(settings, guard)
        refresh = Periodic("channel-refresh", registry.reload, settings.channel_refresh_seconds, run_at_start=False)
        purge = Periodic("nonce-purge", nonces.purge, 60, run_at_start=False)
        broker = BrokerWatch(settings)  # /readyz follows the broker; /healthz does not
        app.state.broker = broker
        workers: list[Worker] = [refresh, purge, heartbeat, broker]
        if settings.callbacks_enabled:
            workers.append(callbacks)
        tasks = [asyncio.create_task(w.run()) for w in workers]
        log.info("gateway ready", port=settings.port, replica=heartbeat.replica_id)
        try:
            yield
        finally:
            for w in reversed(workers):
                await w.stop()
            await asyncio.wait(tasks, timeout=settings.callback_timeout_seconds + 2)
            await callbacks.close()
            await upstream.close()
            await nonce_pool.close()
            await pool.close()

    app = FastAPI(
        title="Unicom online recharge — channel API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=FastJSON,
        telemetry=telemetry.fastapi_telemetry(),
        dependencies=[Depends(require_json)],
        docs_url=None,  # served by gateway.docs from our own assets, never from a CDN
        redoc_url=None,
    )
    # outermost last: the request id and metrics cover the requests the shedder refuses
    app.add_middleware(LoadShedMiddleware, max_in_flight=settings.max_in_flight,
                       max_per_channel=settings.max_in_flight_per_channel,
                       timeout_seconds=settings.request_timeout_seconds)
    app.add_middleware(RequestContextMiddleware, log_requests=settings.access_log_on)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> FastJSON:
        if err.spec.http_status >= 500:
            log.warning("request failed upstream", code=err.spec.code, detail=err.detail)
        return error_response(request, err)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError) -> FastJSON:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in err.errors()]
        return error_response(request, ApiError("INVALID_REQUEST", details={"fields": fields}))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> FastJSON:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}.get(err.status_code,
                                                                                        "INVALID_REQUEST")
        return error_response(request, ApiError(code))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> FastJSON:
        log.exception("unhandled error")
        return error_response(request, ApiError("INTERNAL_ERROR"))

    app.include_router(recharges.router)
    app.include_router(vouchers.router)
    app.include_router(products.router)
    app.include_router(history.router)
    app.include_router(statements.router)
    app.include_router(notifications.router)
    app.include_router(balance.router)
    app.include_router(admin_orders.router)
    app.include_router(admin_channels.router)
    app.include_router(admin_callbacks.router)
    app.include_router(admin_catalog.router)
    app.include_router(admin_review.router)
    app.include_router(admin_refunds.router)
    app.include_router(payment_notices.router)
    app.include_router(admin_risk.router)
    app.include_router(health.router)
    docs.install(app)
    _document_errors(app)
    return app


def _document_errors(app: FastAPI) -> None:
    """Complete the OpenAPI document: the error catalogue (in the description, as the `code` enum of the error
    body, and per status in each error response), the headers every operation takes and answers with
    (`Accept-Language`, `X-Request-Id`, `Retry-After`), and the request bodies (parsed from the raw body after
    the signature check, so FastAPI does not see them) in the components."""
    rows = "\n".join(f"| `{s.code}` | {s.http_status} | {s.en} | {s.zh} |" for s in CATALOGUE.values())
    app.description += "\n\n**Error codes**\n\n| code | HTTP | meaning | 含义 |\n|---|---|---|---|\n" + rows + "\n"
    generate = app.openapi
    by_status: dict[int, list[str]] = {}
    for spec in CATALOGUE.values():
        by_status.setdefault(spec.http_status, []).append(spec.code)
    string = {"type": "string"}
    request_id = {"description": "This request's id (also in the error body): quote it to us", "schema": string}
    retry = {"description": "Seconds to wait before trying again", "schema": {"type": "string", "pattern": "^[0-9]+$"}}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = generate()
            components = spec.setdefault("components", {}).setdefault("schemas", {})
            for model in REQUEST_MODELS:
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
                components.update(schema.pop("$defs", {}))
                components[model.__name__] = schema
            if "ErrorOut" in components:
                components["ErrorOut"]["properties"]["code"]["enum"] = list(CATALOGUE)
            for item in spec.get("paths", {}).values():
                for op in item.values():
                    op.setdefault("parameters", []).extend([
                        {"name": "Accept-Language", "in": "header", "required": False, "schema": string,
                         "description": "`en…` for English error messages; Chinese otherwise"},
                        {"name": "X-Request-Id", "in": "header", "required": False,
                         "schema": {"type": "string", "pattern": "^[A-Za-z0-9_\\-.:]{8,64}$"},
                         "description": "Your id for this request (echoed back); one is made up otherwise"},
                    ])
                    for status, response in op.get("responses", {}).items():
                        headers = response.setdefault("headers", {})
                        headers["X-Request-Id"] = request_id
                        if status in ("429", "503"):
                            headers["Retry-After"] = retry
                        if status.isdigit() and int(status) in by_status:
                            response["description"] = "One of: " + ", ".join(
                                f"`{c}`" for c in by_status[int(status)])
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
