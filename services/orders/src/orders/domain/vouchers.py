"""Voucher cards (卡券): numbers, PINs, and the card state machine. Pure: no I/O.

Card number: 16 digits = "86" + the batch number (6 digits) + the card's serial in the batch (7 digits) +
a Luhn check digit, so a mistyped number is caught before any lookup.

PIN: 18 random digits from the operating system's CSPRNG (`secrets`), about 60 bits. It is stored only as
HMAC-SHA256 under a secret key kept outside the database (a "keyed hash"):
* a redemption brings the PIN alone, so the stored form must be deterministic to be looked up by an index;
  that rules out salted slow hashes (bcrypt, argon2), which cannot be searched;
* 60 random bits need no key stretching against guessing online (the risk engine locks out after 10
  failures), and the key means a stolen database alone does not let anyone test PINs offline;
* the key has an id recorded per batch, so it can be rotated for new batches.

    created ──activate──▶ active ──start_redemption──▶ redeeming ──complete_redemption──▶ redeemed
                            ▲  └─freeze─▶ frozen ─unfreeze─┘        └──return_card (the order failed)──▶ active
    created|active|frozen ──expire──▶ expired        created|active|frozen ──void──▶ void
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum

from orders.domain.errors import InvalidRequest
from topup_platform import identifiers

ISSUER_PREFIX = "86"
PIN_DIGITS = 18
MAX_BATCH = 100_000


class CardState(StrEnum):
    CREATED = "created"
    ACTIVE = "active"
    REDEEMING = "redeeming"
    REDEEMED = "redeemed"
    FROZEN = "frozen"
    EXPIRED = "expired"
    VOID = "void"


class CardTransition(StrEnum):
    CREATE = "create"
    ACTIVATE = "activate"
    START_REDEMPTION = "start_redemption"
    COMPLETE_REDEMPTION = "complete_redemption"
    RETURN_CARD = "return_card"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    EXPIRE = "expire"
    VOID = "void"


C = CardState
#: transition -> (states it may start from, state it leads to)
CARD_TABLE: dict[CardTransition, tuple[frozenset[CardState | None], CardState]] = {
    CardTransition.CREATE: (frozenset({None}), C.CREATED),
    CardTransition.ACTIVATE: (frozenset({C.CREATED}), C.ACTIVE),
    CardTransition.START_REDEMPTION: (frozenset({C.ACTIVE}), C.REDEEMING),
    CardTransition.COMPLETE_REDEMPTION: (frozenset({C.REDEEMING}), C.REDEEMED),
    CardTransition.RETURN_CARD: (frozenset({C.REDEEMING}), C.ACTIVE),
    CardTransition.FREEZE: (frozenset({C.CREATED, C.ACTIVE}), C.FROZEN),
    CardTransition.UNFREEZE: (frozenset({C.FROZEN}), C.ACTIVE),
    CardTransition.EXPIRE: (frozenset({C.CREATED, C.ACTIVE, C.FROZEN}), C.EXPIRED),
    CardTransition.VOID: (frozenset({C.CREATED, C.ACTIVE, C.FROZEN}), C.VOID),
}


def sources(transition: CardTransition) -> list[str]:
    return [s.value for s in CARD_TABLE[transition][0] if s is not None]


def target(transition: CardTransition) -> CardState:
    return CARD_TABLE[transition][1]


def luhn_digit(digits: str) -> str:
    """The Luhn check digit to append to `digits`."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def card_number(batch_no: int, serial: int) -> str:
    body = f"{ISSUER_PREFIX}{batch_no:06d}{serial:07d}"
    return body + luhn_digit(body)


def valid_card_number(number: str) -> bool:
    return identifiers.matches(identifiers.CARD_NUMBER, number) and luhn_digit(number[:-1]) == number[-1]


def new_pin() -> str:
    return f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"


def valid_pin(pin: str) -> bool:
    """18 ASCII digits (`isdigit()` would take Arabic-Indic or superscript ones, which no PIN has)."""
    return identifiers.matches(identifiers.VOUCHER_PIN, pin)


class PinHasher:
    def __init__(self, key: bytes, key_id: str) -> None:
        if len(key) < 32:
            raise ValueError("the voucher PIN key must be at least 32 bytes")
        self._key = key
        self.key_id = key_id

    def hash(self, pin: str) -> bytes:
        return hmac.new(self._key, pin.encode("ascii"), hashlib.sha256).digest()


def check_batch_size(count: int) -> None:
    if not 1 <= count <= MAX_BATCH:
        raise InvalidRequest(f"a batch has 1 to {MAX_BATCH} cards", count=str(count))
