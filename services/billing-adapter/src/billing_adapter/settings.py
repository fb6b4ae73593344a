from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from topup_platform.settings import PlatformSettings


class BillingSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_")
    service_name: ClassVar[str] = "billing-adapter"
    db_schema: ClassVar[str] = "billing"

    grpc_port: int = 50053
    boss_url: str = "http://127.0.0.1:8090"
    #: seconds before a BOSS write is declared "no answer" (its outcome is then unknown)
    boss_timeout_seconds: float = 2.0
    #: how far BOSS's clock may be from ours: a write's deadline is only trusted to have passed this much later
    boss_clock_skew_seconds: float = 1.0
    #: automatic retries after a retryable error ("busy"), on top of the first attempt (F9)
    retries: int = 3
    #: exponential backoff: base * 2^(n-1), capped, with full jitter
    backoff_base_seconds: float = 0.2
    backoff_cap_seconds: float = 5.0
    #: status queries after an unknown outcome, before a person must decide
    status_queries: int = 3
    status_query_backoff_seconds: float = 0.5
    #: a worker's claim on one order; another replica takes over when it lapses (e.g. after a crash)
    lease_seconds: float = 30.0
    #: how often the scheduler looks for due work another process left (retries, lapsed leases)
    poll_seconds: float = 0.5
    #: the BOSS circuit breaker: this many "BOSS unwell" outcomes in a row open it for reset_seconds
    breaker_threshold: int = 10
    breaker_reset_seconds: float = 15.0
    #: a subscriber BOSS said it could not serve ("busy") is that subscriber's trouble for this long: more such
    #: answers about it do not count towards the breaker
    breaker_busy_memory_seconds: float = 60.0
    #: at most this many calls to BOSS at once (BOSS's own capacity; beyond it, calls queue here)
    boss_max_in_flight: int = 64
    #: scheduled reconciliation: how often, and how long after the fact (work still in flight is not a
    #: difference); 0 turns the schedule off
    reconcile_interval_seconds: float = 3600.0
    reconcile_settle_seconds: float = 600.0
    #: the order core, whose ledger reconciliation compares with BOSS's too (its orders' statuses)
    orders_target: str = "127.0.0.1:50052"
    peer_timeout_seconds: float = 10.0
    #: how often BOSS's ported-number publication is read (and once at start)
    ported_sync_seconds: float = 60.0
