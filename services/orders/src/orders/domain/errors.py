"""The orders service's errors. Each code is documented in the gateway's error catalogue."""

from __future__ import annotations

from topup_platform.errors import Conflict, DomainError, FailedPrecondition, InvalidArgument, NotFound


class OrdersError(DomainError):
    """Base of the orders service's errors."""


class InvalidRequest(OrdersError, InvalidArgument):
    """The request is malformed."""

    code = "INVALID_REQUEST"


class AccountInvalid(OrdersError, InvalidArgument):
    """The account id does not have the format of its account type."""

    code = "ACCOUNT_INVALID"


class AccountNotServed(OrdersError, FailedPrecondition):
    """We do not serve this account (not a China Unicom number, or ported to another carrier)."""

    code = "ACCOUNT_NOT_SERVED"


class SkuUnknown(OrdersError, InvalidArgument):
    """No product has this SKU."""

    code = "SKU_UNKNOWN"


class SkuNotAvailable(OrdersError, FailedPrecondition):
    """This channel may not sell this SKU to this account."""

    code = "SKU_NOT_AVAILABLE"


class PriceMismatch(OrdersError, FailedPrecondition):
    """paid_fen differs from this channel's current price for the SKU."""

    code = "PRICE_MISMATCH"


class IdempotencyConflict(OrdersError, Conflict):
    """This channel_order_id was already used with a different request."""

    code = "IDEMPOTENCY_CONFLICT"


class OrderNotFound(OrdersError, NotFound):
    """No such order (for this channel)."""

    code = "ORDER_NOT_FOUND"


class IllegalTransition(OrdersError, FailedPrecondition):
    """The order's state machine does not allow this transition from its current status."""

    code = "ILLEGAL_TRANSITION"
