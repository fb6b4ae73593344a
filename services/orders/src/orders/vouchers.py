"""Use cases of voucher cards (卡券): batches, card changes by staff, and redemption.

A redemption is one transaction: claim the card by its PIN (the row lock makes it exactly once under any
concurrency), then create the order it pays for, with its history and events (the same statement as a
recharge's). If anything refuses the order, the transaction rolls back and the card is still active. The
card is settled by the order's outcome: SUCCEEDED → redeemed; FAILED → back to active (the order core
does it in the transaction of the transition).
Every failed attempt on a card is published (VoucherRedemptionFailed) for the risk engine's lockout.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
import orjson

from orders import convert, metrics, repository
from orders import voucher_repository as vrepo
from orders.catalog import Catalog
from orders.domain.accounts import Account
from orders.domain.errors import (
    AccountNotServed,
    InvalidRequest,
    OrdersError,
    SkuNotAvailable,
    SkuUnknown,
    VoucherAlreadyRedeemed,
    VoucherBatchNotFound,
    VoucherExpired,
    VoucherFrozen,
    VoucherInvalid,
    VoucherNotActive,
    VoucherNotFound,
)
from orders.domain.models import Order, Payment, PaymentMethod, RiskDecision, RiskOutcome
from orders.domain.state import Transition, next_status
from orders.domain.vouchers import (
    CardState,
    CardTransition,
    PinHasher,
    card_number,
    check_batch_size,
    new_pin,
    valid_card_number,
    valid_pin,
)
from orders.service import OrdersService
from topup.events.v1 import vouchers_pb2
from topup.orders.v1 import orders_pb2
from topup_platform import identifiers
from topup_platform.events import VOUCHERS_TOPIC
from topup_platform.ids import new_id
from topup_platform.logging import get_logger
from topup_platform.outbox import Outbox
from topup_platform.timeutil import to_timestamp, utcnow

log = get_logger(__name__)

CHUNK = 5_000
_FIRST = {RiskOutcome.ALLOW: (Transition.ACCEPT, ""), RiskOutcome.REVIEW: (Transition.HOLD_FOR_REVIEW, "RISK_REVIEW")}


@dataclass(frozen=True, slots=True)
class Redemption:
    channel_id: str
    channel_order_id: str
    account: Account
    pin: str
    notify_url: str
    decision: RiskDecision
    device_id: str = ""
    ip: str = ""
    user_id: str = ""
    trace_context: Mapping[str, str] | None = None

    def fingerprint(self, pin_hash: bytes) -> bytes:
        """What "the same request" means: every field the channel sent, the PIN as its keyed hash."""
        return hashlib.sha256(orjson.dumps({
            "channel_order_id": self.channel_order_id, "account": {"type": self.account.type.value,
                                                                   "id": self.account.id},
            "pin": pin_hash.hex(), "notify_url": self.notify_url,
        }, option=orjson.OPT_SORT_KEYS)).digest()


class VoucherService:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, catalog: Catalog, orders: OrdersService,
                 hasher: PinHasher) -> None:
        self.pool = pool
        self.outbox = outbox
        self.catalog = catalog
        self.orders = orders
        self.hasher = hasher

    # --- batches -----------------------------------------------------------------------------------

    async def create_batch(self, sku: str, count: int, expires_at: datetime, actor_kind: str, actor_id: str,
                           note: str = "") -> AsyncIterator[tuple[asyncpg.Record | None, list[tuple[str, str]]]]:
        """Create a batch; yields (the batch, first chunk of (card, PIN)) then (None, chunk)... The PINs exist
        only in this call: stored as keyed hashes, handed out once here, never again."""
        check_batch_size(count)
        entry = self.catalog.snapshot.products.get(sku)
        if entry is None:
            raise SkuUnknown(f"no product has the SKU {sku!r}", sku=sku)
        product, _ = entry
        if expires_at <= utcnow():
            raise InvalidRequest("expires_at must be in the future")
        batch_id = new_id()
        async with self.pool.acquire() as conn:
            for attempt in (1, 2):
                pins = [new_pin() for _ in range(count)]
                try:
                    async with conn.transaction():
                        batch_no = await vrepo.next_batch_no(conn)
                        numbers = [card_number(batch_no, serial) for serial in range(1, count + 1)]
                        await vrepo.insert_batch(conn, batch_id=batch_id, batch_no=batch_no, sku=sku,
                                                 face_value_fen=product.face_value_fen, count=count,
                                                 expires_at=expires_at, pin_key_id=self.hasher.key_id, note=note,
                                                 created_by=actor_id)
                        await vrepo.copy_cards(conn, [
                            (number, batch_id, serial, self.hasher.hash(pin), CardState.CREATED.value, expires_at)
                            for serial, (number, pin) in enumerate(zip(numbers, pins, strict=True), start=1)
                        ], actor_kind, actor_id)
                    break
                except asyncpg.UniqueViolationError:
                    if attempt == 2:  # two PINs of 10^18 colliding twice: something else is wrong
                        raise
                    log.warning("a new PIN collided with an existing one; generating the batch again")
            found = await vrepo.get_batch(conn, batch_id)
        assert found is not None
        log.info("voucher batch created", batch_id=str(batch_id), sku=sku, count=count, by=actor_id)
        cards = list(zip(numbers, pins, strict=True))
        del pins
        yield found[0], cards[:CHUNK]
        for start in range(CHUNK, count, CHUNK):
            yield None, cards[start : start + CHUNK]

    async def get_batch(self, batch_id: str) -> tuple[asyncpg.Record, dict[str, int]]:
        async with self.pool.acquire() as conn:
            found = await vrepo.get_batch(conn, _uuid(batch_id, VoucherBatchNotFound))
        if found is None:
            raise VoucherBatchNotFound("no such voucher batch", batch_id=batch_id)
        return found

    async def change(self, transition: CardTransition, batch_id: str, first: str, last: str, actor_kind: str,
                     actor_id: str, reason: str) -> tuple[int, int]:
        """Activate, freeze, unfreeze or void a batch, a range of it, or one card. Returns (changed, skipped)."""
        for number in (first, last):
            if number and not valid_card_number(number):
                raise InvalidRequest("not a valid card number (16 digits with a check digit)", card_number=number)
        bid = _uuid(batch_id, VoucherBatchNotFound)
        async with self.pool.acquire() as conn, conn.transaction():
            if await vrepo.get_batch(conn, bid) is None:
                raise VoucherBatchNotFound("no such voucher batch", batch_id=batch_id)
            changed, selected = await vrepo.change_cards(conn, bid, first or "0", last or first or "9" * 16,
                                                         transition, actor_kind, actor_id, reason)
        log.info("voucher cards changed", batch_id=batch_id, transition=transition.value, changed=changed,
                 by=actor_id)
        return changed, selected - changed

    async def get_card(self, number: str) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
        async with self.pool.acquire() as conn:
            found = await vrepo.get_card(conn, number)
        if found is None:
            raise VoucherNotFound("no such voucher card", card_number=number)
        return found

    async def expire_due(self) -> int:
        """Mark cards past their expiry as expired (a redemption refuses them at once anyway)."""
        async with self.pool.acquire() as conn:
            expired = await vrepo.expire_due(conn)
        if expired:
            log.info("voucher cards expired", count=expired)
        return expired

    # --- redemption --------------------------------------------------------------------------------

    async def redeem(self, r: Redemption) -> tuple[orders_pb2.Order, bool]:
        """Redeem a card for an account. Returns (the order, replayed?)."""
        if r.decision.outcome not in _FIRST:
            raise InvalidRequest(f"a voucher cannot be redeemed on a {r.decision.outcome.value} decision")
        pin_hash = self.hasher.hash(r.pin) if valid_pin(r.pin) else b""
        fingerprint = r.fingerprint(pin_hash)
        async with self.pool.acquire() as conn:
            replay = await self.orders.replay(conn, r.channel_id, r.channel_order_id, fingerprint)
            if replay is not None:
                return replay, True
            if not pin_hash:
                await self._failed(conn, r, VoucherInvalid.code)
                raise VoucherInvalid("no card has this PIN")
            order_id = new_id()
            try:
                async with conn.transaction():
                    card = await vrepo.claim(conn, pin_hash, order_id, "channel", r.channel_id)
                    if card is None:
                        raise await self._why_not(conn, pin_hash)
                    new = self._new_order(order_id, r, card["sku"], card["card_number"], fingerprint)
                    inserted, carrier = (await repository.create_orders(conn, [new]))[order_id]
                    if not inserted:
                        raise AccountNotServed("we do not serve this account", carrier=carrier or "unknown")
            except (VoucherInvalid, VoucherExpired, VoucherFrozen, VoucherNotActive, VoucherAlreadyRedeemed) as err:
                await self._failed(conn, r, err.code)
                raise
            except AccountNotServed:
                replay = await self.orders.replay(conn, r.channel_id, r.channel_order_id, fingerprint)
                if replay is not None:  # an identical request won the race for the same channel_order_id
                    return replay, True
                raise
        self.outbox.wake()
        metrics.observe([(new.order, new.change)])
        log.info("voucher redeemed", order_id=str(order_id), channel=r.channel_id)
        return orders_pb2.Order.FromString(new.first_response), False

    def _new_order(self, order_id: UUID, r: Redemption, sku: str, card: str, fingerprint: bytes) -> repository.NewOrder:
        entry = self.catalog.snapshot.products.get(sku)
        if entry is None or not entry[0].active:
            raise SkuNotAvailable(f"{sku} is no longer sold", sku=sku)
        product = entry[0]
        if product.account_type is not r.account.type:
            raise SkuNotAvailable(f"this card is for {product.account_type.value} accounts", sku=sku)
        transition, reason_code = _FIRST[r.decision.outcome]
        now = utcnow()
        order = Order(
            order_id=order_id, channel_id=r.channel_id, channel_order_id=r.channel_order_id, account=r.account,
            sku=sku, face_value_fen=product.face_value_fen, price_fen=0,
            payment=Payment(PaymentMethod.VOUCHER, card, 0), status=next_status(None, transition),
            status_reason_code=reason_code, notify_url=r.notify_url, risk_decision_id=r.decision.decision_id,
            created_at=now, updated_at=now, voucher_card_number=card,
        )
        return self.orders.new_order_record(order, product, transition, fingerprint, r.decision,
                                            r.trace_context or {})

    async def _why_not(self, conn: asyncpg.Connection, pin_hash: bytes) -> OrdersError:
        card = await vrepo.card_by_pin(conn, pin_hash)
        if card is None:
            return VoucherInvalid("no card has this PIN")
        state = CardState(card["state"])
        if state in (CardState.REDEEMING, CardState.REDEEMED):
            return VoucherAlreadyRedeemed("this card is redeemed, or being redeemed by another request")
        if state is CardState.FROZEN:
            return VoucherFrozen("this card is frozen")
        if state is CardState.EXPIRED or card["expires_at"] <= utcnow():
            return VoucherExpired("this card has expired")
        return VoucherNotActive("this card is not active")

    async def _failed(self, conn: asyncpg.Connection, r: Redemption, reason_code: str) -> None:
        """Publish the failed attempt (the risk engine counts them per account, device and IP for lockout)."""
        event = vouchers_pb2.VoucherRedemptionFailed(
            channel_id=r.channel_id, account=convert.account_to_pb(r.account), device_id=r.device_id, ip=r.ip,
            user_id=r.user_id, reason_code=reason_code, at=to_timestamp(utcnow()), channel_order_id=r.channel_order_id)
        await self.outbox.add(conn, VOUCHERS_TOPIC, event, aggregate_type="account", aggregate_id=r.account.id)
        self.outbox.wake()


def _uuid(value: str, error: type[OrdersError]) -> UUID:
    try:
        return identifiers.parse_uuid(value)
    except ValueError:
        raise error("no such thing", id=value) from None


