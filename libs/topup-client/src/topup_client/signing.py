"""The request signature of the channel API contract (DESIGN.md section 5), in one place.

    X-Signature = base64(HMAC-SHA256(secret, METHOD "\\n" PATH_WITH_QUERY "\\n" TIMESTAMP "\\n" NONCE "\\n"
                                             hex(sha256(body))))

The gateway verifies channel requests with it, and signs its callbacks to channels with it.

A channel may instead sign SHA256withRSA (RSASSA-PKCS1-v1_5 over SHA-256, as Alipay's RSA2) the very same
string with its private key, once the gateway holds its public key: `X-Signature` is then the base64 of the
RSA signature (344 characters for a 2048-bit key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

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


def load_private_key(pem: str | bytes) -> RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def sign_rsa(private_key: RSAPrivateKey | str | bytes, method: str, path_with_query: str, timestamp: str | int,
             nonce: str, body: bytes) -> str:
    """SHA256withRSA of the contract's string to sign, base64."""
    key = private_key if isinstance(private_key, RSAPrivateKey) else load_private_key(private_key)
    signature = key.sign(string_to_sign(method, path_with_query, timestamp, nonce, body), padding.PKCS1v15(),
                         hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify_rsa(public_key: RSAPublicKey, signature: str, method: str, path_with_query: str, timestamp: str | int,
               nonce: str, body: bytes) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
    except (ValueError, TypeError):
        return False
    if len(raw) != public_key.key_size // 8:
        return False
    try:
        public_key.verify(raw, string_to_sign(method, path_with_query, timestamp, nonce, body), padding.PKCS1v15(),
                          hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def new_nonce() -> str:
    return secrets.token_hex(16)  # 32 characters, within the contract's 16-64


def signed_headers(channel_id: str, secret: str | bytes | None, method: str, path_with_query: str, body: bytes,
                   *, timestamp: int | None = None, nonce: str | None = None,
                   private_key: RSAPrivateKey | None = None) -> dict[str, str]:
    """The four headers of a signed request: HMAC with `secret`, or SHA256withRSA with `private_key`."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    n = nonce or new_nonce()
    if private_key is not None:
        signature = sign_rsa(private_key, method, path_with_query, ts, n, body)
    elif secret is not None:
        signature = sign(secret, method, path_with_query, ts, n, body)
    else:
        raise ValueError("a secret or a private key is needed to sign")
    return {HEADER_CHANNEL: channel_id, HEADER_TIMESTAMP: ts, HEADER_NONCE: n, HEADER_SIGNATURE: signature}


# --- callbacks ---------------------------------------------------------------------------------------------

HEADER_KEY_ID = "X-Key-Id"
HEADER_NOTIFY_ID = "X-Notify-Id"


class CallbackVerificationError(Exception):
    """A callback that does not come from the gateway, or not now: answer it with a non-2xx status."""


def verify_callback(secrets_by_key: str | bytes | dict[str, str], method: str, path_with_query: str,
                    headers: Any, body: bytes, *, window_seconds: int = 300, now: float | None = None,
                    channel_id: str | None = None) -> dict[str, Any]:
    """Check a callback the gateway POSTed to your notify_url, and return its JSON body.

    `secrets_by_key`: your callback secret, or {key id: secret} while a rotation has two (the gateway names
    the key it signed with in `X-Key-Id`). `path_with_query`: the path and query the request arrived with.
    `headers`: any case-insensitive mapping (or a dict). Dedupe on the body's `notify_id`: a callback may
    arrive more than once.
    """
    import json

    def header(name: str) -> str:
        value = headers.get(name)
        if value is None:
            value = next((v for k, v in dict(headers).items() if k.lower() == name.lower()), None)
        if not value:
            raise CallbackVerificationError(f"missing {name}")
        return str(value)

    timestamp, nonce, signature = header(HEADER_TIMESTAMP), header(HEADER_NONCE), header(HEADER_SIGNATURE)
    if channel_id is not None and header(HEADER_CHANNEL) != channel_id:
        raise CallbackVerificationError("for another channel")
    # ASCII digits only: a superscript digit passes str.isdigit() and then breaks int()
    if not re.fullmatch(r"[0-9]{1,12}", timestamp, re.ASCII) or abs(
            (time.time() if now is None else now) - int(timestamp)) > window_seconds:
        raise CallbackVerificationError("timestamp outside the window")
    if isinstance(secrets_by_key, dict):
        key_id = headers.get(HEADER_KEY_ID) or next(
            (v for k, v in dict(headers).items() if k.lower() == HEADER_KEY_ID.lower()), None)
        candidates = [secrets_by_key[key_id]] if key_id in secrets_by_key else list(secrets_by_key.values())
    else:
        candidates = [secrets_by_key]  # type: ignore[list-item]
    if not any(verify(s, signature, method, path_with_query, timestamp, nonce, body) for s in candidates):
        raise CallbackVerificationError("the signature does not verify")
    try:
        payload: dict[str, Any] = json.loads(body)
    except ValueError as err:
        raise CallbackVerificationError("the body is not JSON") from err
    return payload
