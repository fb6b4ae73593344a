"""Account ids and the carrier check (携号转网 aware).

A mobile account is an 11-digit mainland number. Whether Unicom serves it is decided by a local routing
table: the number's 3-digit segment (号段) gives the carrier it was issued to, and a ported-number
override, synced from what BOSS publishes, wins over the segment. So a number issued by China Mobile but
ported to Unicom is served, and a Unicom number ported away is not.

A broadband account is the city's area code (3 or 4 digits, starting with 0) followed by an 8-digit line
number, e.g. 01087654321 (Beijing) or 075587654321 (Shenzhen).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from orders.domain.errors import AccountInvalid
from topup_platform import identifiers

UNICOM = "unicom"


class AccountType(StrEnum):
    MOBILE = "mobile"
    BROADBAND = "broadband"


@dataclass(frozen=True, slots=True)
class Account:
    type: AccountType
    id: str

    def __post_init__(self) -> None:
        # ASCII digits, matched whole: the id is the key of risk, idempotency and BOSS alike
        if not identifiers.valid_account(self.type.value, self.id):
            kind = "an 11-digit mobile number" if self.type is AccountType.MOBILE else "a broadband account id"
            raise AccountInvalid(f"account id is not {kind}", account_type=self.type.value)

    @property
    def segment(self) -> str:
        """The number segment (号段) the routing table is keyed on."""
        return self.id[:3] if self.type is AccountType.MOBILE else self.area_code

    @property
    def area_code(self) -> str:
        return self.id[: len(self.id) - 8]


def carrier_of(account: Account, segments: dict[str, str], ported_to: str | None) -> str | None:
    """The carrier serving `account`: a ported-number override wins over the segment table."""
    if account.type is AccountType.BROADBAND:
        return segments.get(f"bb:{account.area_code}")
    if ported_to is not None:
        return ported_to
    return segments.get(account.segment)
