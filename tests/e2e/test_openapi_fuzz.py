"""Schemathesis against the running gateway: every channel endpoint (signed as the demo channel) and the admin
API's reads (with a reviewer's token) get generated requests, valid and not; no answer may be a 5xx, and every
answer must be one the OpenAPI document describes (status code, content type, headers, body schema).

The admin API's writes are left out here: fuzzing them would change the shared stack's channels, prices and
voucher batches under the other tests' feet. Their bodies are the same pydantic models the document shows,
and their errors are covered by their own tests.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from gateway.app import create_app
from gateway.settings import GatewaySettings
from tests.e2e.conftest import staff_headers
from topup_client.signing import signed_headers
from topup_devstack.stack import Stack

SCHEMA = schemathesis.openapi.from_dict(create_app(GatewaySettings()).openapi()).exclude(
    path_regex="^/admin/", method=["POST", "PUT", "PATCH", "DELETE"])

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_headers_conformance, checks.response_schema_conformance]


class Signed(requests.auth.AuthBase):
    """Signs channel requests as the demo channel (the final bytes and path, as sent); admin requests get a
    reviewer's bearer token."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if r.path_url.startswith("/admin/"):
            r.headers.update(staff_headers("reviewer"))
            return r
        body = r.body or b""
        body = body.encode() if isinstance(body, str) else body
        r.headers.update(signed_headers("demo", "demo-secret", r.method or "GET", r.path_url, body))
        return r


@pytest.fixture(scope="module")
def session() -> Any:
    with requests.Session() as s:
        s.auth = Signed()
        yield s


#: (path template, status) of every answer, to check the run got past the signature (not only 401s)
SEEN: Counter[tuple[str, int]] = Counter()


@SCHEMA.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_the_gateway_answers_as_documented(case: Any, stack: Stack, session: requests.Session) -> None:
    response = case.call(base_url=stack.gateway, session=session, timeout=10)
    SEEN[(case.operation.path, response.status_code)] += 1
    case.validate_response(response, checks=CHECKS)


def test_the_fuzzing_got_past_the_signature() -> None:
    """Runs after the parametrized test (same module, in order): most operations were answered beyond 401."""
    paths = {path for path, _ in SEEN}
    past = {path for path, status in SEEN if status != 401}
    assert paths == {op.ok().path for op in SCHEMA.get_all_operations()}
    assert {p for p in paths if p.startswith("/v1/")} <= past, SEEN
    assert any(status in (200, 201) for _, status in SEEN), SEEN
    print(f"\nanswers by operation and status: {dict(sorted(SEEN.items()))}")  # noqa: T201
