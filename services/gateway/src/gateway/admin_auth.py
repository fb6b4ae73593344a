"""Staff authentication of the admin API: role-based bearer tokens (JWT, HS256, PyJWT).

A token names the member of staff (`sub`) and their roles; every admin route says which roles may call it.

    reviewer  works the manual review desk
    finance   refunds, reconciliation, the second signature of large amounts (four eyes)
    admin     channels, keys, prices, risk rules, voucher batches

Tokens are issued with `python -m gateway token --sub alice --role reviewer` by whoever holds the signing
secret (in production, the identity tooling in front of the console); they expire.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.errors import ApiError
from gateway.settings import GatewaySettings
from topup_platform import identifiers as ids
from topup_platform import staff as staff_assertions

AUDIENCE = "topup-admin"
_bearer = HTTPBearer(auto_error=False,
                     description="A staff token: `python -m gateway token --sub <name> --role <role>`")


class Role(StrEnum):
    REVIEWER = "reviewer"
    FINANCE = "finance"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Staff:
    id: str
    roles: frozenset[Role]


def issue_token(settings: GatewaySettings, staff_id: str, roles: list[Role], ttl_seconds: int | None = None) -> str:
    """A token for `staff_id`, which must be canonical (lower-case ASCII: `rita`, never `Rita` or `ｒｉｔａ`), so
    that one person has one id wherever it is compared (four eyes, audit trails)."""
    if not ids.matches(ids.STAFF_ID, staff_id):
        raise ValueError(f"a staff id must match {ids.STAFF_ID} (lower-case ASCII)")
    now = int(time.time())
    claims = {"sub": staff_id, "roles": [r.value for r in roles], "iss": settings.admin_jwt_issuer, "aud": AUDIENCE,
              "iat": now, "exp": now + (ttl_seconds or settings.admin_token_ttl_seconds)}
    return jwt.encode(claims, settings.admin_jwt_secret.get_secret_value(), algorithm="HS256")


def verify_token(settings: GatewaySettings, token: str) -> Staff:
    try:
        claims = jwt.decode(token, settings.admin_jwt_secret.get_secret_value(), algorithms=["HS256"],
                            audience=AUDIENCE, issuer=settings.admin_jwt_issuer,
                            options={"require": ["sub", "exp", "iat", "roles"]})
    except jwt.PyJWTError as err:
        raise ApiError("ADMIN_AUTH_REQUIRED", "the bearer token is not valid") from err
    if not ids.matches(ids.STAFF_ID, claims["sub"]):  # "", " ", "Rita", non-ASCII: not one of our staff ids
        raise ApiError("ADMIN_AUTH_REQUIRED", "the token names no valid member of staff")
    roles = frozenset(Role(r) for r in claims["roles"] if r in Role.__members__.values())
    return Staff(claims["sub"], roles)


def require(*allowed: Role) -> Callable[..., Coroutine[Any, Any, Staff]]:
    """A dependency: the caller's staff identity, if it holds one of `allowed` (admin holds every role)."""

    async def dependency(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                                  Depends(_bearer)] = None) -> Staff:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError("ADMIN_AUTH_REQUIRED")
        staff = verify_token(request.app.state.settings, credentials.credentials)
        if not (staff.roles & {*allowed, Role.ADMIN}):
            raise ApiError("ADMIN_FORBIDDEN", details={"needs": sorted(r.value for r in allowed)})
        # the services take the member of staff from this signed assertion, forwarded on this request's calls
        upstream = getattr(request.app.state, "upstream", None)
        if (signer := getattr(upstream, "staff_signer", None)) is not None:
            staff_assertions.set_for_request(signer.assertion(staff.id, [r.value for r in staff.roles]))
        return staff

    return dependency
