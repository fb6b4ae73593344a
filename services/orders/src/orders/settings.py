from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from topup_platform.settings import PlatformSettings


class OrdersSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_")
    service_name: ClassVar[str] = "orders"
    db_schema: ClassVar[str] = "orders"

    grpc_port: int = 50052
    #: Seconds between reloads of the catalog, channel prices and number segments (changes apply within this).
    catalog_refresh_seconds: float = 5.0
    #: dev only: the demo channel, allowed every SKU at its list price (DESIGN.md section 5).
    demo_channel_id: str = "demo"
