"""BOSS's codes and transport errors map onto our outcomes in one place; the retry policy."""

from __future__ import annotations

import random

import aiohttp
import pytest

from billing_adapter.domain.outcomes import Outcome
from billing_adapter.transformers import classify_query, classify_transport_error, classify_write
from topup_platform.retry import backoff


def _body(code: str, **txn: object) -> dict[str, object]:
    return {"result_code": code, **({"transaction": txn} if txn else {})}


@pytest.mark.parametrize(
    ("code", "http", "outcome", "reason"),
    [
        ("0000", 200, Outcome.SUCCESS, ""),
        ("2001", 200, Outcome.TERMINAL_FAILURE, "BOSS_SUBSCRIBER_NOT_FOUND"),
        ("2002", 200, Outcome.TERMINAL_FAILURE, "BOSS_SUBSCRIBER_SUSPENDED"),
        ("5001", 503, Outcome.RETRYABLE, "BOSS_BUSY"),
        ("5004", 504, Outcome.RETRYABLE, "BOSS_DEADLINE_EXCEEDED"),
        ("9999", 500, Outcome.UNKNOWN, "BOSS_UNEXPECTED_REPLY"),
    ],
)
def test_write_codes(code: str, http: int, outcome: Outcome, reason: str) -> None:
    result = classify_write(http, _body(code, boss_serial="B1"))
    assert (result.outcome, result.reason_code) == (outcome, reason)


def test_the_serial_of_a_success_is_kept() -> None:
    assert classify_write(200, _body("0000", boss_serial="B1")).boss_serial == "B1"


def test_proxy_errors_without_a_boss_code_are_retryable() -> None:
    assert classify_write(502, {}).outcome is Outcome.RETRYABLE
    assert classify_write(500, {}).outcome is Outcome.UNKNOWN  # BOSS itself failed: it may have done it


def test_query_outcomes() -> None:
    assert classify_query(200, _body("0000", status="SUCCESS", boss_serial="B9")).boss_serial == "B9"
    failed = classify_query(200, _body("0000", status="FAILED", result_code="2002"))
    assert (failed.outcome, failed.reason_code) == (Outcome.TERMINAL_FAILURE, "BOSS_SUBSCRIBER_SUSPENDED")
    assert classify_query(404, _body("3004")).outcome is Outcome.NOT_FOUND
    assert classify_query(500, {}).outcome is Outcome.UNKNOWN


def test_transport_errors_never_reached_boss_vs_maybe_did() -> None:
    refused = aiohttp.ClientConnectorError(aiohttp.client_reqrep.ConnectionKey(
        "boss", 80, False, True, None, None, None), OSError(111, "refused"))
    assert classify_transport_error(refused).outcome is Outcome.RETRYABLE
    assert classify_transport_error(aiohttp.ConnectionTimeoutError()).outcome is Outcome.RETRYABLE
    assert classify_transport_error(TimeoutError()).outcome is Outcome.UNKNOWN  # sent, no reply in time
    assert classify_transport_error(aiohttp.ServerDisconnectedError()).outcome is Outcome.UNKNOWN
    assert classify_transport_error(aiohttp.SocketTimeoutError()).outcome is Outcome.UNKNOWN


def test_backoff_grows_is_capped_and_jittered() -> None:
    rng = random.Random(7)
    delays = [backoff(n, base=0.2, cap=1.0, rng=rng) for n in range(1, 8)]
    assert 0.1 <= delays[0] <= 0.2
    assert 0.2 <= delays[1] <= 0.4
    assert all(d <= 1.0 for d in delays)
    assert len({round(d, 6) for d in delays}) == len(delays)


def test_only_boss_own_not_done_answers_may_be_about_one_subscriber() -> None:
    assert classify_write(503, _body("5001")).subscriber_scoped  # BOSS says "busy": maybe this subscriber only
    assert classify_write(504, _body("5004")).subscriber_scoped
    assert not classify_write(503, {}).subscriber_scoped  # a proxy in front of BOSS: BOSS as a whole
    assert not classify_write(200, _body("2002")).subscriber_scoped
    assert not classify_write(500, _body("9999")).subscriber_scoped
