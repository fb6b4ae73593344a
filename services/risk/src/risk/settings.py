from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from topup_platform.settings import PlatformSettings


class RiskSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="RISK_")
    service_name: ClassVar[str] = "risk"
    db_schema: ClassVar[str] = "risk"

    grpc_port: int = 50051
