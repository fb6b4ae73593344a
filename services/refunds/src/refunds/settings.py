from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from topup_platform.settings import PlatformSettings

DEV_NOTIFY_SECRET = "dev-provider-notify-secret"


class RefundsSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="REFUNDS_")
    service_name: ClassVar[str] = "refunds"
    db_schema: ClassVar[str] = "refunds"

    grpc_port: int = 50054
    orders_target: str = "127.0.0.1:50052"
    billing_target: str = "127.0.0.1:50053"
    peer_timeout_seconds: float = 5.0

    # --- the payment providers
    #: base URL of the providers' refund APIs (`{payments_url}/{provider}/v1/refunds`)
    payments_url: str = "http://127.0.0.1:8091"
    #: where providers send their settlement notices: the gateway's public address, which we never call
    #: ourselves (`{public_notify_base}/{provider}/refund-notices` is given to the provider with each refund)
    public_notify_base: str = "http://127.0.0.1:8080/providers/v1"
    #: the key providers sign their notices with (per provider in production; one here)
    provider_notify_secret: SecretStr = SecretStr(DEV_NOTIFY_SECRET)
    provider_timeout_seconds: float = 10.0
    #: submissions before a refund the provider never answered goes to a person
    max_attempts: int = 8
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 600.0
    #: status queries of a submitted refund: first after this, doubling up to the cap
    poll_initial_seconds: float = 2.0
    poll_cap_seconds: float = 300.0
    #: the worker's safety-net look for due refunds (new ones are started at once)
    worker_poll_seconds: float = 1.0
    lease_seconds: float = 60.0
    worker_concurrency: int = 16

    # --- reconciliation with the orders' ledger: a refund settled whose order is not REFUNDED (ledger_check)
    ledger_check_seconds: float = 300.0
    #: refunds settled at least this long ago (their event may be on its way) and at most `lookback` ago
    ledger_check_settle_seconds: float = 60.0
    ledger_check_lookback_seconds: float = 86400.0

    # --- deadlines and the review desk
    #: refunds whose deadline is this close count as "due soon" (metric, the near-deadline query)
    due_soon_hours: float = 2.0
    monitor_seconds: float = 15.0
    calendar_refresh_seconds: float = 60.0
    #: amounts (fen) at or above this need a second member of staff (four eyes); 0 turns it off
    four_eyes_threshold_fen: int = 20_000

    def check_production(self) -> None:
        self.require_real_secret("REFUNDS_PROVIDER_NOTIFY_SECRET", self.provider_notify_secret, DEV_NOTIFY_SECRET)
