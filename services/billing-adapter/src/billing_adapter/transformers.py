"""The one place where BOSS's result codes and transport errors become our outcomes and reason codes
(after Hyperswitch's `connectors/<name>/transformers.rs`). Works on the HTTP status and the decoded body,
so it knows nothing of the HTTP client."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp

from billing_adapter.domain.outcomes import Classified, Outcome

# BOSS result code -> (outcome, our reason code)
WRITE_CODES: dict[str, tuple[Outcome, str]] = {
    "0000": (Outcome.SUCCESS, ""),
    "1001": (Outcome.TERMINAL_FAILURE, "BOSS_BAD_REQUEST"),
    "2001": (Outcome.TERMINAL_FAILURE, "BOSS_SUBSCRIBER_NOT_FOUND"),
    "2002": (Outcome.TERMINAL_FAILURE, "BOSS_SUBSCRIBER_SUSPENDED"),
    "2003": (Outcome.TERMINAL_FAILURE, "BOSS_PACK_UNKNOWN"),
    "2004": (Outcome.TERMINAL_FAILURE, "BOSS_CREDIT_BLOCKED"),
    "3005": (Outcome.TERMINAL_FAILURE, "BOSS_DUPLICATE_MISMATCH"),
    "5001": (Outcome.RETRYABLE, "BOSS_BUSY"),
    "5004": (Outcome.RETRYABLE, "BOSS_DEADLINE_EXCEEDED"),  # this request was not applied (it came too late)
}


def classify_write(status: int, body: Mapping[str, Any]) -> Classified:
    """The reply to a credit or data-pack call."""
    code = str(body.get("result_code", ""))
    if code in WRITE_CODES:
        outcome, reason = WRITE_CODES[code]
        return Classified(outcome, code, reason, boss_serial=str(_transaction(body).get("boss_serial", "")),
                          subscriber_scoped=outcome is Outcome.RETRYABLE)
    if status in (502, 503, 504) and not code:
        # A proxy in front of BOSS answered: the request was not processed.
        return Classified(Outcome.RETRYABLE, str(status), "BOSS_BUSY")
    # An error BOSS does not document: we cannot know what it did.
    return Classified(Outcome.UNKNOWN, code or str(status), "BOSS_UNEXPECTED_REPLY")


def classify_query(status: int, body: Mapping[str, Any]) -> Classified:
    """The reply to a status query by transaction id."""
    code = str(body.get("result_code", ""))
    if code == "0000":
        txn = _transaction(body)
        if txn.get("status") == "SUCCESS":
            return Classified(Outcome.SUCCESS, code, boss_serial=str(txn.get("boss_serial", "")))
        failed_code = str(txn.get("result_code", ""))
        _, reason = WRITE_CODES.get(failed_code, (Outcome.TERMINAL_FAILURE, "BOSS_FAILED"))
        return Classified(Outcome.TERMINAL_FAILURE, failed_code, reason or "BOSS_FAILED")
    if code == "3004":
        return Classified(Outcome.NOT_FOUND, code)
    return Classified(Outcome.UNKNOWN, code or str(status), "BOSS_UNEXPECTED_REPLY")


def classify_transport_error(error: BaseException) -> Classified:
    """A request that never reached BOSS is retryable; one that may have reached it is unknown."""
    if isinstance(error, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return Classified(Outcome.RETRYABLE, "", "BOSS_UNREACHABLE", error=type(error).__name__)
    if isinstance(error, aiohttp.ClientError | asyncio.TimeoutError | OSError):
        return Classified(Outcome.UNKNOWN, "", "BOSS_NO_ANSWER", error=type(error).__name__)
    raise error


def _transaction(body: Mapping[str, Any]) -> Mapping[str, Any]:
    txn = body.get("transaction")
    return txn if isinstance(txn, Mapping) else {}
