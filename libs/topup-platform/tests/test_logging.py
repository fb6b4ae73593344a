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
