"""What acknowledges a callback (DESIGN.md section 5): a 2xx whose body is empty, `success` (Alipay's word) or JSON
`{"code": "SUCCESS"}` (WeChat Pay's). Any other 2xx (an HTML page from a proxy, a login page) is not one and the
callback is retried; and the first retry comes within 15 s."""

from __future__ import annotations

import pytest

from gateway.callbacks import Outcome, is_acknowledgement, not_acknowledged_reason
from gateway.settings import GatewaySettings


@pytest.mark.parametrize(("status", "body"), [
    (200, ""), (204, ""), (200, None), (200, "success"), (200, "success\n"), (200, "  success  "),
    (200, '{"code":"SUCCESS"}'), (200, '{"code": "SUCCESS", "message": "成功"}'), (201, '\n{"code":"SUCCESS"}\n'),
])
def test_acknowledgements(status: int, body: str | None) -> None:
    assert is_acknowledgement(status, body)


@pytest.mark.parametrize(("status", "body"), [
    (200, "<html><body>502 Bad Gateway</body></html>"),
    (200, "<!DOCTYPE html><html><head><title>Login</title></head></html>"),
    (200, "ok"), (200, "fail"), (200, "successful"), (200, "SUCCESS."), (200, '"success"'),
    (200, '{"code":"FAIL","message":"签名错误"}'), (200, '{"code":"success"}'), (200, '{"result":"SUCCESS"}'),
    (200, '["SUCCESS"]'), (200, '{"code": "SUCCESS"'),
    (500, ""), (500, "success"), (302, ""), (404, '{"code":"SUCCESS"}'), (None, None), (None, "success"),
])
def test_not_acknowledgements(status: int | None, body: str | None) -> None:
    assert not is_acknowledgement(status, body)


def test_the_outcome_is_delivered_only_when_acknowledged() -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    assert Outcome(now, 5, 200, None, "success").delivered
    assert not Outcome(now, 5, 200, None, "<html>maintenance</html>").delivered
    assert not Outcome(now, 5, None, "ConnectError: refused", None).delivered
    assert not_acknowledged_reason(Outcome(now, 5, 200, None, "<html>maintenance</html>")).startswith(
        "HTTP 200 without an acknowledgement")
    assert not_acknowledged_reason(Outcome(now, 5, 503, None, "busy")) == "HTTP 503"
    assert not_acknowledged_reason(Outcome(now, 5, None, "ConnectError: refused", None)) == "ConnectError: refused"


def test_the_first_retry_comes_within_15_seconds() -> None:
    schedule = GatewaySettings().callback_retry_seconds
    assert 0 < schedule[0] <= 15
    assert list(schedule) == sorted(schedule)  # a growing schedule
    assert schedule[1:] == (240, 600, 600, 3600, 7200, 21600, 54000)  # then Alipay's
