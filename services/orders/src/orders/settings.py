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

    def check_production(self) -> None:
        self.require_real_secret("ORDERS_VOUCHER_PIN_KEY", self.voucher_pin_key, DEV_VOUCHER_PIN_KEY)
