"""The identifiers the platform accepts, in one place: ASCII only, matched whole.

Python's `re` is Unicode-aware: `\\d` matches fullwidth (`１`) and Arabic-Indic (`١`) digits, `$` matches before a
trailing newline, and `str.isdigit()` accepts superscripts (`²`) that `int()` then refuses. An id that passes
such a check reaches the block list, velocity and lockouts under one key and BOSS under another. So every
pattern here spells its characters out (`[0-9]`, never `\\d`), is compiled with `re.ASCII`, and is applied with
`fullmatch` (never `match` with `$`). Every service that keys on an identifier re-checks it with these.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import Final
from urllib.parse import quote

#: the text of each pattern (also what the OpenAPI document shows, anchored)
MOBILE: Final = r"1[3-9][0-9]{9}"
BROADBAND: Final = r"0[0-9]{2,3}[0-9]{8}"
CHANNEL_ID: Final = r"[a-z0-9][a-z0-9_-]{1,63}"
CHANNEL_ORDER_ID: Final = r"[A-Za-z0-9_.:-]{1,64}"
SKU: Final = r"[A-Z0-9_]{1,32}"
VOUCHER_PIN: Final = r"[0-9]{18}"
CARD_NUMBER: Final = r"[0-9]{16}"
#: a payment provider's transaction id (Alipay trade_no, WeChat transaction_id, UnionPay queryId...)
TRANSACTION_ID: Final = r"[A-Za-z0-9_.:-]{1,128}"
#: free-form ids a channel passes on (payer account, device, user): visible ASCII, no spaces
VISIBLE: Final = r"[\x21-\x7e]{1,128}"
NONCE: Final = r"[\x21-\x7e]{16,64}"
#: unix seconds (at most 12 digits: year 33658)
TIMESTAMP: Final = r"[0-9]{1,12}"
#: a member of staff (canonical: lower case)
STAFF_ID: Final = r"[a-z0-9][a-z0-9._-]{0,63}"
#: a UUID in its canonical 8-4-4-4-12 hex form
UUID_TEXT: Final = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
KEY_ID: Final = r"[A-Za-z0-9_.-]{1,64}"

_COMPILED: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    found = _COMPILED.get(pattern)
    if found is None:
        found = _COMPILED[pattern] = re.compile(pattern, re.ASCII)
    return found


def matches(pattern: str, value: object) -> bool:
    """Whether `value` is a string matched whole by `pattern` (one of the constants above)."""
    return isinstance(value, str) and _compiled(pattern).fullmatch(value) is not None


ACCOUNT_PATTERNS: Final = {"mobile": MOBILE, "broadband": BROADBAND}


def valid_account(account_type: str, account_id: object) -> bool:
    """An 11-digit mainland mobile number, or a broadband account id (area code + 8-digit line number)."""
    pattern = ACCOUNT_PATTERNS.get(account_type)
    return pattern is not None and matches(pattern, account_id)


def account_type_of(account_id: str) -> str | None:
    """mobile or broadband by the id's format alone (None: neither)."""
    return next((t for t, p in ACCOUNT_PATTERNS.items() if matches(p, account_id)), None)


def parse_uuid(value: str) -> uuid.UUID:
    """A UUID in its canonical text form only (ValueError otherwise): `uuid.UUID` alone also takes braces, a
    `urn:uuid:` prefix, missing hyphens and, through `int()`, non-ASCII digits: several spellings of one id."""
    if not matches(UUID_TEXT, value):
        raise ValueError("not a UUID in canonical form")
    return uuid.UUID(value)


def url_segment(value: str) -> str:
    """`value` as one path segment of a URL to another system: percent-encoded whole (`/`, `?`, `#`, `%`
    included: `quote(value, safe="")`), and never empty, `.` or `..`, which no encoding keeps from meaning
    "this" or "the parent" (ValueError)."""
    if value in ("", ".", ".."):
        raise ValueError("a path segment may not be empty, . or ..")
    return quote(value, safe="")


def same_person(a: str, b: str) -> bool:
    """Whether two staff ids name one person, whatever their spelling: compared NFKC-casefolded, without
    spaces, control or invisible formatting characters (`Rita`, `ｒｉｔａ`, `ri\\u200bta` and `rita ` are `rita`).
    Tokens are issued for canonical ids only; this guards every comparison that decides something anyway."""
    return _person_key(a) == _person_key(b)


def _person_key(value: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    return "".join(c for c in folded if unicodedata.category(c)[0] not in ("C", "Z"))
