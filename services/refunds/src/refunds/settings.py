from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from topup_platform.settings import PlatformSettings


class RefundsSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="REFUNDS_")
    service_name: ClassVar[str] = "refunds"
    db_schema: ClassVar[str] = "refunds"

    grpc_port: int = 50054
    payments_url: str = "http://127.0.0.1:8091"
