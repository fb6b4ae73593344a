"""/healthz (alive: never asks a dependency, so Kubernetes restarts only a stuck process), /readyz
(dependencies reachable: the database, risk and orders, and the broker), /metrics (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.responses import FastJSON
from gateway.upstream import Upstream

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> FastJSON:
    upstream: Upstream = request.app.state.upstream
    checks: dict[str, str] = {}

    async def database() -> None:
        async with request.app.state.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    async def grpc_peer(name: str) -> None:
        stub = health_pb2_grpc.HealthStub(upstream.channel(name))
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            raise RuntimeError("not serving")

    async def run(name: str, check: asyncio.Future[None] | object) -> None:
        try:
            await asyncio.wait_for(check, 2.0)  # type: ignore[arg-type]
            checks[name] = "ok"
        except Exception as err:
            checks[name] = f"failing: {type(err).__name__}"

    await asyncio.gather(run("database", database()), run("risk", grpc_peer("risk")),
                         run("orders", grpc_peer("orders")))
    # the broker, as the watch last saw it (every KAFKA_READINESS_INTERVAL_SECONDS): orders accepted while it
    # is away would wait in the outbox, and the channels' callbacks would stop
    checks["broker"] = "ok" if request.app.state.broker.reachable else "failing: unreachable"
    ready = all(v == "ok" for v in checks.values())
    return FastJSON({"status": "ready" if ready else "not ready", "checks": checks},
                          status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
