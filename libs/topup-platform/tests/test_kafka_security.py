"""Kafka client security from the settings: PLAINTEXT by default (dev, tests, the embedded broker); SASL_SSL with
SCRAM and the cluster's CA on Kubernetes (deploy/k8s: Strimzi's TLS listener, one KafkaUser per service)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from topup_devstack.certs import DevPki
from topup_platform.kafka import make_producer, security_options
from topup_platform.settings import PlatformSettings


def settings(**env: str) -> PlatformSettings:
    values: dict[str, Any] = {"TOPUP_ENV": "dev", **env}
    return PlatformSettings(**values)


def test_plaintext_is_the_default() -> None:
    s = settings()
    assert s.kafka_security_protocol == "PLAINTEXT"
    assert security_options(s) == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_with_scram_and_the_cluster_ca(tmp_path: Path) -> None:
    pki = DevPki.create(tmp_path, identities=())
    s = settings(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_USERNAME="orders",
                 KAFKA_SASL_PASSWORD="s3cret", KAFKA_SSL_CAFILE=str(pki.ca_file))
    options = security_options(s)
    context = options.pop("ssl_context")
    assert options == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                       "sasl_plain_username": "orders", "sasl_plain_password": "s3cret"}
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    subjects = [str(c["subject"]) for c in context.get_ca_certs()]
    assert len(subjects) == 1 and "topup dev CA" in subjects[0], subjects
    assert "s3cret" not in repr(s), "the password is a secret: never in a repr or a log line"


@pytest.mark.parametrize("missing", ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"])
def test_sasl_without_credentials_refuses_to_start(missing: str) -> None:
    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "orders", "KAFKA_SASL_PASSWORD": "x"}
    del env[missing]
    with pytest.raises(ValidationError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        settings(**env)


def test_unknown_protocol_or_mechanism_is_refused() -> None:
    with pytest.raises(ValidationError):
        settings(KAFKA_SECURITY_PROTOCOL="sasl_ssl ")
    with pytest.raises(ValidationError):
        settings(KAFKA_SASL_MECHANISM="GSSAPI")


async def test_the_producer_connects_with_them() -> None:
    s = settings(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_USERNAME="orders", KAFKA_SASL_PASSWORD="pw")
    producer = make_producer(s)
    client = producer.client
    assert (client._security_protocol, client._sasl_mechanism, client._sasl_plain_username) == (
        "SASL_PLAINTEXT", "SCRAM-SHA-512", "orders")
