from __future__ import annotations

import pytest

from orders.domain.accounts import UNICOM, Account, AccountType, carrier_of
from orders.domain.errors import AccountInvalid

SEGMENTS = {"186": "unicom", "138": "china_mobile", "bb:010": "unicom"}


@pytest.mark.parametrize("number", ["18612345678", "13012345678", "19612345678"])
def test_mobile_numbers(number: str) -> None:
    assert Account(AccountType.MOBILE, number).segment == number[:3]


@pytest.mark.parametrize("bad", ["1861234567", "186123456789", "28612345678", "1861234567a", "", "+8618612345678",
                                 "１８６１２３４５６７８", "١٨٦١٢٣٤٥٦٧٨", "18612345678\n", "1861234567８",
                                 "18612345678?x=1", ".."])
def test_bad_mobile_numbers(bad: str) -> None:
    with pytest.raises(AccountInvalid):
        Account(AccountType.MOBILE, bad)


@pytest.mark.parametrize(("account_id", "area"), [("01087654321", "010"), ("075587654321", "0755")])
def test_broadband_accounts(account_id: str, area: str) -> None:
    assert Account(AccountType.BROADBAND, account_id).area_code == area


@pytest.mark.parametrize("bad", ["18612345678", "0108765432", "0108765432100", "abc", "０１０８７６５４３２１",
                                 "01087654321\n"])
def test_bad_broadband_accounts(bad: str) -> None:
    with pytest.raises(AccountInvalid):
        Account(AccountType.BROADBAND, bad)


def test_segment_decides_without_override() -> None:
    assert carrier_of(Account(AccountType.MOBILE, "18612345678"), SEGMENTS, None) == UNICOM
    assert carrier_of(Account(AccountType.MOBILE, "13812345678"), SEGMENTS, None) == "china_mobile"
    assert carrier_of(Account(AccountType.MOBILE, "17012345678"), SEGMENTS, None) is None


def test_ported_override_wins_both_ways() -> None:
    assert carrier_of(Account(AccountType.MOBILE, "13800138000"), SEGMENTS, "unicom") == UNICOM
    assert carrier_of(Account(AccountType.MOBILE, "18699999999"), SEGMENTS, "china_mobile") == "china_mobile"


def test_broadband_by_area_code() -> None:
    assert carrier_of(Account(AccountType.BROADBAND, "01087654321"), SEGMENTS, None) == UNICOM
    assert carrier_of(Account(AccountType.BROADBAND, "075587654321"), SEGMENTS, None) is None
