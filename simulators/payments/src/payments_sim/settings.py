from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from topup_platform.settings import PlatformSettings


class PaymentsSimSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_SIM_")
    service_name: ClassVar[str] = "payments-sim"
    db_schema: ClassVar[str] = "payments_sim"

    host: str = "127.0.0.1"
    #: a simulator does not drain: calls left hanging on purpose are cut at shutdown
    shutdown_grace_seconds: float = 1.0
    port: int = 8091
    #: seconds between accepting a refund and settling it
    settle_seconds: float = 1.0
