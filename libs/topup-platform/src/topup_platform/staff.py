"""Who among staff asked: a signed staff assertion, carried in gRPC metadata, never a request field.

The gateway authenticates staff at its admin API (gateway/admin_auth.py). For each admin request it signs a
short-lived assertion of that identity (a JWT: `sub`, `roles`) with the private key of its own TLS
certificate, and puts the certificate in the token's `x5c` header. A service verifies that the certificate
was issued by the internal CA to `gateway`, then the signature with its public key: only the gateway can
name a member of staff, and a service that forwards the assertion (refunds carrying a desk decision to the
order core and the BOSS adapter) cannot change it. Whatever `actor` or `staff` a request carries is ignored.

    gateway:  staff.act_as(signer.assertion(staff_id, roles))      (a context for the outgoing calls)
    service:  staff.current()  -> StaffIdentity                    (PermissionDenied when none was verified)
"""

from __future__ import annotations

import base64
import contextvars
import datetime as dt
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from topup_platform.errors import PermissionDenied

#: the gRPC metadata key carrying the assertion
METADATA_KEY = "x-topup-staff-assertion"
#: the only identity whose certificate may sign staff assertions
ISSUER = "gateway"
AUDIENCE = "topup-internal"
#: ASCII only; a staff id is what the audit trail records
STAFF_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_ALGORITHMS = ["ES256", "ES384", "ES512", "RS256", "EdDSA"]


@dataclass(frozen=True, slots=True)
class StaffIdentity:
    id: str
    roles: frozenset[str]


class StaffIdentityRequired(PermissionDenied):
    """This call changes something in a member of staff's name: it needs the gateway's staff assertion."""

    code = "STAFF_IDENTITY_REQUIRED"


class InvalidStaffAssertion(PermissionDenied):
    """The staff assertion is not valid (signature, issuer, audience or expiry)."""

    code = "STAFF_ASSERTION_INVALID"


@dataclass(frozen=True, slots=True)
class _Assertion:
    token: str
    identity: StaffIdentity | None  # None on the signing side before verification (not needed there)


_current: contextvars.ContextVar[_Assertion | None] = contextvars.ContextVar("topup_staff_assertion", default=None)


def current() -> StaffIdentity:
    """The verified member of staff this call acts for (set by the access interceptor)."""
    found = _current.get()
    if found is None or found.identity is None:
        raise StaffIdentityRequired()
    return found.identity


def outgoing_metadata() -> tuple[tuple[str, str], ...]:
    """The assertion to forward on calls made while handling a staff request (empty otherwise)."""
    found = _current.get()
    return ((METADATA_KEY, found.token),) if found is not None else ()


@contextmanager
def act_as(token: str, identity: StaffIdentity | None = None) -> Iterator[None]:
    reset = _current.set(_Assertion(token, identity))
    try:
        yield
    finally:
        _current.reset(reset)


def set_for_request(token: str, identity: StaffIdentity | None = None) -> None:
    """Like `act_as`, for the rest of the current task (a FastAPI dependency, whose task is the request's)."""
    _current.set(_Assertion(token, identity))


class StaffSigner:
    """The gateway's side: assertions signed with its TLS key, its certificate in `x5c`."""

    def __init__(self, cert_pem: bytes, key_pem: bytes, ttl_seconds: int = 120) -> None:
        cert = x509.load_pem_x509_certificate(cert_pem)
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self._key: PrivateKeyTypes = serialization.load_pem_private_key(key_pem, password=None)
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            self._algorithm = {"secp384r1": "ES384", "secp521r1": "ES512"}.get(self._key.curve.name, "ES256")
        elif isinstance(self._key, ed25519.Ed25519PrivateKey):
            self._algorithm = "EdDSA"
        elif isinstance(self._key, rsa.RSAPrivateKey):
            self._algorithm = "RS256"
        else:
            raise ValueError("the gateway's TLS key must be ECDSA, Ed25519 or RSA to sign staff assertions")
        self.ttl_seconds = ttl_seconds

    def assertion(self, staff_id: str, roles: Iterable[str]) -> str:
        now = int(time.time())
        claims = {"sub": staff_id, "roles": sorted(roles), "iss": ISSUER, "aud": AUDIENCE, "iat": now,
                  "exp": now + self.ttl_seconds}
        return jwt.encode(claims, self._key, algorithm=self._algorithm,  # type: ignore[arg-type]
                          headers={"x5c": [self._x5c]})


class StaffVerifier:
    """A service's side: the assertion's certificate was issued by our CA to the gateway, and signed it."""

    def __init__(self, ca_pem: bytes, leeway_seconds: int = 5) -> None:
        self._cas = x509.load_pem_x509_certificates(ca_pem)
        self.leeway = leeway_seconds

    def verify(self, token: str) -> StaffIdentity:
        try:
            header = jwt.get_unverified_header(token)
            chain = header.get("x5c")
            if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
                raise InvalidStaffAssertion("the staff assertion carries no certificate")
            cert = x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
            self._check_certificate(cert)
            claims: dict[str, Any] = jwt.decode(
                token, cert.public_key(), algorithms=_ALGORITHMS, audience=AUDIENCE,  # type: ignore[arg-type]
                issuer=ISSUER, leeway=self.leeway, options={"require": ["sub", "exp", "iat", "roles"]})
        except InvalidStaffAssertion:
            raise
        except (jwt.PyJWTError, ValueError, TypeError) as err:
            raise InvalidStaffAssertion(f"the staff assertion is not valid ({type(err).__name__})") from err
        sub, roles = claims["sub"], claims["roles"]
        if not isinstance(sub, str) or not STAFF_ID_RE.fullmatch(sub):
            raise InvalidStaffAssertion("the staff assertion names no valid member of staff")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidStaffAssertion("the staff assertion's roles are not a list of names")
        return StaffIdentity(sub, frozenset(roles))

    def _check_certificate(self, cert: x509.Certificate) -> None:
        now = dt.datetime.now(dt.UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise InvalidStaffAssertion("the staff assertion's certificate has expired")
        names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if not names or names[0].value != ISSUER:
            raise InvalidStaffAssertion("only the gateway signs staff assertions")
        for ca in self._cas:
            try:
                cert.verify_directly_issued_by(ca)
                return
            except (InvalidSignature, ValueError, TypeError):
                continue
        raise InvalidStaffAssertion("the staff assertion's certificate is not one of our CA's")


def metadata_token(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    for key, value in metadata or ():
        if key == METADATA_KEY:
            return value.decode("ascii", "replace") if isinstance(value, bytes) else value
    return None


class _Forward:
    """Client interceptors: add the current staff assertion to an outgoing call's metadata."""

    @staticmethod
    def _details(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        extra = outgoing_metadata()
        if not extra:
            return details
        metadata = grpc.aio.Metadata(*(details.metadata or ()), *extra)
        return grpc.aio.ClientCallDetails(details.method, details.timeout, metadata, details.credentials,
                                          details.wait_for_ready)


class ForwardUnaryUnary(_Forward, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails,
                                    request: Any) -> Any:
        return await continuation(self._details(client_call_details), request)


class ForwardUnaryStream(_Forward, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails,
                                     request: Any) -> Any:
        return await continuation(self._details(client_call_details), request)


def forwarding_interceptors() -> list[grpc.aio.ClientInterceptor]:
    return [ForwardUnaryUnary(), ForwardUnaryStream()]
