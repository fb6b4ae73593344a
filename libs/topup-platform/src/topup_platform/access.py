"""Who may call what: each service's allow-list of callers and methods, enforced on every call.

A service declares, next to its servicer, which peers may call which of its methods (`AccessPolicy.of`); the
peer is the identity of its TLS client certificate (topup_platform.tls). A verified peer calling a method its
entry does not list gets PERMISSION_DENIED (`CALLER_NOT_ALLOWED`), before the handler runs. The stock health
service (and reflection) answer any verified peer.

The interceptor also verifies a staff assertion a call carries (topup_platform.staff) and makes it the call's
staff identity; an invalid one is refused (PERMISSION_DENIED `STAFF_ASSERTION_INVALID`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from topup_platform import staff
from topup_platform.errors import PermissionDenied
from topup_platform.interceptors import WrappingInterceptor
from topup_platform.logging import get_logger
from topup_platform.tls import peer_identity

log = get_logger(__name__)

#: methods every verified peer may call: health checks and reflection
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


class CallerNotAllowed(PermissionDenied):
    """This caller may not call this method."""

    code = "CALLER_NOT_ALLOWED"


@dataclass(frozen=True)
class AccessPolicy:
    #: the full name of the service, e.g. topup.orders.v1.OrdersService
    service: str
    #: caller identity -> the methods it may call
    callers: Mapping[str, frozenset[str]]

    @classmethod
    def of(cls, service: ServiceDescriptor, callers: Mapping[str, Iterable[str]]) -> AccessPolicy:
        """The policy of `service`; every method named must exist (a typo fails at start, not at the call)."""
        known = {m.name for m in service.methods}
        table = {caller: frozenset(methods) for caller, methods in callers.items()}
        unknown = {m for methods in table.values() for m in methods} - known
        if unknown:
            raise ValueError(f"{service.full_name} has no method {sorted(unknown)}")
        return cls(service.full_name, table)

    def allows(self, caller: str, method: str) -> bool:
        """`method` is the gRPC path, /<service>/<method>."""
        service, _, name = method.lstrip("/").partition("/")
        return service == self.service and name in self.callers.get(caller, frozenset())


class AccessInterceptor(WrappingInterceptor):
    def __init__(self, policy: AccessPolicy, verifier: staff.StaffVerifier | None) -> None:
        """`verifier` None: plaintext (dev without certificates): no peer identity to check, and no staff
        assertion can be verified (calls that need one are refused)."""
        super().__init__()
        self.policy = policy
        self.verifier = verifier

    def passes(self, method: str) -> bool:
        return method.startswith(OPEN_PREFIXES)

    def other(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """No such method of ours: refuse rather than pass an unchecked handler through."""
        return self.unary(method, grpc.unary_unary_rpc_method_handler(_never))

    def _admit(self, method: str, context: grpc.aio.ServicerContext) -> tuple[str, staff.StaffIdentity | None] | None:
        """The staff assertion to act under (token, identity), or None; raises when the call is refused."""
        if self.verifier is not None:
            caller = peer_identity(context)
            if caller is None or not self.policy.allows(caller, method):
                log.warning("grpc call refused", rpc=method, caller=caller)
                raise CallerNotAllowed(f"{caller or 'an unidentified caller'} may not call {method}")
        token = staff.metadata_token(context.invocation_metadata())
        if token is None:
            return None
        if self.verifier is None:
            return None  # cannot be verified without the CA: the call runs with no staff identity
        return token, self.verifier.verify(token)

    def unary(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        inner = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            admitted = self._admit(method, context)
            if admitted is None:
                return await inner(request, context)
            with staff.act_as(*admitted):
                return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(unary_unary, request_deserializer=handler.request_deserializer,
                                                   response_serializer=handler.response_serializer)

    def stream(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        inner = handler.unary_stream

        async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            admitted = self._admit(method, context)
            if admitted is None:
                async for item in inner(request, context):
                    yield item
                return
            with staff.act_as(*admitted):
                async for item in inner(request, context):
                    yield item

        return grpc.unary_stream_rpc_method_handler(unary_stream, request_deserializer=handler.request_deserializer,
                                                    response_serializer=handler.response_serializer)


async def _never(request: Any, context: grpc.aio.ServicerContext) -> Any:
    raise CallerNotAllowed("no such method")
