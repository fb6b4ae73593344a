"""Write docs/signing/test-vectors.json: the published signature test vectors of the channel API.

    python tools/gen_signing_vectors.py

The signatures are computed here with `hmac` and `cryptography` directly, not with the SDK, so the tests that
check the SDK and the gateway against the file check them against an independent computation. The RSA key pair
is a TEST-ONLY key made once and kept in the file (PKCS#1 v1.5 signatures are deterministic, so the vectors are
stable); a run reuses it, and makes one only when the file has none.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

OUT = Path(__file__).resolve().parent.parent / "docs" / "signing" / "test-vectors.json"

RECHARGE = ('{"channel_order_id":"SHOP-20261129-0001","account":{"type":"mobile","id":"18612345678"},'
            '"sku":"CREDIT_50","payment":{"method":"alipay","transaction_id":"2026112922001400001","paid_fen":5000},'
            '"notify_url":"https://shop.example.com/notify"}')
REDEEM = ('{"channel_order_id":"SHOP-20261129-0002","account":{"type":"mobile","id":"18612345678"},'
          '"pin":"1234567890123456"}')

# (name, algorithm, method, path_with_query, timestamp, nonce, body, secret)
CASES = [
    ("hmac-get-empty-body", "HMAC-SHA256", "GET", "/v1/products?account=18612345678", "1700000000",
     "abcdefghijklmnop", "", "demo-secret"),
    ("hmac-post-recharge", "HMAC-SHA256", "POST", "/v1/recharges", "1764403200",
     "3f9c2a7e51b84d0c9e6a1f2b7c8d9e0a", RECHARGE, "demo-secret"),
    ("hmac-get-percent-encoded-query", "HMAC-SHA256", "GET",
     "/v1/recharges?channel_order_id=SHOP%2F2026%2011", "1764403260", "n0nce-with-punctuation!~", "",
     "kH3x9_QpZ-7mYt2LwVb8sNcR4aE6uJ1oF5gD0iT_xy0"),
    ("hmac-post-utf8-body", "HMAC-SHA256", "POST", "/v1/voucher-redemptions", "1764403320",
     "0123456789abcdef0123456789abcdef",
     '{"channel_order_id":"店铺-0003","account":{"type":"mobile","id":"18612345678"},"pin":"1234567890123456"}',
     "demo-secret"),
    ("rsa-post-recharge", "SHA256withRSA", "POST", "/v1/recharges", "1764403200",
     "3f9c2a7e51b84d0c9e6a1f2b7c8d9e0a", RECHARGE, None),
    ("rsa-get-empty-body", "SHA256withRSA", "GET", "/v1/products?account=18612345678", "1700000000",
     "abcdefghijklmnop", "", None),
    ("rsa-post-redeem", "SHA256withRSA", "POST", "/v1/voucher-redemptions", "1764403380",
     "fedcba9876543210fedcba9876543210", REDEEM, None),
]


def _key(existing: dict | None) -> rsa.RSAPrivateKey:
    if existing:
        key = serialization.load_pem_private_key(existing["test_rsa_key"]["private_key_pem"].encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def main() -> None:
    existing = json.loads(OUT.read_text()) if OUT.exists() else None
    key = _key(existing)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    vectors = []
    for name, algorithm, method, path, ts, nonce, body, secret in CASES:
        body_bytes = body.encode("utf-8")
        body_hash = hashlib.sha256(body_bytes).hexdigest()
        to_sign = f"{method}\n{path}\n{ts}\n{nonce}\n{body_hash}"
        if algorithm == "HMAC-SHA256":
            assert secret is not None
            raw = hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).digest()
        else:
            raw = key.sign(to_sign.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        vector = {"name": name, "algorithm": algorithm, "method": method, "path_with_query": path,
                  "timestamp": ts, "nonce": nonce, "body": body}
        if secret is not None:
            vector["secret"] = secret
        vector |= {"body_sha256": body_hash, "string_to_sign": to_sign,
                   "signature": base64.b64encode(raw).decode("ascii")}
        vectors.append(vector)
    document = {
        "description": (
            "Signature test vectors of the channel API (X-Signature). The string to sign is "
            "METHOD + '\\n' + PATH_WITH_QUERY + '\\n' + TIMESTAMP + '\\n' + NONCE + '\\n' + hex(sha256(body)), "
            "encoded UTF-8; `body` here is the request body as UTF-8 text (its bytes are what is hashed), "
            "`path_with_query` is the path and query exactly as sent (no re-encoding, no reordering). "
            "HMAC-SHA256: X-Signature = base64(HMAC-SHA256(secret, string_to_sign)). SHA256withRSA: X-Signature "
            "= base64(RSASSA-PKCS1-v1_5 with SHA-256 of string_to_sign, with the channel's private key)."),
        "test_rsa_key": {
            "warning": "TEST ONLY: this key pair is public. Never register it for a real channel.",
            "private_key_pem": private_pem,
            "public_key_pem": public_pem,
        },
        "vectors": vectors,
    }
    OUT.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
