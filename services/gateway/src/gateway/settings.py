from __future__ import annotations

import base64
from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from topup_platform.settings import Environment, PlatformSettings

#: 32 bytes, base64: development only. Production refuses to start with it.
DEV_MASTER_KEY = base64.b64encode(b"dev-only-master-key-not-secret!!").decode()
DEV_ADMIN_JWT_SECRET = "dev-only-admin-jwt-secret-not-for-production"


class UnsafeSettingError(ValueError):
    """A setting that only development and tests may use, set in production."""


class GatewaySettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_")
    service_name: ClassVar[str] = "gateway"
    db_schema: ClassVar[str] = "gateway"

    host: str = "0.0.0.0"
    port: int = 8080
    risk_target: str = "127.0.0.1:50051"
    orders_target: str = "127.0.0.1:50052"
    billing_target: str = "127.0.0.1:50053"
    refunds_target: str = "127.0.0.1:50054"
    #: deadlines of the synchronous path (seconds)
    risk_timeout_seconds: float = 1.0
    orders_timeout_seconds: float = 3.0
    #: refunds and the review desk (a decision calls the BOSS adapter, the order core and maybe a provider)
    desk_timeout_seconds: float = 15.0
    #: micro-batching of the synchronous path: at most this many requests per batch call, and this many
    #: batch calls in flight per peer before new requests wait for the next batch
    batch_max_items: int = 64
    batch_max_in_flight: int = 2
    #: the signature window of the contract: |server time - X-Timestamp| <= this
    timestamp_window_seconds: int = 300
    #: AES-256-GCM key (base64 of 32 bytes) that encrypts channel secrets at rest
    master_key: SecretStr = SecretStr(DEV_MASTER_KEY)
    #: request bodies larger than this are refused with 413
    max_body_bytes: int = 64 * 1024
    #: how often the channel registry is reloaded from the database (seconds)
    channel_refresh_seconds: float = 5.0
    #: each replica writes a heartbeat this often; a channel's quota is shared among the replicas alive
    replica_heartbeat_seconds: float = 5.0

    # --- protection
    #: requests in flight in this replica beyond which new ones are refused at once (503 OVERLOADED)
    max_in_flight: int = 512
    #: of those, at most this many for one channel, so that a flood from one leaves room for the others
    max_in_flight_per_channel: int = 256
    #: a request not answered within this is answered 503 UPSTREAM_TIMEOUT (its outcome may be unknown)
    request_timeout_seconds: float = 15.0
    #: a request body not received within this is refused (408 REQUEST_TIMEOUT)
    body_timeout_seconds: float = 10.0

    # --- callbacks to channels
    #: consume order events and deliver callbacks in this process (off: another replica does it)
    callbacks_enabled: bool = True
    #: waits between attempts after the first one fails: a quick retry within 15 s (a blip, a restarting
    #: endpoint), then Alipay's 4 m, 10 m, 10 m, 1 h, 2 h, 6 h, 15 h; after the last, the callback is given up
    #: (the channel can still query the order; staff can re-send)
    #: one log line per request (method, route, status, error code, milliseconds, channel): on in dev
    #: (TOPUP_ENV=dev, as `make run` starts it), off elsewhere unless set; GATEWAY_ACCESS_LOG=true|false
    access_log: bool | None = None
    callback_retry_seconds: tuple[float, ...] = (10, 240, 600, 600, 3600, 7200, 21600, 54000)
    #: one attempt: connect and answer within this
    callback_timeout_seconds: float = 10.0
    #: a replica that took a callback and died: another takes it over after this
    callback_lease_seconds: float = 60.0
    #: how often due callbacks are looked for (a new one is sent at once by the replica that recorded it)
    callback_poll_seconds: float = 1.0
    #: callbacks sent at once by one replica
    callback_concurrency: int = 32
    #: plain-http notify_urls and callback prefixes: None means only in dev (production refuses true)
    callback_allow_http: bool | None = None
    #: TEST ONLY: exact `address:port` pairs (`127.0.0.1:40001`, `[::1]:40001`) callbacks may reach although
    #: the address is forbidden (a test's local sink); empty by default, and production refuses to start with it
    callback_test_allow_addresses: tuple[str, ...] = ()
    #: resolving a notify_url's host at intake: a name not resolved within this is checked at connect time only
    callback_dns_timeout_seconds: float = 2.0
    #: an intake verdict on a host is reused for this long (the connection-time check is made every time)
    callback_dns_cache_seconds: float = 30.0
    #: signs and verifies staff bearer tokens of the admin API (HS256); production refuses the default
    admin_jwt_secret: SecretStr = SecretStr(DEV_ADMIN_JWT_SECRET)
    admin_jwt_issuer: str = "topup-gateway"
    admin_token_ttl_seconds: int = 8 * 3600
    #: lifetime of the staff assertions the gateway signs for the services on each admin request
    staff_assertion_ttl_seconds: int = 120
    #: dev only: the demo channel of DESIGN.md section 5
    demo_channel_id: str = "demo"
    demo_channel_secret: SecretStr = Field(
        SecretStr("demo-secret"), validation_alias=AliasChoices("TOPUP_DEMO_CHANNEL_SECRET")
    )
    #: the demo channel's quota (high: `make bench` drives it)
    demo_channel_rate_per_second: int = 100_000

    @property
    def access_log_on(self) -> bool:
        return self.is_dev if self.access_log is None else self.access_log

    @property
    def callback_http_allowed(self) -> bool:
        return self.is_dev if self.callback_allow_http is None else self.callback_allow_http

    def check_production(self) -> None:
        self.require_real_secret("GATEWAY_MASTER_KEY", self.master_key, DEV_MASTER_KEY)
        self.require_real_secret("GATEWAY_ADMIN_JWT_SECRET", self.admin_jwt_secret, DEV_ADMIN_JWT_SECRET)
        if self.env is Environment.PROD and self.callback_test_allow_addresses:
            raise UnsafeSettingError("GATEWAY_CALLBACK_TEST_ALLOW_ADDRESSES is for tests: production refuses it")
        if self.env is Environment.PROD and self.callback_allow_http:
            raise UnsafeSettingError("GATEWAY_CALLBACK_ALLOW_HTTP: production sends callbacks over https only")
