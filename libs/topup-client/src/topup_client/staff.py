"""Staff side of the CLI: bearer tokens for the admin API, and the voucher-batch calls the README's walkthrough
needs (create a batch, activate it). Channels never need this."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import jwt

#: the development stack's signing secret (the gateway refuses it outside dev)
DEV_ADMIN_JWT_SECRET = "dev-only-admin-jwt-secret-not-for-production"
AUDIENCE = "topup-admin"
ISSUER = "topup-gateway"
ROLES = ("reviewer", "finance", "admin")


def issue_token(secret: str, staff_id: str, roles: list[str], ttl_seconds: int = 8 * 3600,
                issuer: str = ISSUER) -> str:
    """A staff bearer token as the gateway verifies it (HS256; `sub`, `roles`, `iss`, `aud`, `iat`, `exp`)."""
    now = int(time.time())
    return jwt.encode({"sub": staff_id, "roles": roles, "iss": issuer, "aud": AUDIENCE, "iat": now,
                       "exp": now + ttl_seconds}, secret, algorithm="HS256")


@dataclass(frozen=True, slots=True)
class IssuedBatch:
    batch_id: str
    #: the export file: card_number,pin,sku,face_value_fen,expires_at (the only time the PINs are given out)
    csv_text: str

    @property
    def count(self) -> int:
        return max(0, len(self.csv_text.strip().splitlines()) - 1)


class StaffError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class StaffClient:
    """The admin API's voucher-batch calls with a staff bearer token."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 120.0) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                 headers={"Authorization": f"Bearer {token}"})

    def __enter__(self) -> StaffClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def _check(self, reply: httpx.Response) -> httpx.Response:
        if reply.is_success:
            return reply
        try:
            body = reply.json()
        except ValueError:
            body = {}
        raise StaffError(reply.status_code, body.get("code", "HTTP_ERROR"), body.get("message", reply.text[:200]))

    def create_voucher_batch(self, sku: str, count: int, expires_at: datetime, note: str = "") -> IssuedBatch:
        reply = self._check(self.http.post("/admin/v1/voucher-batches", json={
            "sku": sku, "count": count, "expires_at": expires_at.isoformat(), "note": note}))
        return IssuedBatch(reply.headers["X-Batch-Id"], reply.text)

    def change_vouchers(self, batch_id: str, action: str, *, card_first: str | None = None,
                        card_last: str | None = None, reason: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {"reason": reason}
        if card_first:
            body["card_first"] = card_first
        if card_last:
            body["card_last"] = card_last
        return dict(self._check(self.http.post(f"/admin/v1/voucher-batches/{batch_id}/{action}", json=body)).json())

    def voucher_batch(self, batch_id: str) -> dict[str, Any]:
        return dict(self._check(self.http.get(f"/admin/v1/voucher-batches/{batch_id}")).json())
