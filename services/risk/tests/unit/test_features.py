"""Velocity features from counter rows, as if a batch's attempts had been decided one by one; and the
voucher PIN lockout."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk.domain.features import (
    Attempt,
    CounterState,
    LockoutPolicy,
    add_failures,
    counter_items,
    normalise_ip,
    velocity_features,
    window_minutes,
)

NOW = 29_000_000  # a unix minute
WINDOWS = {"10m": 10, "1h": 60}


def attempt(account: str, *, payer: str = "", amount: int = 1000, key: str | None = None) -> Attempt:
    return Attempt(key or f"k-{account}-{amount}-{payer}", "recharge", "demo", "mobile", account, "CREDIT_10", amount,
                   "alipay", payer, "", "", "", datetime(2026, 1, 1, tzinfo=UTC))


def after(state: CounterState, attempts: list[Attempt], counted: set[int], new: set[str]) -> CounterState:
    """What the SQL leaves in one row after the batch (the batch's counted items added at NOW)."""
    out = CounterState(dict(state.buckets), dict(state.peers), dict(state.new_peers))
    for i, a in enumerate(attempts):
        if i not in counted:
            continue
        n, amount = out.buckets.get(NOW, (0, 0))
        out.buckets[NOW] = (n + 1, amount + a.amount_fen)
    for i, a in enumerate(attempts):
        if i in counted and a.payer:
            before = state.peers.get(a.account_id, (0, 0))[0]
            out.peers[a.account_id] = (NOW, before)
            if a.account_id in new:
                out.new_peers[a.account_id] = (NOW, state.new_peers.get(a.account_id, (0, 0))[0])
    return out


def test_windows() -> None:
    assert [window_minutes(w) for w in ("1m", "10m", "1h", "24h")] == [1, 10, 60, 1440]
    for bad in ("0m", "25h", "1d", "10", "m"):
        with pytest.raises(ValueError):  # noqa: PT011
            window_minutes(bad)


def test_ips_are_compared_in_canonical_form() -> None:
    assert normalise_ip("2001:0DB8:0:0::1") == "2001:db8::1" and normalise_ip(" 10.0.0.1 ") == "10.0.0.1"
    with pytest.raises(ValueError):  # noqa: PT011
        normalise_ip("10.0.0.256")


def test_batch_mates_are_seen_in_order_and_old_buckets_leave_the_window() -> None:
    before = CounterState({NOW - 61: (5, 5000), NOW - 30: (2, 2000), NOW - 1: (1, 1000)})
    batch = [attempt("1", amount=100), attempt("2", amount=200), attempt("1", amount=300)]
    row = after(before, [batch[0], batch[2]], {0, 1}, set())
    f = velocity_features(batch, {0, 1, 2}, {("recharge:account", "1"): row, ("recharge:account", "2"): CounterState(
        {NOW: (1, 200)})}, set(), NOW, WINDOWS)
    assert (f[0]["account"]["count_10m"], f[0]["account"]["count_1h"], f[0]["account"]["amount_1h"]) == (2, 4, 3100)
    assert (f[2]["account"]["count_10m"], f[2]["account"]["amount_10m"]) == (3, 1400)
    assert f[1]["account"]["count_1h"] == 1
    assert f[0]["payer"]["count_1h"] == 0  # no payer: zeros, never missing


def test_a_retry_counts_nothing_and_sees_the_row_as_it_is() -> None:
    row = CounterState({NOW: (3, 3000)})
    f = velocity_features([attempt("1")], set(), {("recharge:account", "1"): row}, set(), NOW, WINDOWS)
    assert f[0]["account"]["count_10m"] == 3


def test_distinct_accounts_of_a_payer() -> None:
    # Seen before: "a" (within the hour), "b" (two hours ago), "c" (just now, by another batch).
    before = CounterState({}, {"a": (NOW - 30, 0), "b": (NOW - 120, 0), "c": (NOW, NOW - 5)}, {"a": (NOW - 30, 0)})
    batch = [attempt("b", payer="p"), attempt("d", payer="p"), attempt("a", payer="p")]
    new = {"d"}
    row = after(before, batch, {0, 1, 2}, new)
    assert row.peers["b"] == (NOW, NOW - 120)
    f = velocity_features(batch, {0, 1, 2}, {("recharge:payer", "p"): row}, new, NOW, WINDOWS)
    assert [x["payer"]["accounts_1h"] for x in f] == [3, 4, 4]  # {a, c} + b, + d, a again
    assert [x["payer"]["accounts_10m"] for x in f] == [2, 3, 4]  # {c} + b, + d, + a
    assert [x["payer"]["new_accounts_1h"] for x in f] == [1, 2, 2]  # {a} then d


@given(st.lists(st.tuples(st.sampled_from(["1", "2", "3"]), st.integers(1, 50_000)), min_size=1, max_size=12),
       st.sets(st.integers(0, 11)))
def test_a_batch_is_seen_as_if_decided_one_by_one(raw: list[tuple[str, int]], retried: set[int]) -> None:
    batch = [attempt(acc, amount=amount, key=f"k{i}") for i, (acc, amount) in enumerate(raw)]
    counted = {i for i in range(len(batch)) if i not in retried}
    states = {}
    for acc in {a.account_id for a in batch}:
        mine = [a for a in batch if a.account_id == acc]
        states[("recharge:account", acc)] = after(CounterState({NOW - 3: (1, 7)}), mine,
                                                  {j for j, a in enumerate(mine) if batch.index(a) in counted}, set())
    features = velocity_features(batch, counted, states, set(), NOW, WINDOWS)
    for i, a in enumerate(batch):
        earlier = [b for j, b in enumerate(batch[: i + 1]) if b.account_id == a.account_id and j in counted]
        assert features[i]["account"]["count_10m"] == 1 + len(earlier)
        assert features[i]["account"]["amount_10m"] == 7 + sum(b.amount_fen for b in earlier)


def test_counter_items_name_subject_and_peer() -> None:
    a = Attempt("k", "voucher_redemption", "demo", "mobile", "186", "", 0, "", "", "dev", "10.0.0.1", "",
                datetime(2026, 1, 1, tzinfo=UTC))
    items = counter_items([a])
    assert [(i.dim, i.key, i.peer) for i in items] == [
        ("voucher_redemption:account", "186", ""), ("voucher_redemption:device", "dev", "186"),
        ("voucher_redemption:ip", "10.0.0.1", "186")]


POLICY = LockoutPolicy(window_seconds=3600, lockout_seconds=1800, max_failures={"account": 5})


def test_the_fifth_failure_within_the_window_locks_for_thirty_minutes() -> None:
    kept, until = add_failures([], [100.0, 200.0, 300.0, 400.0], None, 5, POLICY, now=500)
    assert until is None and kept == [100.0, 200.0, 300.0, 400.0]
    kept, until = add_failures(kept, [450.0], until, 5, POLICY, now=500)
    assert until == 450.0 + 1800


def test_failures_spread_wider_than_the_window_do_not_lock() -> None:
    _, until = add_failures([], [0.0, 1000.0, 2000.0, 3000.0, 3600.0], None, 5, POLICY, now=4000)
    assert until is None
    _, until = add_failures([], [0.0, 1000.0, 2000.0, 3000.0, 3599.0], None, 5, POLICY, now=4000)
    assert until == 3599.0 + 1800


def test_failures_arriving_out_of_order_and_a_lock_never_shortens() -> None:
    kept, until = add_failures([10.0, 20.0, 30.0, 40.0], [5.0], None, 5, POLICY, now=100)
    assert until == 40.0 + 1800 and kept[0] == 5.0  # the late failure makes the one at 40 the fifth
    kept, until = add_failures(kept, [50.0], until, 5, POLICY, now=100)
    assert until == 50.0 + 1800
    _, until2 = add_failures(kept, [1.0], until, 5, POLICY, now=100)
    assert until2 == until


@given(st.lists(st.floats(0, 20_000, allow_nan=False), max_size=30), st.integers(1, 10))
def test_never_more_than_max_failures_inside_a_window_without_a_lock(times: list[float], limit: int) -> None:
    _, until = add_failures([], times, None, limit, POLICY, now=20_000)
    if until is None:
        ordered = sorted(times)
        assert all(sum(1 for f in ordered if t - 3600 < f <= t) < limit for t in ordered)


# --- voucher PIN guesses counted before their PIN is checked --------------------------------------------------

from risk.domain.features import CHANNEL, Guess, GuessRow, LockoutPolicy, lock_of, reserve_guesses  # noqa: E402

POLICY = LockoutPolicy(3600, 1800, {"account": 5, "device": 5, "ip": 10})


def _rows(*subjects: tuple[str, str], failures: list[float] | None = None) -> dict[tuple[str, str], GuessRow]:
    return {s: GuessRow(list(failures or [])) for s in subjects}


def test_of_fifty_parallel_guesses_at_one_account_only_five_are_tried() -> None:
    account, channel = ("account", "18612345678"), (CHANNEL, "demo")
    rows = _rows(account, channel)
    guesses = [Guess(f"demo:{i}", (account, channel)) for i in range(50)]
    refused = reserve_guesses(rows, guesses, POLICY, 0, now=1000.0)
    assert len(refused) == 45 and all(kinds == {"account"} for kinds in refused.values())
    assert [g.key for g in guesses if g.key not in refused] == [f"demo:{i}" for i in range(5)]
    assert rows[account].guess_locked_until == 1000.0 + 1800


def test_a_guess_after_an_expired_lockout_is_tried_once_more() -> None:
    account = ("account", "18612345678")
    rows = {account: GuessRow([100.0, 101, 102, 103, 104], locked_until=104 + 1800.0)}
    assert reserve_guesses(rows, [Guess("k1", (account,))], POLICY, 0, now=1000.0) == {"k1": {"account"}}
    refused = reserve_guesses(rows, [Guess("k2", (account,)), Guess("k3", (account,))], POLICY, 0, now=2000.0)
    assert refused == {"k3": {"account"}}  # the lock ended: one more try, which locks again


def test_rotating_accounts_without_device_or_ip_spend_the_channels_budget() -> None:
    channel = (CHANNEL, "shop")
    guesses = [Guess(f"shop:{i}", ((("account", f"186{i:08d}")), channel)) for i in range(30)]
    rows = {**_rows(channel), **{g.subjects[0]: GuessRow([]) for g in guesses}}
    refused = reserve_guesses(rows, guesses, POLICY, 20, now=1000.0)
    assert sorted(refused) == sorted(f"shop:{i}" for i in range(20, 30))
    assert all(kinds == {CHANNEL} for kinds in refused.values())
    assert rows[channel].guess_locked_until is None  # a budget locks nothing: it refuses while it is spent
    # failures leave the window: the budget comes back
    rows[("account", "18600009999")] = GuessRow([])
    assert reserve_guesses(rows, [Guess("later", (("account", "18600009999"), channel))], POLICY, 20,
                           now=1000.0 + 3601) == {}


def test_the_lock_failures_cause() -> None:
    assert lock_of([1.0, 2, 3, 4], 5, POLICY) is None
    assert lock_of([1.0, 2, 3, 4, 5], 5, POLICY) == 5 + 1800
    assert lock_of([1.0, 2, 3, 4, 4000], 5, POLICY) is None
