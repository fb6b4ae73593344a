"""The admin API takes role-based staff tokens; channels' signatures do not open it."""

from __future__ import annotations

import os

import httpx
import jwt
import pytest

from gateway.admin_auth import Role, issue_token
from gateway.settings import GatewaySettings
from tests.e2e.conftest import recharge
from topup_client import AsyncTopupClient
from topup_devstack.stack import Stack

SETTINGS = GatewaySettings(_env_file=None)  # the stack runs with the development signing secret


def _token(*roles: Role, ttl: int | None = None, staff: str = "alice") -> str:
    return issue_token(SETTINGS, staff, list(roles), ttl)


async def _get(stack: Stack, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        return await http.get(path, headers=headers)


async def test_staff_can_read_any_channels_order_with_history(client: AsyncTopupClient, stack: Stack) -> None:
    order = await client.create_recharge(**recharge())
    reply = await _get(stack, f"/admin/v1/orders/{order['order_id']}", _token(Role.REVIEWER))
    assert reply.status_code == 200
    body = reply.json()
    assert (body["channel_id"], body["history"][0]["transition"]) == ("demo", "accept")


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [
        (None, 401, "ADMIN_AUTH_REQUIRED"),
        ("not-a-jwt", 401, "ADMIN_AUTH_REQUIRED"),
        (jwt.encode({"sub": "mallory", "roles": ["admin"], "aud": "topup-admin", "iss": "topup-gateway",
                     "iat": 0, "exp": 2**31}, "a-guessed-secret-of-thirty-two-bytes", algorithm="HS256"),
         401, "ADMIN_AUTH_REQUIRED"),
        ("EXPIRED", 401, "ADMIN_AUTH_REQUIRED"),
        ("NO_ROLE", 403, "ADMIN_FORBIDDEN"),
    ],
)
async def test_refused_without_a_valid_token_of_a_fitting_role(stack: Stack, token: str | None, status: int,
                                                               code: str) -> None:
    token = {"EXPIRED": _token(Role.ADMIN, ttl=-10), "NO_ROLE": _token()}.get(token or "", token)
    reply = await _get(stack, "/admin/v1/orders/01a20e6d-ee0d-7314-bfe3-cbe181f6a9ab", token)
    assert (reply.status_code, reply.json()["code"]) == (status, code)


def test_the_development_secret_is_what_the_stack_uses() -> None:
    assert "GATEWAY_ADMIN_JWT_SECRET" not in os.environ


def _signed_for(sub: object) -> str:
    """A token correctly signed with the stack's secret, naming `sub` (what issue_token would refuse to make)."""
    import time

    now = int(time.time())
    return jwt.encode({"sub": sub, "roles": ["admin"], "aud": "topup-admin", "iss": SETTINGS.admin_jwt_issuer,
                       "iat": now, "exp": now + 300}, SETTINGS.admin_jwt_secret.get_secret_value(), algorithm="HS256")


@pytest.mark.parametrize("sub", ["", " ", "Rita", "ｒｉｔａ", "ri\u200bta"])
async def test_a_signed_token_that_names_no_canonical_member_of_staff_is_refused(stack: Stack, sub: str) -> None:
    """Four eyes and the audit trail compare staff ids: an empty one, or a second spelling of `rita`, would be a
    person nobody is, or a second person who is not."""
    reply = await _get(stack, "/admin/v1/review-cases?status=OPEN", _signed_for(sub))
    assert (reply.status_code, reply.json()["code"]) == (401, "ADMIN_AUTH_REQUIRED"), reply.text
