"""The dev access log: one line per request with the route's template (never an account id or a query), the
status, a refusal's code, the time taken and the channel; off unless asked for (production leaves it off)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from gateway.middleware import RequestContextMiddleware
from gateway.settings import GatewaySettings


def _app(log_requests: bool) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/accounts/{account_type}/{account_id}/recharges")
    async def history(request: Request, account_type: str, account_id: str) -> dict[str, str]:
        request.scope["state"]["error_code"] = "AUTH_SIGNATURE_INVALID"
        return {}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {}

    app.add_middleware(RequestContextMiddleware, log_requests=log_requests)
    return app


def test_one_line_per_request_without_personal_data() -> None:
    with capture_logs() as logs, TestClient(_app(True)) as http:
        http.get("/v1/accounts/mobile/18612345678/recharges?cursor=abc", headers={"X-Channel-Id": "demo"})
        http.get("/healthz")
        http.get("/nowhere/18612345678")
    lines = [e for e in logs if e.get("event", "").startswith(("GET", "POST"))]
    assert [e["event"] for e in lines] == ["GET /v1/accounts/{account_type}/{account_id}/recharges 200",
                                           "GET unmatched 404"]
    assert (lines[0]["code"], lines[0]["channel"]) == ("AUTH_SIGNATURE_INVALID", "demo")
    assert isinstance(lines[0]["ms"], float)
    assert "18612345678" not in repr(logs) and "cursor" not in repr(logs)


def test_off_unless_asked_for() -> None:
    with capture_logs() as logs, TestClient(_app(False)) as http:
        http.get("/v1/accounts/mobile/18612345678/recharges")
    assert not [e for e in logs if e.get("event", "").startswith("GET")]


@pytest.mark.parametrize(("env", "setting", "on"), [("dev", None, True), ("prod", None, False),
                                                    ("test", None, False), ("prod", "true", True),
                                                    ("dev", "false", False)])
def test_on_in_dev_by_default(monkeypatch: pytest.MonkeyPatch, env: str, setting: str | None, on: bool) -> None:
    monkeypatch.setenv("TOPUP_ENV", env)
    if setting is not None:
        monkeypatch.setenv("GATEWAY_ACCESS_LOG", setting)
    assert GatewaySettings().access_log_on is on
