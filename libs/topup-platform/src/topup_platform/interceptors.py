"""The shape every server interceptor of ours shares: each method's handler is wrapped once, on its first call,
and the wrapped handler is kept for the next ones (no per-call allocation of wrappers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc


class WrappingInterceptor(grpc.aio.ServerInterceptor):
    """Wraps unary-unary handlers with `unary`, unary-stream ones with `stream`, any other kind with `other`;
    a method for which `passes` is true is handed on untouched."""

    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            handler = await continuation(handler_call_details)
            if handler is None or self.passes(method):
                return handler
            if handler.unary_unary is not None:
                wrapped = self.unary(method, handler)
            elif handler.unary_stream is not None:
                wrapped = self.stream(method, handler)
            else:
                wrapped = self.other(method, handler)
            self._wrapped[method] = wrapped
        return wrapped

    def passes(self, method: str) -> bool:
        return False

    def unary(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        return handler

    def stream(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        return handler

    def other(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        return handler
