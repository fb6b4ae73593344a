"""Features: what the rules see of an attempt besides its own fields (pure; the SQL lives in repository.py).

Velocity. Each (action, subject, value) — e.g. recharges paid by payer account X — has one counter row
holding sparse per-minute buckets (attempts and amount in fen) for the last 24 hours and, for payer, device
and IP, the accounts seen with it (and those of them that had never had a successful recharge). A sliding
window of W minutes sums the buckets of the last W minutes (the current one included), so windows are exact
to the minute. Every attempt is counted when it is decided, in one SQL statement for the whole batch; the
counter rows are upserted in key order, so concurrent batches (from any number of replicas) serialise on the
row lock and each sees what the others added before it: a limit is never doubled by a second replica.

The statement returns each row as it stands after the batch. An attempt sees what was there before its
batch plus its batch-mates that came before it and itself, as if they had been decided one by one.

Lockout. Failed voucher redemptions (events) are kept per account, device and IP as timestamps; when
`max_failures` of them fall within `window_seconds`, the subject is locked out for `lockout_seconds` after the
failure that reached the limit. A redemption's guess is counted before its PIN is checked (reserve_guesses: a
pending guess counts as a failure, and locks as one would), so parallel guesses cannot all be tried; its
outcome confirms it (a wrong PIN) or releases it (a right one). A channel's failures have a budget of their own
over all its accounts, which refuses while it is spent and locks nothing.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

#: the subjects velocity is counted for
SUBJECTS = ("account", "payer", "device", "ip")
#: the subjects that also track the distinct accounts seen with them
PEER_SUBJECTS = frozenset({"payer", "device", "ip"})
#: what block and allow lists can name
LIST_KINDS = ("account", "payer", "device", "ip", "channel")
LISTS = ("block", "allow")
#: what a voucher PIN lockout applies to
LOCKOUT_KINDS = ("account", "device", "ip")
ACTIONS = ("recharge", "voucher_redemption")
METRICS = ("count", "amount", "accounts", "new_accounts")

#: counter rows keep this much history: no window may be longer
HORIZON_MINUTES = 24 * 60
#: failure timestamps kept per lockout subject
MAX_FAILURES_KEPT = 50

#: China Standard Time (no daylight saving): the subscribers' clock for hour and weekday rules
CST = timezone(timedelta(hours=8), "CST")

_WINDOW = re.compile(r"([1-9][0-9]{0,3})([mh])", re.ASCII)


def window_minutes(name: str) -> int:
    """ "10m" -> 10, "24h" -> 1440; ValueError for anything else or longer than the horizon."""
    match = _WINDOW.fullmatch(name)
    if not match:
        raise ValueError(f"window {name!r} must look like 10m or 24h")
    minutes = int(match.group(1)) * (60 if match.group(2) == "h" else 1)
    if minutes > HORIZON_MINUTES:
        raise ValueError(f"window {name!r} is longer than 24h")
    return minutes


def normalise_ip(value: str) -> str:
    """The canonical text of an IP address (ValueError if it is not one)."""
    return str(ipaddress.ip_address(value.strip()))


def counter_dim(action: str, subject: str) -> str:
    return f"{action}:{subject}"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt to decide on (validated)."""

    key: str
    action: str
    channel_id: str
    account_type: str
    account_id: str
    sku: str
    amount_fen: int
    payment_method: str
    payer: str
    device: str
    ip: str
    user: str
    occurred_at: datetime
    #: W3C trace context of the request (its DecisionMade event continues that trace)
    trace: Mapping[str, str] = field(default_factory=dict, compare=False)

    def subjects(self) -> dict[str, str]:
        """The velocity subjects this attempt has (an empty field is no subject)."""
        values = {"account": self.account_id, "payer": self.payer, "device": self.device, "ip": self.ip}
        return {s: v for s, v in values.items() if v}

    def list_subjects(self) -> list[tuple[str, str]]:
        values = [("account", self.account_id), ("payer", self.payer), ("device", self.device), ("ip", self.ip),
                  ("channel", self.channel_id)]
        return [(k, v) for k, v in values if v]

    def lockout_subjects(self) -> list[tuple[str, str]]:
        values = [("account", self.account_id), ("device", self.device), ("ip", self.ip)]
        return [(k, v) for k, v in values if v]


@dataclass(frozen=True, slots=True)
class CounterItem:
    """What one attempt adds to one counter row."""

    attempt: int  # index in the batch
    dim: str
    key: str
    amount: int
    #: the account, for subjects that track distinct accounts ("" otherwise)
    peer: str


def counter_items(attempts: Sequence[Attempt]) -> list[CounterItem]:
    items = []
    for i, a in enumerate(attempts):
        for subject, value in a.subjects().items():
            items.append(CounterItem(i, counter_dim(a.action, subject), value, a.amount_fen,
                                     a.account_id if subject in PEER_SUBJECTS else ""))
    return items


@dataclass(slots=True)
class CounterState:
    """One counter row: minute -> (attempts, amount); account -> (last minute seen, the one before; 0: none)."""

    buckets: dict[int, tuple[int, int]] = field(default_factory=dict)
    peers: dict[str, tuple[int, int]] = field(default_factory=dict)
    new_peers: dict[str, tuple[int, int]] = field(default_factory=dict)

    @classmethod
    def from_row(cls, value: Sequence[Any]) -> CounterState:
        buckets, peers, new_peers = value  # JSON: its numbers are ints already
        return cls({int(m): (v[0], v[1]) for m, v in buckets.items()}, {p: (v[0], v[1]) for p, v in peers.items()},
                   {p: (v[0], v[1]) for p, v in new_peers.items()})


def velocity_features(
    attempts: Sequence[Attempt],
    counted: set[int],
    states: Mapping[tuple[str, str], CounterState],
    new_accounts: set[str],
    now_minute: int,
    windows: Mapping[str, int],
) -> list[dict[str, dict[str, int]]]:
    """velocity[subject][metric_window] for each attempt.

    `counted`: the attempts this batch counted (a retried attempt counts nothing again); `states`: the counter
    rows after the batch; `new_accounts`: accounts with no successful recharge (whose attempts the SQL added to
    `new_peers`). One pass over each row, whatever the number of windows."""
    spans = [(now_minute - minutes, f"count_{w}", f"amount_{w}", f"accounts_{w}", f"new_accounts_{w}")
             for w, minutes in windows.items()]
    zero = {name: 0 for span in spans for name in span[1:]}
    out: list[dict[str, dict[str, int]]] = [{s: dict(zero) for s in SUBJECTS} for _ in attempts]
    by_row: dict[tuple[str, str], list[CounterItem]] = {}
    for item in counter_items(attempts):
        by_row.setdefault((item.dim, item.key), []).append(item)
    empty = CounterState()
    for row_key, items in by_row.items():
        state = states.get(row_key, empty)
        mine = [it for it in items if it.attempt in counted]
        n_batch, amount_batch = len(mine), sum(it.amount for it in mine)
        batch_peers = {it.peer for it in mine if it.peer}
        batch_new = batch_peers & new_accounts
        # What the row held before this batch (the batch's own additions taken out again), per window.
        count = [0] * len(spans)
        amount = [0] * len(spans)
        accounts = [0] * len(spans)
        new = [0] * len(spans)
        for minute, (n, a) in state.buckets.items():
            if minute == now_minute:
                n, a = max(0, n - n_batch), max(0, a - amount_batch)
            for j, span in enumerate(spans):
                if minute > span[0]:
                    count[j] += n
                    amount[j] += a
        for peers, into, touched in ((state.peers, accounts, batch_peers), (state.new_peers, new, batch_new)):
            for p, (last, prev) in peers.items():
                seen_before = prev if p in touched else last
                for j, span in enumerate(spans):
                    if seen_before > span[0]:
                        into[j] += 1

        # The batch's accounts, each with when it was seen before the batch: it adds to a window it was not in.
        seen: list[int] = []
        seen_new: list[int] = []
        n_so_far = amount_so_far = 0
        subject = row_key[0].split(":", 1)[1]
        added: set[str] = set()
        for it in items:
            if it.attempt in counted:
                n_so_far += 1
                amount_so_far += it.amount
                if it.peer and it.peer not in added:
                    added.add(it.peer)
                    last, prev = state.peers.get(it.peer, (0, 0))
                    seen.append(prev if it.peer in batch_peers else last)
                    if it.peer in new_accounts:
                        last, prev = state.new_peers.get(it.peer, (0, 0))
                        seen_new.append(prev if it.peer in batch_new else last)
            features = out[it.attempt][subject]
            for j, (start, count_name, amount_name, acc, nacc) in enumerate(spans):
                features[count_name] = count[j] + n_so_far
                features[amount_name] = amount[j] + amount_so_far
                if seen:
                    extra = 0
                    for minute in seen:
                        if minute <= start:
                            extra += 1
                    features[acc] = accounts[j] + extra
                    extra = 0
                    for minute in seen_new:
                        if minute <= start:
                            extra += 1
                    features[nacc] = new[j] + extra
                else:
                    features[acc] = accounts[j]
                    features[nacc] = new[j]
    return out


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    window_seconds: int
    lockout_seconds: int
    max_failures: Mapping[str, int]
    #: the failures that count: a wrong PIN (a right PIN of a spent or frozen card guesses nothing)
    reasons: frozenset[str] = frozenset({"VOUCHER_INVALID"})


def add_failures(
    failures: Sequence[float], new: Iterable[float], locked_until: float | None, max_failures: int,
    policy: LockoutPolicy, now: float,
) -> tuple[list[float], float | None]:
    """Record failed redemptions (unix seconds) for one subject; returns the failures kept and the lock.

    A failure that brings the count within `window_seconds` (ending at it) to `max_failures` locks the
    subject until `lockout_seconds` after it. Failures may arrive out of order (they come from events)."""
    added = sorted(new)
    merged = sorted([*failures, *added])
    if not added:
        return merged, locked_until
    # Every window that now holds a new failure: those ending at it, and those ending at a later failure
    # (a failure may arrive after later ones).
    for t in merged:
        if t < added[0]:
            continue
        in_window = sum(1 for f in merged if t - policy.window_seconds < f <= t)
        if in_window >= max_failures:
            until = t + policy.lockout_seconds
            locked_until = until if locked_until is None else max(locked_until, until)
    horizon = now - HORIZON_MINUTES * 60
    kept = [f for f in merged if f > horizon][-max(MAX_FAILURES_KEPT, max_failures):]
    return kept, locked_until


def failures_in_window(failures: Sequence[float], window_seconds: int, now: float) -> int:
    return sum(1 for f in failures if f > now - window_seconds)


def rule_context(
    a: Attempt,
    velocity: Mapping[str, Mapping[str, int]],
    blocked: Mapping[str, bool],
    allowed: Mapping[str, bool],
    locked_out: Mapping[str, bool],
    history: Mapping[str, int],
) -> dict[str, Any]:
    """The variables a rule's `when` expression sees (declared with their types in rules.VARIABLES)."""
    local = a.occurred_at.astimezone(CST)
    weekday = local.isoweekday()
    return {
        "action": a.action,
        "channel": a.channel_id,
        "account_type": a.account_type,
        "account": a.account_id,
        "sku": a.sku,
        "amount_fen": a.amount_fen,
        "payment_method": a.payment_method,
        "payer": a.payer,
        "device": a.device,
        "ip": a.ip,
        "user": a.user,
        "hour": local.hour,
        "weekday": weekday,
        "is_weekend": weekday >= 6,
        "velocity": velocity,
        "blocked": blocked,
        "allowed": allowed,
        "locked_out": locked_out,
        "history": history,
        "new_account": history.get("successful_recharges", 0) == 0,
    }


def flags(kinds: Iterable[str], present: set[str]) -> dict[str, bool]:
    return {k: k in present for k in kinds}


#: a channel's PIN-failure budget is kept as a lockout subject of its own (a setting, not a rule-set field)
CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class Guess:
    """A voucher redemption about to check a PIN: its decision key and the subjects it counts against."""

    key: str
    subjects: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class GuessRow:
    """A lockout subject as a reservation sees it: its failures (confirmed and pending, unix seconds), the lock
    its confirmed failures caused and the lock its pending guesses would cause."""

    failures: list[float]
    locked_until: float | None = None
    guess_locked_until: float | None = None


def lock_of(failures: Sequence[float], max_failures: int, policy: LockoutPolicy) -> float | None:
    """The lock these failures cause (None: none): `lockout_seconds` after each one that brings the count within
    `window_seconds` (ending at it) to `max_failures`."""
    return add_failures([], failures, None, max_failures, policy, 0.0)[1]


def reserve_guesses(rows: Mapping[tuple[str, str], GuessRow], guesses: Sequence[Guess], policy: LockoutPolicy,
                    channel_budget: int, now: float) -> dict[str, set[str]]:
    """Take each guess's place in its subjects' counts before its PIN is checked, so that parallel guesses cannot
    all be answered: a pending guess counts as a failure until its outcome confirms it (a wrong PIN) or releases
    it (a right one). A guess is refused when a subject is locked (by failures, or by the guesses pending: the
    same rule, `max_failures` within the window, as if each pending guess had failed), or when its channel's
    failures and pending guesses within the window reach the channel's budget (0: no budget; a budget locks
    nothing, it only refuses while it is spent).

    Changes `rows` (the places taken and the locks they cause); returns the refused guesses, each with the
    kinds that refused it."""
    refused: dict[str, set[str]] = {}
    for guess in guesses:
        over = set()
        for kind, value in guess.subjects:
            row = rows[(kind, value)]
            if kind == CHANNEL:
                if channel_budget and failures_in_window(row.failures, policy.window_seconds, now) >= channel_budget:
                    over.add(kind)
            elif max(row.locked_until or 0, row.guess_locked_until or 0) > now:
                over.add(kind)
        if over:
            refused[guess.key] = over
            continue
        for kind, value in guess.subjects:
            row = rows[(kind, value)]
            row.failures = sorted([*row.failures, now])
            if kind != CHANNEL and failures_in_window(row.failures, policy.window_seconds, now) >= \
                    policy.max_failures.get(kind, MAX_FAILURES_KEPT):
                row.guess_locked_until = max(row.guess_locked_until or 0, now + policy.lockout_seconds)
    return refused


def release_guess(failures: Sequence[float], at: float) -> list[float]:
    """A subject's failures without one guess placed at `at`."""
    out = list(failures)
    if at in out:
        out.remove(at)
    return out


def add_channel_failures(failures: Sequence[float], new: Iterable[float], budget: int, now: float) -> list[float]:
    """A channel's failures with `new` ones: kept for the budget's count (a budget locks nothing)."""
    horizon = now - HORIZON_MINUTES * 60
    return [f for f in sorted([*failures, *new]) if f > horizon][-max(MAX_FAILURES_KEPT, budget):]
