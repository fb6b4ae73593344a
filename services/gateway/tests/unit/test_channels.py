"""Channel credentials: sealed secrets, HMAC and RSA verification, expiry, callback timing (notify_url rules:
test_callback_policy)."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.callbacks import next_state, path_with_query
from gateway.channels import Channel, HmacKey, InvalidKeyError, RsaKey, SecretBox, load_rsa_public_key, new_secret
from topup_client.signing import sign, sign_rsa

BOX = SecretBox(base64.b64encode(b"k" * 32).decode())


def test_sealed_secrets_open_only_in_their_own_row() -> None:
    sealed = BOX.seal(b"s3cret", "shop/k1")
    assert b"s3cret" not in sealed
    assert BOX.open(sealed, "shop/k1") == b"s3cret"
    with pytest.raises(InvalidTag):
        BOX.open(sealed, "other/k1")  # moved to another channel's row
    with pytest.raises(InvalidTag):
        SecretBox(base64.b64encode(b"x" * 32).decode()).open(sealed, "shop/k1")  # another master key
    assert len(new_secret()) >= 43 and new_secret() != new_secret()


def _pem(key: object) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,  # type: ignore[attr-defined]
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_only_real_rsa_keys_of_2048_bits_are_accepted() -> None:
    assert load_rsa_public_key(_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))).key_size == 2048
    for bad in (_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
                _pem(ec.generate_private_key(ec.SECP256R1())), "-----BEGIN PUBLIC KEY-----\nAAAA\n", ""):
        with pytest.raises(InvalidKeyError):
            load_rsa_public_key(bad)


def test_a_channel_verifies_with_any_active_key_until_it_expires() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = time.time()
    channel = Channel("shop", "Shop", True,
                      hmac_keys=(HmacKey("new", b"new-secret"), HmacKey("old", b"old-secret", now + 60)),
                      rsa_keys=(RsaKey("r1", private.public_key()),))
    args = ("POST", "/v1/recharges", "1700000000", "n" * 16, b"{}")
    assert channel.verify(sign("new-secret", *args), *args)
    assert channel.verify(sign("old-secret", *args), *args)
    assert channel.verify(sign_rsa(private, *args), *args)
    assert not channel.verify(sign("guess", *args), *args)
    assert not channel.verify("x" * 344, *args)
    expired = Channel("shop", "Shop", True, hmac_keys=(HmacKey("old", b"old-secret", now - 1),))
    assert not expired.verify(sign("old-secret", *args), *args)


def test_the_callback_schedule() -> None:
    schedule = (240, 600, 3600)
    assert next_state(1, False, schedule) == ("pending", 240)
    assert next_state(3, False, schedule) == ("pending", 3600)
    assert next_state(4, False, schedule) == ("gave_up", None)  # the first attempt and three retries
    assert next_state(2, True, schedule) == ("delivered", None)
    assert path_with_query("https://shop.example/n?a=1&b=2") == "/n?a=1&b=2"
    assert path_with_query("https://shop.example") == "/"


async def test_requests_that_miss_together_wait_for_one_reload() -> None:
    import asyncio

    from gateway.channels import ChannelRegistry

    class Registry(ChannelRegistry):
        reloads = 0

        async def reload(self) -> None:
            Registry.reloads += 1
            await asyncio.sleep(0.05)
            self._channels = {"new": Channel("new", "New", True)}

    registry = Registry(None, BOX)  # type: ignore[arg-type]
    found = await asyncio.gather(*(registry.get("new") for _ in range(10)))
    assert all(c is not None and c.channel_id == "new" for c in found)
    assert Registry.reloads == 1
    assert await registry.get("nobody") is None  # looked up at most once a second
    assert Registry.reloads == 1
