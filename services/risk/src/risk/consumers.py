"""Features kept up to date from events, through the platform's idempotent consumer (inbox: a redelivered
event changes nothing):

* `OrderStatusChanged` to SUCCEEDED (topup.orders.events.v1): the account's successful recharges (first
  recharge, trusted history). Other transitions are skipped without touching the database.
* `VoucherRedemptionFailed` (topup.vouchers.events.v1): failed PINs per account, device and IP, and the
  lockout they cause under the live rule-set's policy.

A whole poll is applied in a few statements (the batch handler); rows are written in key order, so two
replicas' consumers never deadlock on the same device or IP.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from risk.domain import features as feat
from risk.rulebook import RuleBook
from topup.events.v1 import orders_pb2 as order_events_pb2
from topup.events.v1 import vouchers_pb2
from topup.events.v1.envelope_pb2 import EventEnvelope
from topup.orders.v1 import orders_pb2
from topup_platform.consumer import BatchHandler, EventContext, Handler, Relevant
from topup_platform.logging import get_logger
from topup_platform.timeutil import from_timestamp, utcnow

log = get_logger(__name__)

LOCKOUTS = Counter("topup_risk_voucher_lockouts_total", "Subjects locked out of voucher redemption", ["kind"])


def _successful(event: order_events_pb2.OrderStatusChanged) -> bool:
    return event.change.to_status == orders_pb2.ORDER_STATUS_SUCCEEDED


def relevant() -> dict[type, Relevant]:
    return {order_events_pb2.OrderStatusChanged: _successful}


def _at(envelope: EventEnvelope, ts: Any) -> datetime:
    return from_timestamp(ts) or from_timestamp(envelope.occurred_at) or utcnow()


class FeatureUpdates:
    def __init__(self, rulebook: RuleBook) -> None:
        self.rulebook = rulebook

    def handlers(self) -> dict[type, Handler]:
        async def one(ctx: EventContext, event: Any) -> None:
            await self.apply(ctx, [(ctx.envelope, event)])

        return {order_events_pb2.OrderStatusChanged: one, vouchers_pb2.VoucherRedemptionFailed: one}

    def batch_handler(self) -> BatchHandler:
        return self.apply

    async def apply(self, ctx: EventContext, events: list[tuple[EventEnvelope, Any]]) -> None:
        successes = [(e, p) for e, p in events if isinstance(p, order_events_pb2.OrderStatusChanged) and _successful(p)]
        failures = [(e, p) for e, p in events if isinstance(p, vouchers_pb2.VoucherRedemptionFailed)]
        if successes:
            await self._record_successes(ctx, successes)
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
        policy = self.rulebook.current.live.lockout
        new: dict[tuple[str, str], list[float]] = defaultdict(list)
        for envelope, event in events:
            if event.reason_code not in policy.reasons:
                continue  # the PIN was right (a spent, frozen or expired card): no guess failed
            at = _at(envelope, event.at).timestamp()
            for kind, value in _subjects(event):
                new[(kind, value)].append(at)
        keys = sorted(new)
        if not keys:
            return
        # Every row exists and is locked before it is read (in key order): two replicas' consumers adding
        # failures of one device or IP at once serialise instead of overwriting each other.
        await ctx.conn.execute(
            """INSERT INTO voucher_failures (kind, value) SELECT * FROM unnest($1::text[], $2::text[]) ORDER BY 1, 2
               ON CONFLICT DO NOTHING""", [k for k, _ in keys], [v for _, v in keys])
        rows = await ctx.conn.fetch(
            """SELECT v.kind, v.value, v.failures, v.locked_until
               FROM unnest($1::text[], $2::text[]) AS q(kind, value)
               CROSS JOIN LATERAL (SELECT * FROM voucher_failures v WHERE v.kind = q.kind AND v.value = q.value
                                   ORDER BY v.kind, v.value FOR UPDATE) AS v""",
            [k for k, _ in keys], [v for _, v in keys])
        existing = {(r["kind"], r["value"]): r for r in rows}
        now = utcnow().timestamp()
        kept_all, until_all = [], []
        for key in keys:
            row = existing[key]
            before = row["locked_until"].timestamp() if row["locked_until"] else None
            kept, until = feat.add_failures(row["failures"], new[key], before,
                                            policy.max_failures[key[0]], policy, now)
            if until is not None and (before is None or until > before) and until > now:
                LOCKOUTS.labels(key[0]).inc()
                log.warning("voucher redemption locked out", kind=key[0],
                            until=datetime.fromtimestamp(until, UTC).isoformat())
            kept_all.append(kept)
            until_all.append(datetime.fromtimestamp(until, UTC) if until is not None else None)
        # A list of arrays cannot travel as one array parameter (it would be one 2-D array): one row each.
        await ctx.conn.executemany(
            """UPDATE voucher_failures SET failures = $3, locked_until = $4, updated_at = now()
               WHERE kind = $1 AND value = $2""",
            [(k, v, kept, until) for (k, v), kept, until in zip(keys, kept_all, until_all, strict=True)])


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
    return out

