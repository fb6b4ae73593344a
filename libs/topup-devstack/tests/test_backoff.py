"""The supervisor's restart pause (pure): 0.5 s, doubling, at most 30 s; a long run starts the count again."""

from __future__ import annotations

from topup_devstack.supervisor import Backoff, describe_exit


def test_the_pause_doubles_up_to_the_cap() -> None:
    backoff = Backoff()
    assert [backoff.delay(n) for n in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_a_quick_death_extends_the_streak_and_a_long_run_resets_it() -> None:
    backoff = Backoff(stable_after=30)
    assert backoff.streak(3, ran_seconds=2.0) == 3
    assert backoff.streak(3, ran_seconds=30.0) == 0


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(1) == "rc=1"
    assert describe_exit(-9) == "killed by SIGKILL"
