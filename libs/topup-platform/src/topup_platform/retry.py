"""Retry timing shared by every worker that retries a call to a system we do not own (BOSS, the payment
providers). The retries themselves are durable (a due time in the database), so only the delay is shared."""

from __future__ import annotations

import random


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Delay before retry number `attempt` (1-based): exponential, capped, with full jitter (AWS style), so
    many callers hitting a busy system together do not retry in lock-step."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)
