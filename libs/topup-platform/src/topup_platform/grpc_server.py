"""gRPC aio server helpers: the error interceptor, the stock health service and reflection.

`ErrorInterceptor` is the one place where domain errors become gRPC statuses (with an ErrorInfo detail
carrying the documented code); anything unexpected becomes INTERNAL with a log line and no internals in
the reply. It also measures each method and binds the RPC name and trace id into the log context.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from topup_platform import metrics
from topup_platform.errors import DomainError
from topup_platform.logging import get_logger

log = get_logger(__name__)


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler  # streaming (health Watch, reflection) pass through untouched
        method = handler_call_details.method
        inner = handler.unary_unary

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
                metrics.GRPC_HANDLED.labels(method, code.name).inc()
                metrics.GRPC_LATENCY.labels(method).observe(time.perf_counter() - started)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class GrpcServer:
    """A grpc.aio server with health (per service and overall) and reflection."""

    def __init__(self, *, port: int, host: str = "0.0.0.0", interceptors: Sequence[Any] = ()) -> None:
        self.address = f"{host}:{port}"
        self.server = grpc.aio.server(
            interceptors=[aio_server_interceptor(), ErrorInterceptor(), *interceptors],
            options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 8 * 1024 * 1024)],
        )
        self.health = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names: list[str] = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]

    def add(self, register: Callable[[Any, grpc.aio.Server], None], servicer: Any, full_name: str) -> None:
        register(servicer, self.server)
        self.service_names.append(full_name)

    async def start(self) -> None:
        reflection.enable_server_reflection([*self.service_names, reflection.SERVICE_NAME], self.server)
        bound = self.server.add_insecure_port(self.address)
        if not bound:
            raise RuntimeError(f"could not bind gRPC server to {self.address}")
        await self.server.start()
        for name in ("", *self.service_names):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("grpc server started", address=self.address, services=self.service_names)

    async def stop(self, grace: float) -> None:
        """Health NOT_SERVING first (so balancers drain), then stop accepting and let in-flight calls finish."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
