"""gRPC aio server helpers: the error interceptor, the stock health service and reflection.

`ErrorInterceptor` is the one place where domain errors become gRPC statuses (with an ErrorInfo detail
carrying the documented code); anything unexpected becomes INTERNAL with a log line and no internals in
the reply. It also measures each method and binds the RPC name and trace id into the log context.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from topup.common.v1 import common_pb2
from topup_platform import metrics, telemetry
from topup_platform.access import AccessInterceptor, AccessPolicy
from topup_platform.errors import DomainError, internal_error_pb
from topup_platform.interceptors import WrappingInterceptor
from topup_platform.logging import get_logger
from topup_platform.readiness import LIVENESS
from topup_platform.settings import PlatformSettings
from topup_platform.staff import StaffVerifier
from topup_platform.tls import TlsMaterial

log = get_logger(__name__)


class ErrorInterceptor(WrappingInterceptor):
    """Domain errors become the call's status (with their details), anything else INTERNAL; every call is
    counted and timed. Health Watch and reflection (streams under /grpc.) pass through untouched."""

    def stream(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        return handler if method.startswith("/grpc.") else self._wrap_stream(method, handler)

    def unary(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        return self._wrap(method, handler)

    @staticmethod
    def _wrap_stream(method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """Server-streaming calls: a domain error raised while streaming becomes the call's status."""
        inner = handler.unary_stream

        async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            code = grpc.StatusCode.OK
            try:
                async for item in inner(request, context):
                    yield item
            except DomainError as err:
                code = err.status
                await context.abort_with_status(rpc_status.to_status(err.to_status_proto()))
            except Exception as err:
                if isinstance(err, grpc.aio.AbortError):
                    raise
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error in rpc", rpc=method)
                await context.abort(grpc.StatusCode.INTERNAL, "internal error")
            finally:
                metrics.GRPC_HANDLED.labels(method, code.name).inc()

        return grpc.unary_stream_rpc_method_handler(
            unary_stream,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    @staticmethod
    def _wrap(method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        inner = handler.unary_unary
        handled = {code: metrics.GRPC_HANDLED.labels(method, code.name) for code in grpc.StatusCode}
        latency = metrics.GRPC_LATENCY.labels(method)

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            structlog.contextvars.bind_contextvars(rpc=method)
            try:
                return await inner(request, context)
            except DomainError as err:
                code = err.status
                await context.abort_with_status(rpc_status.to_status(err.to_status_proto()))
            except Exception as err:
                if isinstance(err, grpc.aio.AbortError):
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error in rpc", rpc=method)
                await context.abort(grpc.StatusCode.INTERNAL, "internal error")
            finally:
                structlog.contextvars.unbind_contextvars("rpc")
                handled[code].inc()
                latency.observe(time.perf_counter() - started)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


R = TypeVar("R")
T = TypeVar("T")


async def each_item(
    items: Sequence[T],
    handle: Callable[[T], Awaitable[R]],
    trace_context: Callable[[T], Mapping[str, str]],
) -> list[R | common_pb2.Error]:
    """Handle the items of a batch call concurrently, each in its own trace context (items of one batch
    come from different requests); a domain error becomes that item's `Error`, as it would have been the
    status of a single call."""

    async def one(item: T) -> R | common_pb2.Error:
        with telemetry.attached(trace_context(item)):
            try:
                return await handle(item)
            except DomainError as err:
                return err.to_error_pb()
            except Exception:
                log.exception("unhandled error in a batch item")
                return internal_error_pb()

    return list(await asyncio.gather(*(one(item) for item in items)))


class GrpcServer:
    """A grpc.aio server with health (per service and overall) and reflection, mutual TLS when the settings
    name certificates (required outside dev), and the service's access policy on every call.

    It listens on `settings.listen_host` (loopback in dev). With `TOPUP_GRPC_HEALTH_PORT`, a second plaintext
    server on that port answers the health service only, for probes that cannot present a certificate.
    """

    def __init__(self, *, port: int, settings: PlatformSettings, policy: AccessPolicy,
                 interceptors: Sequence[Any] = ()) -> None:
        host = settings.listen_host
        self.address = f"{host}:{port}"
        self.health_address = f"{host}:{settings.grpc_health_port}" if settings.grpc_health_port else None
        self.tls = TlsMaterial.from_settings(settings)
        verifier = StaffVerifier(self.tls.ca) if self.tls is not None else None
        tracing = [aio_server_interceptor(filter_=telemetry.NOT_HEALTH_CHECK)] if telemetry.tracing_enabled() else []
        self.server = grpc.aio.server(
            interceptors=[*tracing, ErrorInterceptor(), AccessInterceptor(policy, verifier), *interceptors],
            options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 8 * 1024 * 1024)],
        )
        self.health = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names: list[str] = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
        self.probe_server: grpc.aio.Server | None = None
        if self.health_address is not None:
            self.probe_server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self.probe_server)

    def add(self, register: Callable[[Any, grpc.aio.Server], None], servicer: Any, full_name: str) -> None:
        register(servicer, self.server)
        self.service_names.append(full_name)

    async def start(self) -> None:
        reflection.enable_server_reflection([*self.service_names, reflection.SERVICE_NAME], self.server)
        if self.tls is not None:
            bound = self.server.add_secure_port(self.address, self.tls.server_credentials())
        else:
            log.warning("gRPC without TLS: any local process may call every method (dev only; make run "
                        "gives every service a certificate)", address=self.address)
            bound = self.server.add_insecure_port(self.address)
        if not bound:
            raise RuntimeError(f"could not bind gRPC server to {self.address}")
        if self.probe_server is not None and self.health_address is not None:
            if not self.probe_server.add_insecure_port(self.health_address):
                raise RuntimeError(f"could not bind the gRPC health port to {self.health_address}")
            await self.probe_server.start()
        await self.server.start()
        for name in ("", *self.service_names, LIVENESS):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("grpc server started", address=self.address, tls=self.tls is not None,
                 health_address=self.health_address, services=self.service_names)

    async def set_ready(self, ready: bool) -> None:
        """Readiness (`""` and every service name) SERVING or NOT_SERVING; liveness (`liveness`) stays SERVING
        while the process runs (topup_platform.readiness)."""
        status = health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *self.service_names):
            await self.health.set(name, status)

    async def stop(self, grace: float) -> None:
        """Health NOT_SERVING first (so balancers drain), then stop accepting and let in-flight calls finish."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self.probe_server is not None:
            await self.probe_server.stop(0)
