"""Domain errors and their wire form.

Each service has one base exception (in its `domain/errors.py`) deriving from `DomainError`; every error
carries a documented UPPER_SNAKE code. One gRPC interceptor (`grpc_server.ErrorInterceptor`) turns them
into a gRPC status with a `google.rpc.ErrorInfo` detail (reason = the code), and `grpc_client` turns that
back into `RemoteError` on the caller's side. No `set_code` scattered in handlers.
"""

from __future__ import annotations

from typing import ClassVar

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from topup.common.v1 import common_pb2

ERROR_DOMAIN = "topup"


class DomainError(Exception):
    """Base of every expected, documented failure."""

    code: ClassVar[str] = "INTERNAL"
    status: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL

    def __init__(self, message: str = "", *, code: str | None = None, **metadata: str) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.metadata = {k: str(v) for k, v in metadata.items()}

    def to_error_pb(self) -> common_pb2.Error:
        """The error of one item of a batch call."""
        return common_pb2.Error(code=self.code, message=self.message, grpc_status=self.status.value[0],
                                metadata=self.metadata)

    def to_status_proto(self) -> status_pb2.Status:
        info = error_details_pb2.ErrorInfo(reason=self.code, domain=ERROR_DOMAIN, metadata=self.metadata)
        detail = any_pb2.Any()
        detail.Pack(info)
        return status_pb2.Status(code=self.status.value[0], message=self.message, details=[detail])


class InvalidArgument(DomainError):
    status = grpc.StatusCode.INVALID_ARGUMENT
    code = "INVALID_REQUEST"


class NotFound(DomainError):
    status = grpc.StatusCode.NOT_FOUND
    code = "NOT_FOUND"


class Conflict(DomainError):
    status = grpc.StatusCode.ALREADY_EXISTS
    code = "CONFLICT"


class FailedPrecondition(DomainError):
    status = grpc.StatusCode.FAILED_PRECONDITION
    code = "FAILED_PRECONDITION"


class PermissionDenied(DomainError):
    status = grpc.StatusCode.PERMISSION_DENIED
    code = "PERMISSION_DENIED"


class Unavailable(DomainError):
    status = grpc.StatusCode.UNAVAILABLE
    code = "UNAVAILABLE"


class RemoteError(Exception):
    """A gRPC call failed; `code` is the callee's documented code (or the gRPC status name)."""

    def __init__(self, status: grpc.StatusCode, code: str, message: str, metadata: dict[str, str]) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.metadata = metadata


_STATUS_BY_NUMBER = {s.value[0]: s for s in grpc.StatusCode}


def remote_error_from_pb(error: common_pb2.Error) -> RemoteError:
    """The error of one item of a batch call, as `RemoteError` (like a failed single call)."""
    status = _STATUS_BY_NUMBER.get(error.grpc_status, grpc.StatusCode.UNKNOWN)
    return RemoteError(status, error.code or status.name, error.message, dict(error.metadata))


def internal_error_pb() -> common_pb2.Error:
    return common_pb2.Error(code="INTERNAL", message="internal error", grpc_status=grpc.StatusCode.INTERNAL.value[0])


def remote_error_from(error: grpc.aio.AioRpcError) -> RemoteError:
    status = error.code()
    code, message, metadata = status.name, error.details() or "", {}
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            rich = status_pb2.Status.FromString(value)
            message = rich.message or message
            for detail in rich.details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    code, metadata = info.reason, dict(info.metadata)
    return RemoteError(status, code, message, metadata)
