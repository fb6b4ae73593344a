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


class PaymentAlreadyUsed(OrdersError, Conflict):
    """This payment (method and transaction id) already backs another order of the channel: one payment backs
    one order (DESIGN.md section 4, invariant 3)."""

    code = "PAYMENT_ALREADY_USED"


class OrderNotFound(OrdersError, NotFound):
    """No such order (for this channel)."""

    code = "ORDER_NOT_FOUND"


class IllegalTransition(OrdersError, FailedPrecondition):
    """The order's state machine does not allow this transition from its current status."""

    code = "ILLEGAL_TRANSITION"


class VoucherInvalid(OrdersError, InvalidArgument):
    """No card has this PIN (the answer does not say whether any card exists)."""

    code = "VOUCHER_INVALID"


class VoucherExpired(OrdersError, FailedPrecondition):
    """The card has expired."""

    code = "VOUCHER_EXPIRED"


class VoucherFrozen(OrdersError, FailedPrecondition):
    """The card is frozen by staff."""

    code = "VOUCHER_FROZEN"


class VoucherNotActive(OrdersError, FailedPrecondition):
    """The card has not been activated (sold) yet, or was voided."""

    code = "VOUCHER_NOT_ACTIVE"


class VoucherAlreadyRedeemed(OrdersError, Conflict):
    """The card is redeemed, or being redeemed by another request."""

    code = "VOUCHER_ALREADY_REDEEMED"


class VoucherBatchNotFound(OrdersError, NotFound):
    """No such voucher batch."""

    code = "VOUCHER_BATCH_NOT_FOUND"


class VoucherNotFound(OrdersError, NotFound):
    """No such voucher card."""

    code = "VOUCHER_NOT_FOUND"


class ReviewActionNotApplicable(OrdersError, FailedPrecondition):
    """The order is not under review, or the decision does not fit how it got there."""

    code = "REVIEW_ACTION_NOT_APPLICABLE"


class CursorInvalid(OrdersError, InvalidArgument):
    """The cursor is not one this API gave out (it is next_cursor of an earlier page, unchanged)."""

    code = "CURSOR_INVALID"


class DateInvalid(OrdersError, InvalidArgument):
    """A statement's date is not a calendar day written YYYY-MM-DD, or is after today (Beijing time)."""

    code = "DATE_INVALID"
