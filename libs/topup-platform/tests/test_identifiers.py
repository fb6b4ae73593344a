"""The identifier patterns: ASCII only, matched whole (no look-alike digits, no stray line ends)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from topup_platform import identifiers as ids

PATTERNS = [ids.MOBILE, ids.BROADBAND, ids.CHANNEL_ID, ids.CHANNEL_ORDER_ID, ids.SKU, ids.VOUCHER_PIN,
            ids.CARD_NUMBER, ids.TRANSACTION_ID, ids.VISIBLE, ids.NONCE, ids.TIMESTAMP, ids.STAFF_ID, ids.UUID_TEXT,
            ids.KEY_ID]

GOOD = [
    (ids.MOBILE, "18612345678"), (ids.BROADBAND, "01087654321"), (ids.BROADBAND, "075587654321"),
    (ids.CHANNEL_ID, "demo"), (ids.CHANNEL_ORDER_ID, "A-1001:x.y_z"), (ids.SKU, "CREDIT_50"),
    (ids.VOUCHER_PIN, "123456789012345678"), (ids.CARD_NUMBER, "8601000001000014"),
    (ids.TRANSACTION_ID, "2026112422001"), (ids.TRANSACTION_ID, "SANDBOX-UNKNOWN-1"), (ids.VISIBLE, "alice@x.cn"),
    (ids.NONCE, "abcdefghijklmnop"), (ids.TIMESTAMP, "1764400000"), (ids.STAFF_ID, "rita"),
    (ids.UUID_TEXT, str(uuid.uuid4())),
]

BAD = [
    (ids.MOBILE, "１８６１２３４５６７８"),  # fullwidth
    (ids.MOBILE, "١٨٦١٢٣٤٥٦٧٨"),  # Arabic-Indic
    (ids.MOBILE, "18612345678\n"),  # a trailing newline ($ would match before it)
    (ids.MOBILE, "1861234567８"),
    (ids.MOBILE, " 18612345678"),
    (ids.MOBILE, "18612345678?x=1"),
    (ids.MOBILE, ".."),
    (ids.BROADBAND, "010８7654321"),
    (ids.VOUCHER_PIN, "١" * 18),
    (ids.VOUCHER_PIN, "1234567890123456７8"),
    (ids.CARD_NUMBER, "８" * 16),
    (ids.TIMESTAMP, "176440000²"),
    (ids.TIMESTAMP, "1764400000\n"),
    (ids.TRANSACTION_ID, "2026112422001 "),
    (ids.TRANSACTION_ID, "2026112422001\u200b"),
    (ids.TRANSACTION_ID, "2026112422001\n"),
    (ids.CHANNEL_ORDER_ID, "A-1001\n"),
    (ids.STAFF_ID, "Rita"),
    (ids.STAFF_ID, ""),
    (ids.STAFF_ID, " "),
    (ids.STAFF_ID, "ｒｉｔａ"),
    (ids.UUID_TEXT, "{" + str(uuid.UUID(int=1)) + "}"),
    (ids.UUID_TEXT, "１" * 32),
]


@pytest.mark.parametrize(("pattern", "value"), GOOD)
def test_well_formed_ids_match(pattern: str, value: str) -> None:
    assert ids.matches(pattern, value)


@pytest.mark.parametrize(("pattern", "value"), BAD)
def test_look_alikes_and_stray_characters_do_not(pattern: str, value: str) -> None:
    assert not ids.matches(pattern, value)


@given(pattern=st.sampled_from(PATTERNS), value=st.text(min_size=1, max_size=130).filter(
    lambda s: any(ord(c) > 127 for c in s)))
def test_no_string_with_a_non_ascii_character_ever_matches(pattern: str, value: str) -> None:
    assert not ids.matches(pattern, value)


@given(pattern=st.sampled_from(PATTERNS), value=st.from_regex(r"[0-9]{11}", fullmatch=True),
       end=st.sampled_from(["\n", "\r\n", " ", "\t", "\u200b", "\x00"]))
def test_a_valid_looking_id_with_a_stray_end_never_matches(pattern: str, value: str, end: str) -> None:
    assert not ids.matches(pattern, value + end)


def test_non_strings_never_match() -> None:
    assert not ids.matches(ids.MOBILE, 18612345678)
    assert not ids.matches(ids.MOBILE, None)


def test_accounts_by_type() -> None:
    assert ids.valid_account("mobile", "18612345678")
    assert not ids.valid_account("broadband", "18612345678")
    assert not ids.valid_account("landline", "18612345678")
    assert ids.account_type_of("01087654321") == "broadband"
    assert ids.account_type_of("１８６１２３４５６７８") is None


def test_uuids_only_in_their_canonical_form() -> None:
    u = uuid.uuid4()
    assert ids.parse_uuid(str(u)) == u
    for alias in ("１" * 32, u.hex, "{" + str(u) + "}", f"urn:uuid:{u}", f"{u}\n"):
        with pytest.raises(ValueError, match="canonical"):
            ids.parse_uuid(alias)


@pytest.mark.parametrize(("value", "segment"), [
    ("18612345678", "18612345678"), ("18612345678?x=1", "18612345678%3Fx%3D1"), ("a/b", "a%2Fb"),
    ("%2e%2e", "%252e%252e"), ("a#b", "a%23b")])
def test_url_segments_are_quoted_whole(value: str, segment: str) -> None:
    assert ids.url_segment(value) == segment


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_dot_segments_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="segment"):
        ids.url_segment(value)
