"""Settings shared by every service (pydantic-settings).

Each service subclasses `PlatformSettings` with its own env prefix (`ORDERS_`, `RISK_`...). The fields
here read the platform-wide, unprefixed names (`DATABASE_URL`, `KAFKA_BOOTSTRAP_SERVERS`, `TOPUP_ENV`...)
through explicit aliases, because pydantic-settings applies no prefix to aliased fields.

Settings are built once in `main()` and passed down: no import-time `Settings()`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class PlaceholderSecretError(ValueError):
    """A secret still has its development default outside development."""


class InsecureTransportError(ValueError):
    """gRPC without TLS outside development."""


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    #: The service name: process, image, k8s Deployment, OTel service.name and the `service` log field.
    service_name: ClassVar[str] = "topup"
    #: The PostgreSQL schema this service owns (database per service: no service reads another's tables).
    db_schema: ClassVar[str] = "public"

    env: Environment = Field(Environment.DEV, validation_alias=_alias("TOPUP_ENV"))
    database_url: SecretStr = Field(
        SecretStr("postgresql://postgres@127.0.0.1:5432/postgres"), validation_alias=_alias("DATABASE_URL")
    )
    db_pool_min: int = 1
    db_pool_max: int = 10
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias=_alias("KAFKA_BOOTSTRAP_SERVERS"))
    #: Real Kafka accepts an idempotent producer; the embedded Tansu broker refuses it.
    kafka_enable_idempotence: bool = Field(False, validation_alias=_alias("KAFKA_ENABLE_IDEMPOTENCE"))
    #: Consumer-group session: real Kafka refuses less than its group.min.session.timeout.ms (6 s by default).
    #: Tansu holds a new member's JoinGroup for half of it, so the dev stack runs it at 2 s.
    kafka_session_timeout_ms: int = Field(10_000, validation_alias=_alias("KAFKA_SESSION_TIMEOUT_MS"))
    kafka_heartbeat_interval_ms: int = Field(3_000, validation_alias=_alias("KAFKA_HEARTBEAT_INTERVAL_MS"))
    #: How often the Kafka clients read the cluster's metadata again. A broker that came back empty (the embedded
    #: one is memory-only) takes messages for topics it no longer has, and loses them, until a client asks for
    #: the metadata again (which makes the topics again): kept short so that this window is seconds. What was
    #: lost in it is asked for again by whoever waits for it (orders' watchdog).
    kafka_metadata_max_age_ms: int = Field(10_000, validation_alias=_alias("KAFKA_METADATA_MAX_AGE_MS"))
    #: Partitions for the topics a service creates when they do not exist yet.
    kafka_topic_partitions: int = Field(8, validation_alias=_alias("KAFKA_TOPIC_PARTITIONS"))
    #: Replicas of those topics. A production cluster declares its topics itself (Strimzi KafkaTopics), but a
    #: service that starts first creates them: with the cluster's replication, or they stay under-replicated.
    kafka_topic_replication_factor: int = Field(1, validation_alias=_alias("KAFKA_TOPIC_REPLICATION_FACTOR"))
    # --- how the Kafka clients authenticate (aiokafka): PLAINTEXT by default (dev, tests, the embedded broker);
    # on Kubernetes SASL_SSL with SCRAM-SHA-512, the cluster CA of Strimzi and one KafkaUser per service.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", validation_alias=_alias("KAFKA_SECURITY_PROTOCOL"))
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", validation_alias=_alias("KAFKA_SASL_MECHANISM"))
    kafka_sasl_username: str = Field("", validation_alias=_alias("KAFKA_SASL_USERNAME"))
    kafka_sasl_password: SecretStr = Field(SecretStr(""), validation_alias=_alias("KAFKA_SASL_PASSWORD"))
    #: the CA (PEM) that signed the brokers' certificates (SSL, SASL_SSL); unset: the system's trust store
    kafka_ssl_cafile: Path | None = Field(None, validation_alias=_alias("KAFKA_SSL_CAFILE"))
    #: readiness follows the broker (topup_platform.readiness): how often it is asked, and how long it may take
    kafka_readiness_interval_seconds: float = Field(2.0, gt=0,
                                                    validation_alias=_alias("KAFKA_READINESS_INTERVAL_SECONDS"))
    kafka_readiness_timeout_seconds: float = Field(2.0, gt=0,
                                                   validation_alias=_alias("KAFKA_READINESS_TIMEOUT_SECONDS"))
    log_level: str = Field("INFO", validation_alias=_alias("LOG_LEVEL"))
    #: json in production, console in a terminal; unset means json unless TOPUP_ENV=dev.
    log_format: Literal["json", "console"] | None = Field(None, validation_alias=_alias("LOG_FORMAT"))
    #: Apply this service's schema migrations at start (dev and tests; in Kubernetes a Job does it).
    migrate_on_start: bool = Field(False, validation_alias=_alias("TOPUP_MIGRATE_ON_START"))
    #: Prometheus metrics port; 0 disables the endpoint.
    metrics_port: int = 0
    #: Seconds to let in-flight work finish on SIGTERM before closing.
    shutdown_grace_seconds: float = 10.0

    # --- the internal network: mutual TLS between the services (see topup_platform.tls)
    #: this process's certificate (PEM, its chain after it), its key, and the CA it trusts for its peers. All
    #: three or none: with them, gRPC servers accept only TLS clients holding a certificate of this CA and
    #: clients connect only with TLS; without them (dev only) gRPC is plaintext. Required outside dev.
    tls_cert_file: Path | None = Field(None, validation_alias=_alias("TOPUP_TLS_CERT_FILE"))
    tls_key_file: Path | None = Field(None, validation_alias=_alias("TOPUP_TLS_KEY_FILE"))
    tls_ca_file: Path | None = Field(None, validation_alias=_alias("TOPUP_TLS_CA_FILE"))
    #: the address internal listeners (gRPC, metrics, the health port) bind to; unset: 127.0.0.1 in dev
    #: (nothing else on the machine or the network reaches them), every interface otherwise (a pod's IP).
    bind_host: str | None = Field(None, validation_alias=_alias("TOPUP_BIND_HOST"))
    #: a second, plaintext gRPC port serving only the stock health service (Kubernetes gRPC probes and compose
    #: health checks cannot present a client certificate); 0: none.
    grpc_health_port: int = Field(0, validation_alias=_alias("TOPUP_GRPC_HEALTH_PORT"))

    @model_validator(mode="after")
    def _tls_all_or_none(self) -> PlatformSettings:
        given = [f for f in ("tls_cert_file", "tls_key_file", "tls_ca_file") if getattr(self, f) is not None]
        if given and len(given) != 3:
            raise ValueError("TOPUP_TLS_CERT_FILE, TOPUP_TLS_KEY_FILE and TOPUP_TLS_CA_FILE go together")
        return self

    @model_validator(mode="after")
    def _kafka_sasl_credentials(self) -> PlatformSettings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
                self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()):
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs KAFKA_SASL_USERNAME "
                             "and KAFKA_SASL_PASSWORD")
        return self

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert_file is not None

    @property
    def listen_host(self) -> str:
        if self.bind_host:
            return self.bind_host
        return "127.0.0.1" if self.is_dev else "0.0.0.0"

    def require_tls(self) -> None:
        """Refuse to serve or call gRPC without TLS outside dev."""
        if not self.is_dev and not self.tls_enabled:
            raise InsecureTransportError(
                "TOPUP_TLS_CERT_FILE, TOPUP_TLS_KEY_FILE and TOPUP_TLS_CA_FILE are required unless TOPUP_ENV=dev")

    @property
    def is_dev(self) -> bool:
        return self.env is Environment.DEV

    @property
    def json_logs(self) -> bool:
        if self.log_format is not None:
            return self.log_format == "json"
        return not self.is_dev

    def require_real_secret(self, name: str, value: SecretStr, placeholder: str) -> None:
        """Refuse to start outside dev/test with a development placeholder secret."""
        if self.env is Environment.PROD and value.get_secret_value() in ("", placeholder):
            raise PlaceholderSecretError(f"{name} must be set to a real secret when TOPUP_ENV=prod")
