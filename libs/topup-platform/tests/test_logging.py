"""Secrets never reach a log line, even when passed by mistake."""

from __future__ import annotations

import json
import logging

import pytest

from topup_platform.logging import REDACTED, configure_logging, get_logger, redact_secrets


@pytest.mark.parametrize("key", ["pin", "voucher_pin", "channel_secret", "password", "sms_code", "x_signature",
                                 "token", "master_key", "otp"])
def test_secret_keys_are_redacted(key: str) -> None:
    assert redact_secrets(None, "info", {"event": "x", key: "1234567890123456"})[key] == REDACTED


@pytest.mark.parametrize("key", ["mapping", "shipping", "pinned_version", "order_id", "idempotency_key"])
def test_ordinary_keys_are_kept(key: str) -> None:
    assert redact_secrets(None, "info", {"event": "x", key: "v"})[key] == "v"


def test_json_line_carries_service_and_no_secret(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("orders", json=True)
    get_logger("t").info("redeemed", order_id="o-1", pin="1234567890123456")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["service"] == "orders"
    assert record["order_id"] == "o-1"
    assert "1234567890123456" not in line
    logging.getLogger().handlers.clear()


@pytest.mark.parametrize("json_lines", [True, False])
def test_an_exception_is_logged_without_its_local_variables(capsys: pytest.CaptureFixture[str],
                                                            json_lines: bool) -> None:
    """A traceback with locals would write whatever the frames held (a PIN, a request body, a secret) and grow
    to hundreds of kilobytes for one bad request."""
    configure_logging("gateway", json=json_lines)

    def handler(pin: str) -> None:
        body = "x" * 10_000  # noqa: F841  (a local the traceback must not show)
        raise ValueError("bad input")

    secret = "".join(str(i % 10) for i in range(1, 19))  # built here, so no source line shows it
    try:
        handler(secret)
    except ValueError:
        get_logger("t").exception("unhandled error")
    err = capsys.readouterr().err
    assert "ValueError" in err and "bad input" in err
    assert secret not in err
    assert "x" * 100 not in err
    assert len(err) < 5000
    logging.getLogger().handlers.clear()


def test_a_console_line_is_short_with_one_timestamp_at_most(capsys: pytest.CaptureFixture[str]) -> None:
    """Under `make run` the supervisor stamps each line: ours carries no second time, nor the service (the
    supervisor's prefix) or the trace and span ids, which only JSON lines need."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    configure_logging("gateway", json=False)  # stderr is captured, not a terminal: as under the supervisor
    with TracerProvider().get_tracer("t").start_as_current_span("s"):
        assert trace.get_current_span().get_span_context().is_valid
        get_logger("gateway.access").info("GET /v1/products 401", ms=3.2, code="AUTH_SIGNATURE_INVALID",
                                          request_id="r-12345678")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "GET /v1/products 401" in line and "AUTH_SIGNATURE_INVALID" in line and "r-12345678" in line
    assert "trace_id" not in line and "span_id" not in line and "service" not in line
    assert not any(c.isdigit() for c in line.split("[", 1)[0])  # no time before the level
    assert len(line) < 140
    configure_logging("gateway", json=False, timestamps=True)
    get_logger("t").info("run by hand")
    stamped = capsys.readouterr().err.strip().splitlines()[-1]
    assert stamped[:8].count(":") == 2 and "T" not in stamped[:8]  # one short time: 12:00:01
    logging.getLogger().handlers.clear()
