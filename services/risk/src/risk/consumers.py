"""Features kept up to date from events, through the platform's idempotent consumer (inbox: a redelivered
event changes nothing):

* `OrderStatusChanged` to SUCCEEDED (topup.orders.events.v1): the account's successful recharges (first
  recharge, trusted history). Other transitions are skipped without touching the database.
* `VoucherRedemptionFailed` (topup.vouchers.events.v1): failed PINs per account, device, IP and channel, and the
  lockout they cause under the live rule-set's policy; a wrong PIN confirms the guess counted when it was decided,
  a right PIN's refusal (spent, frozen, expired) releases it.
* `OrderStatusChanged` creating a voucher redemption's order: its PIN was right, its guess is released.

A whole poll is applied in a few statements (the batch handler); rows are written in key order, so two
replicas' consumers never deadlock on the same device or IP.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from risk import repository
from risk.domain import features as feat
from risk.rulebook import RuleBook
from topup.common.v1 import common_pb2
from topup.events.v1 import orders_pb2 as order_events_pb2
from topup.events.v1 import vouchers_pb2
from topup.events.v1.envelope_pb2 import EventEnvelope
from topup.orders.v1 import orders_pb2
from topup_platform.consumer import BatchHandler, EventContext, Handler, Relevant
from topup_platform.logging import get_logger
from topup_platform.timeutil import from_timestamp, utcnow

log = get_logger(__name__)

LOCKOUTS = Counter("topup_risk_voucher_lockouts_total", "Subjects locked out of voucher redemption", ["kind"])
#: every wrong voucher PIN, platform-wide: the guess rate the alert watches (a spray over rotating accounts
#: locks no single account, device or IP)
PIN_FAILURES = Counter("topup_risk_voucher_pin_failures_total", "Wrong voucher PINs (confirmed failed guesses)")


def _successful(event: order_events_pb2.OrderStatusChanged) -> bool:
    return event.change.to_status == orders_pb2.ORDER_STATUS_SUCCEEDED


def _redeemed(event: order_events_pb2.OrderStatusChanged) -> bool:
    """A voucher redemption's order was created: its PIN was right."""
    return (event.change.from_status == orders_pb2.ORDER_STATUS_UNSPECIFIED
            and event.order.payment.method == common_pb2.PAYMENT_METHOD_VOUCHER)


def _wanted(event: order_events_pb2.OrderStatusChanged) -> bool:
    return _successful(event) or _redeemed(event)


def relevant() -> dict[type, Relevant]:
    return {order_events_pb2.OrderStatusChanged: _wanted}


def _at(envelope: EventEnvelope, ts: Any) -> datetime:
    return from_timestamp(ts) or from_timestamp(envelope.occurred_at) or utcnow()


class FeatureUpdates:
    def __init__(self, rulebook: RuleBook, channel_budget: int = 0) -> None:
        self.rulebook = rulebook
        #: wrong PINs per channel within the lockout window (0: no budget)
        self.channel_budget = channel_budget

    def handlers(self) -> dict[type, Handler]:
        async def one(ctx: EventContext, event: Any) -> None:
            await self.apply(ctx, [(ctx.envelope, event)])

        return {order_events_pb2.OrderStatusChanged: one, vouchers_pb2.VoucherRedemptionFailed: one}

    def batch_handler(self) -> BatchHandler:
        return self.apply

    async def apply(self, ctx: EventContext, events: list[tuple[EventEnvelope, Any]]) -> None:
        successes = [(e, p) for e, p in events if isinstance(p, order_events_pb2.OrderStatusChanged) and _successful(p)]
        redeemed = [_key(p.order.channel_id, p.order.channel_order_id) for _, p in events
                    if isinstance(p, order_events_pb2.OrderStatusChanged) and _redeemed(p)]
        failures = [(e, p) for e, p in events if isinstance(p, vouchers_pb2.VoucherRedemptionFailed)]
        if successes:
            await self._record_successes(ctx, successes)
        if redeemed:
            await self._release(ctx, redeemed)
        if failures:
            await self._record_failures(ctx, failures)

    @staticmethod
    async def _record_successes(ctx: EventContext,
                                events: list[tuple[EventEnvelope, order_events_pb2.OrderStatusChanged]]) -> None:
        per_account: dict[str, list[Any]] = {}
        for envelope, event in events:
            at = _at(envelope, event.change.at)
            paid = event.order.payment.paid_fen or event.order.price_fen
            row = per_account.setdefault(event.order.account.id, [0, 0, at, at])
            row[0] += 1
            row[1] += paid
            row[2], row[3] = min(row[2], at), max(row[3], at)
        accounts = sorted(per_account)
        await ctx.conn.execute(
            """INSERT INTO account_stats AS s (account, successful_recharges, successful_fen, first_success_at,
                                               last_success_at)
               SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::timestamptz[], $5::timestamptz[])
               ORDER BY 1
               ON CONFLICT (account) DO UPDATE SET
                   successful_recharges = s.successful_recharges + excluded.successful_recharges,
                   successful_fen = s.successful_fen + excluded.successful_fen,
                   first_success_at = least(s.first_success_at, excluded.first_success_at),
                   last_success_at = greatest(s.last_success_at, excluded.last_success_at)""",
            accounts, [per_account[a][0] for a in accounts], [per_account[a][1] for a in accounts],
            [per_account[a][2] for a in accounts], [per_account[a][3] for a in accounts],
        )

    async def _record_failures(self, ctx: EventContext,
                               events: list[tuple[EventEnvelope, vouchers_pb2.VoucherRedemptionFailed]]) -> None:
        """A wrong PIN confirms the guess counted when it was decided (or, with no such guess, counts now); a
        right PIN's refusal (a spent, frozen or expired card) releases it: no guess failed."""
        policy = self.rulebook.current.live.lockout
        keys = [_key(e.channel_id, e.channel_order_id) for _, e in events if e.channel_order_id]
        guesses = await repository.settle_guesses(ctx.conn, keys) if keys else {}
        new: dict[tuple[str, str], list[float]] = defaultdict(list)
        gone: dict[tuple[str, str], list[float]] = defaultdict(list)
        for envelope, event in events:
            guess = guesses.pop(_key(event.channel_id, event.channel_order_id), None)
            if guess is not None:
                for subject in guess[1]:
                    gone[subject].append(guess[0])  # out of the pending ones; back in as a failure if it was one
            if event.reason_code not in policy.reasons:
                continue  # the PIN was right (a spent, frozen or expired card): no guess failed
            PIN_FAILURES.inc()
            at = guess[0] if guess is not None else _at(envelope, event.at).timestamp()
            for subject in (guess[1] if guess is not None else _subjects(event)):
                new[subject].append(at)
        await self._apply_failures(ctx, new, gone)

    async def _release(self, ctx: EventContext, keys: list[str]) -> None:
        """Redemptions that created their order: the PIN was right, their guesses release their places."""
        gone: dict[tuple[str, str], list[float]] = defaultdict(list)
        for at, subjects in (await repository.settle_guesses(ctx.conn, keys)).values():
            for subject in subjects:
                gone[subject].append(at)
        await self._apply_failures(ctx, {}, gone)

    async def _apply_failures(self, ctx: EventContext, new: dict[tuple[str, str], list[float]],
                              gone: dict[tuple[str, str], list[float]]) -> None:
        keys = sorted({*new, *gone})
        if not keys:
            return
        policy = self.rulebook.current.live.lockout
        existing = await repository.lock_subjects(ctx.conn, keys)
        now = utcnow().timestamp()
        updates = []
        for key in keys:
            row = existing[key]
            failures = list(row["failures"])
            for at in gone.get(key, []):
                failures = feat.release_guess(failures, at)
            if row["cleared_at"] is not None:  # staff lifted the lockout since: what came before is forgiven
                new[key] = [t for t in new.get(key, []) if t > row["cleared_at"].timestamp()]
            before = row["locked_until"].timestamp() if row["locked_until"] else None
            if key[0] == feat.CHANNEL:
                kept, until = feat.add_channel_failures(failures, new.get(key, []), self.channel_budget, now), None
                guess_until = None
            else:
                limit = policy.max_failures.get(key[0], feat.MAX_FAILURES_KEPT)
                kept, until = feat.add_failures(failures, new.get(key, []), before, limit, policy, now)
                if until is not None and (before is None or until > before) and until > now:
                    LOCKOUTS.labels(key[0]).inc()
                    log.warning("voucher redemption locked out", kind=key[0],
                                until=datetime.fromtimestamp(until, UTC).isoformat())
                # the lock the guesses still pending would cause (the failures among them are in `until`)
                guess_until = feat.lock_of(kept, limit, policy) if key in gone else (
                    row["guess_locked_until"].timestamp() if row["guess_locked_until"] else None)
            updates.append((key[0], key[1], kept, datetime.fromtimestamp(until, UTC) if until is not None else None,
                            datetime.fromtimestamp(guess_until, UTC) if guess_until else None))
        # A list of arrays cannot travel as one array parameter (it would be one 2-D array): one row each.
        await ctx.conn.executemany(
            """UPDATE voucher_failures SET failures = $3, locked_until = $4, guess_locked_until = $5,
                      updated_at = now()
               WHERE kind = $1 AND value = $2""", updates)


def _key(channel_id: str, channel_order_id: str) -> str:
    """The risk decision's key of an attempt (the gateway's idempotency key)."""
    return f"{channel_id}:{channel_order_id}"


def _subjects(event: vouchers_pb2.VoucherRedemptionFailed) -> list[tuple[str, str]]:
    out = []
    if event.account.id:
        out.append(("account", event.account.id))
    if event.device_id.strip():
        out.append(("device", event.device_id.strip()))
    if event.ip:
        try:
            out.append(("ip", feat.normalise_ip(event.ip)))
        except ValueError:
            log.warning("voucher failure with an unreadable ip ignored for the ip lockout")
    if event.channel_id:
        out.append((feat.CHANNEL, event.channel_id))
    return out

