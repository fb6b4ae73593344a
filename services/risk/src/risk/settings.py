from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from topup_platform.settings import PlatformSettings


class RiskSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="RISK_")
    service_name: ClassVar[str] = "risk"
    db_schema: ClassVar[str] = "risk"

    grpc_port: int = 50051
    #: how often each replica checks whether another rule-set version was deployed (seconds)
    rules_refresh_seconds: float = 1.0
    #: at most this many concurrent Evaluate calls are decided together (two SQL statements per batch)
    evaluate_batch_max: int = 128
    #: velocity counting commits asynchronously (synchronous_commit off): a PostgreSQL crash may forget the
    #: last few hundred milliseconds of counts, never a decision. False: every count is durable first.
    features_async_commit: bool = True
    #: wrong voucher PINs (with the guesses pending) one channel may have within the live rule-set's lockout
    #: window, over all its accounts, devices and IPs; past it the channel's redemptions are refused
    #: (VOUCHER_LOCKED_OUT) until older failures leave the window. 0: no budget.
    channel_pin_failure_budget: int = 1000
    #: how often stale claims, counters and voucher failures are pruned (seconds)
    janitor_interval_seconds: float = 60.0
