from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from topup_platform.settings import PlatformSettings


class BossSimSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="BOSS_SIM_")
    service_name: ClassVar[str] = "boss-sim"
    db_schema: ClassVar[str] = "boss_sim"

    host: str = "127.0.0.1"
    #: a simulator does not drain: calls left hanging on purpose are cut at shutdown
    shutdown_grace_seconds: float = 1.0
    port: int = 8090
    #: latency added to every call at start (changeable at run time through PUT /sim/faults)
    latency_ms: int = 0
    #: how long a call that "never answers" hangs
    hang_seconds: float = 60.0
    #: how long sandbox 18600000008's first write is held up before BOSS gets to apply it (or, past the caller's
    #: deadline, to refuse it)
    late_write_seconds: float = 3.0
