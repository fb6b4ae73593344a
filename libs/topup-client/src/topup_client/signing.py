"""The request signature of the channel API contract (DESIGN.md section 5), in one place.

    X-Signature = base64(HMAC-SHA256(secret, METHOD "\\n" PATH_WITH_QUERY "\\n" TIMESTAMP "\\n" NONCE "\\n"
                                             hex(sha256(body))))

The gateway verifies channel requests with it, and signs its callbacks to channels with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

HEADER_CHANNEL = "X-Channel-Id"
HEADER_TIMESTAMP = "X-Timestamp"
HEADER_NONCE = "X-Nonce"
HEADER_SIGNATURE = "X-Signature"


def string_to_sign(method: str, path_with_query: str, timestamp: str | int, nonce: str, body: bytes) -> bytes:
    return "\n".join(
        [method.upper(), path_with_query, str(timestamp), nonce, hashlib.sha256(body).hexdigest()]
    ).encode("utf-8")


def sign(secret: str | bytes, method: str, path_with_query: str, timestamp: str | int, nonce: str,
         body: bytes) -> str:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    digest = hmac.new(key, string_to_sign(method, path_with_query, timestamp, nonce, body), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(secret: str | bytes, signature: str, method: str, path_with_query: str, timestamp: str | int, nonce: str,
           body: bytes) -> bool:
    """Constant-time check of a signature (for channels verifying our callbacks, and for the gateway)."""
    expected = sign(secret, method, path_with_query, timestamp, nonce, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", errors="replace"))


def new_nonce() -> str:
    return secrets.token_hex(16)  # 32 characters, within the contract's 16-64


def signed_headers(channel_id: str, secret: str, method: str, path_with_query: str, body: bytes,
                   *, timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    n = nonce or new_nonce()
    return {
        HEADER_CHANNEL: channel_id,
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: n,
        HEADER_SIGNATURE: sign(secret, method, path_with_query, ts, n, body),
    }
