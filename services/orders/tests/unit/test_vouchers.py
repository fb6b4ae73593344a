"""Card numbers, PINs and the card state machine."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.domain.errors import InvalidRequest
from orders.domain.vouchers import (
    CARD_TABLE,
    CardState,
    PinHasher,
    card_number,
    check_batch_size,
    luhn_digit,
    new_pin,
    valid_card_number,
    valid_pin,
)


def test_luhn_known_values() -> None:
    assert luhn_digit("7992739871") == "3"  # the classic example: 79927398713
    assert luhn_digit("4111111111111111"[:-1]) == "1"


@given(st.integers(100001, 999999), st.integers(1, 100_000))
def test_card_numbers_are_16_digits_and_check(batch_no: int, serial: int) -> None:
    number = card_number(batch_no, serial)
    assert len(number) == 16 and number.startswith("86")
    assert valid_card_number(number)


@given(st.integers(100001, 999999), st.integers(1, 100_000), st.integers(0, 15), st.integers(1, 9))
def test_any_single_digit_typo_is_caught(batch_no: int, serial: int, position: int, delta: int) -> None:
    number = card_number(batch_no, serial)
    typo = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1:]
    assert not valid_card_number(typo)


def test_pins_are_18_random_digits() -> None:
    pins = {new_pin() for _ in range(2000)}
    assert len(pins) == 2000
    assert all(valid_pin(p) for p in pins)
    assert {p[0] for p in pins} == set("0123456789")  # leading zeros are kept, every digit occurs


def test_the_keyed_hash_depends_on_the_key() -> None:
    a, b = PinHasher(b"k" * 32, "a"), PinHasher(b"j" * 32, "b")
    assert a.hash("123456789012345678") == a.hash("123456789012345678")
    assert a.hash("123456789012345678") != b.hash("123456789012345678")
    assert a.hash("123456789012345678") != a.hash("123456789012345679")
    with pytest.raises(ValueError, match="32 bytes"):
        PinHasher(b"short", "c")


def test_batch_size_bounds() -> None:
    check_batch_size(1)
    check_batch_size(100_000)
    for bad in (0, 100_001, -5):
        with pytest.raises(InvalidRequest):
            check_batch_size(bad)


def test_card_state_machine() -> None:
    reached = {CardState.CREATED}
    frontier = {CardState.CREATED}
    while frontier:
        frontier = {t for s, t in CARD_TABLE.values() if s & frontier} - reached
        reached |= frontier
    assert reached == set(CardState)
    # Redeemed, expired and void are final: nothing leaves them.
    assert all(not ({CardState.REDEEMED, CardState.EXPIRED, CardState.VOID} & s) for s, _ in CARD_TABLE.values())


@pytest.mark.parametrize("pin", ["١" * 18, "１" * 18, "²" * 18, "12345678901234567８", "123456789012345678\n",
                                 "12345678901234567"])
def test_a_pin_of_look_alike_digits_is_no_pin(pin: str) -> None:
    """Not a PIN (so VOUCHER_INVALID), rather than a PIN the ASCII hash then chokes on (a 500)."""
    assert not valid_pin(pin)


@pytest.mark.parametrize("number", ["８" * 16, "8601000001000014\n", "860100000100001٤"])
def test_a_card_number_of_look_alike_digits_is_no_card_number(number: str) -> None:
    assert not valid_card_number(number)
