from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from topup_platform.settings import PlatformSettings

DEV_VOUCHER_PIN_KEY = "dev-only-voucher-pin-key-not-for-production"


class OrdersSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_")
    service_name: ClassVar[str] = "orders"
    db_schema: ClassVar[str] = "orders"

    grpc_port: int = 50052
    #: Seconds between reloads of the catalog, channel prices and number segments (changes apply within this).
    catalog_refresh_seconds: float = 5.0
    #: dev only: the demo channel, allowed every SKU at its list price (DESIGN.md section 5).
    demo_channel_id: str = "demo"
    #: the key of the voucher PINs' keyed hash (HMAC-SHA256), at least 32 bytes, kept outside the database;
    #: production refuses the development default. Its id is recorded with each batch, for rotation.
    voucher_pin_key: SecretStr = SecretStr(DEV_VOUCHER_PIN_KEY)
    voucher_pin_key_id: str = "k1"
    #: how often cards past their expiry are marked expired
    voucher_expiry_sweep_seconds: float = 60.0
    #: an order with no progress in PENDING or PROCESSING for this long goes to the review desk (F10)
    stuck_after_seconds: float = 1800.0
    stuck_sweep_seconds: float = 60.0
    #: the watchdog (self-healing): an order with no progress for this long (PENDING, PROCESSING, flagged stuck,
    #: or a paid order FAILED or REJECTED whose refund has not settled) has its next step asked for again; then
    #: again after twice as long, and so on up to `redrive_max_interval_seconds`, until it moves. With the
    #: defaults an order whose events the broker lost is final within 3 minutes of the broker's return (at most
    #: the longest interval plus a sweep plus the services' own work). 0 turns the watchdog off.
    redrive_after_seconds: float = 30.0
    redrive_max_interval_seconds: float = 120.0
    redrive_sweep_seconds: float = 5.0
    #: orders without progress for longer than this are left to the review desk (their cases are open)
    redrive_give_up_seconds: float = 86400.0

    def check_production(self) -> None:
        self.require_real_secret("ORDERS_VOUCHER_PIN_KEY", self.voucher_pin_key, DEV_VOUCHER_PIN_KEY)
