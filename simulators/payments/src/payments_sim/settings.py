from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr
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
    #: how often due settlements and notices are looked for
    tick_seconds: float = 0.2
    #: the key settlement notices are signed with (shared with the merchant, i.e. our refunds service)
    notify_secret: SecretStr = SecretStr("dev-provider-notify-secret")
    notice_timeout_seconds: float = 5.0
    #: deliveries of one notice before the provider gives up (the merchant still has the status query)
    notice_attempts: int = 6
    notice_backoff_seconds: float = 1.0
    #: how long a call whose reply is "lost" hangs before its 504
    hang_seconds: float = 3.0
