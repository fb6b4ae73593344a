"""docker-compose.yml: valid against the Compose specification, one built service per process, and ports,
names, addresses and environment variables that agree with the services' settings."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy import catalog
from tests.deploy.catalog import ROOT, Component

Compose = dict[str, Any]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def interpolated(value: str) -> str:
    """Compose's ${VAR:-default} with the defaults (the file must work without a .env)."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", value)


def settings_of(compose: Compose, c: Component) -> Any:
    env = {k: interpolated(v) for k, v in environment(compose["services"][c.name]).items()}
    return c.settings_from(env)


def test_compose_file_validates_against_the_compose_spec() -> None:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert exe, "check-jsonschema is a dev dependency (uv sync)"
    result = subprocess.run([exe, "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_process_is_built_from_its_dockerfile(compose: Compose) -> None:
    built = {}
    for name, service in compose["services"].items():
        build = service.get("build")
        if build is None:
            continue
        build = {"context": build} if isinstance(build, str) else build
        context = ROOT / build["context"]
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"compose service {name} builds {dockerfile.relative_to(ROOT)}, which is missing"
        assert context.resolve() == ROOT, f"{name}: the build context is the repository root (the uv workspace)"
        built[name] = dockerfile.relative_to(ROOT)
    assert built == {c.name: c.dockerfile for c in catalog.components()}


def test_environment_variables_are_settings_the_process_reads(compose: Compose) -> None:
    problems = []
    for c in catalog.components():
        for name in environment(compose["services"][c.name]):
            if name not in c.env_names() and not catalog.is_allowed_extra_env(name):
                problems.append(f"{c.name}: {name} is not a setting of {c.name}")
    assert not problems, "\n".join(problems)


def test_settings_parse_and_ports_agree(compose: Compose) -> None:
    for c in catalog.components():
        service = compose["services"][c.name]
        s = settings_of(compose, c)
        port = getattr(s, c.port_field)
        if not c.grpc:
            assert s.host == "0.0.0.0", f"{c.name}: must listen on every interface in a container"
        if c.grpc and not c.simulator:
            assert s.metrics_port, f"{c.name}: <PREFIX>_METRICS_PORT must be set for Prometheus"
        check = service["healthcheck"]["test"]
        # a gRPC service is checked on its plaintext health-only port (its gRPC port asks for a certificate)
        checked = s.grpc_health_port if c.grpc and not c.simulator else port
        assert check[:3] == ["CMD", "python", "-c"] and check[4] == str(checked), f"{c.name}: health check port"
        for published in service.get("ports") or []:
            assert str(published).rsplit(":", 1)[-1] == str(port), f"{c.name}: publishes {published}"
        assert service.get("read_only") is True and service.get("cap_drop") == ["ALL"], f"{c.name}: hardening"
        assert s.migrate_on_start, f"{c.name}: compose has no migration Jobs; each process migrates at start"


def test_addresses_name_compose_services_and_their_ports(compose: Compose) -> None:
    services = compose["services"]
    by_name = catalog.by_name()
    for c in catalog.components():
        s = settings_of(compose, c)
        for field in c.settings.model_fields:
            value = getattr(s, field)
            if not field.endswith(("_target", "_url")) or not isinstance(value, str):
                continue
            parts = urlsplit(value if "//" in value else f"//{value}")
            assert parts.hostname in services, f"{c.name}.{field} = {value}: no such compose service"
            callee = by_name[parts.hostname]
            assert parts.port == getattr(settings_of(compose, callee), callee.port_field), f"{c.name}.{field}"
            depends = services[c.name].get("depends_on") or {}
            assert parts.hostname in depends, f"{c.name} calls {parts.hostname}: it should depend on it"


def test_database_and_kafka_are_the_compose_ones(compose: Compose) -> None:
    services = compose["services"]
    pg = {k: interpolated(v) for k, v in environment(services["postgres"]).items()}
    kafka = environment(services["kafka"])
    advertised = {listener.split("://", 1)[1] for listener in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    for c in catalog.components():
        s = settings_of(compose, c)
        url = urlsplit(s.database_url.get_secret_value())
        assert (url.hostname, url.port or 5432) == ("postgres", 5432), c.name
        assert (url.username, url.password, url.path.lstrip("/")) == (
            pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]), f"{c.name}: database credentials"
        depends = services[c.name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", c.name
        if c.uses_kafka:
            assert s.kafka_bootstrap_servers in advertised, f"{c.name}: {s.kafka_bootstrap_servers}"
            assert s.kafka_enable_idempotence, f"{c.name}: real Kafka takes the idempotent producer"
            assert depends["kafka"]["condition"] == "service_healthy", c.name


def test_tracing_goes_to_the_collector(compose: Compose) -> None:
    for c in catalog.components():
        endpoint = environment(compose["services"][c.name]).get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
        assert urlsplit(endpoint).hostname == "otel-collector", c.name
    assert "jaeger" in compose["services"]


def test_prometheus_scrapes_every_service(compose: Compose) -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for c in catalog.components():
        if c.simulator:
            continue
        s = settings_of(compose, c)
        job = jobs.get(c.name)
        assert job is not None, f"no scrape job {c.name}"
        (static,) = job["static_configs"]
        assert static["targets"] == [f"{c.name}:{s.metrics_port if c.grpc else s.port}"], c.name
        assert static["labels"]["service"] == c.name, "the `service` label, as on Kubernetes"
        assert job.get("metrics_path", "/metrics") == "/metrics"


def test_mounted_files_exist_and_meet_their_readers(compose: Compose) -> None:
    mounts: dict[str, str] = {}
    for name, service in compose["services"].items():
        for volume in service.get("volumes") or []:
            source, target = str(volume).split(":")[:2]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is missing"
                mounts[target] = source
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    for rule_file in prometheus["rule_files"]:
        assert mounts.get(rule_file) == "./deploy/prometheus/alerts.yml"
    providers = yaml.safe_load((ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "dashboards.yml")
                               .read_text())["providers"]
    for provider in providers:
        assert mounts.get(provider["options"]["path"]) == "./deploy/grafana/dashboards"
    home = environment(compose["services"]["grafana"]).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        assert (ROOT / "deploy" / "grafana" / "dashboards" / Path(home).name).is_file()


@pytest.mark.parametrize("image_service", ["postgres", "kafka", "otel-collector", "jaeger", "prometheus", "grafana"])
def test_third_party_images_are_pinned(compose: Compose, image_service: str) -> None:
    image = compose["services"][image_service]["image"]
    assert ":" in image and not image.endswith(":latest"), image


def test_grpc_is_mutual_tls_with_the_certs_service(compose: Compose) -> None:
    """Every gRPC process (and the gateway, their client) names its own certificate from the volume the one-shot
    `certs` service fills, and starts after it; internal listeners take the container's network."""
    services = compose["services"]
    init = services["certs"]
    assert any(str(v).startswith("certs:/certs") for v in init["volumes"]), "certs writes the certs volume"
    script = next(str(v).split(":")[0] for v in init["volumes"] if str(v).startswith("./"))
    assert (ROOT / script).resolve() == (ROOT / "libs/topup-devstack/src/topup_devstack/certs.py").resolve()
    for c in catalog.components():
        if c.simulator:
            continue
        s = settings_of(compose, c)
        s.require_tls()
        assert s.tls_enabled, f"{c.name}: TOPUP_TLS_CERT_FILE, TOPUP_TLS_KEY_FILE, TOPUP_TLS_CA_FILE"
        assert (str(s.tls_cert_file), str(s.tls_key_file), str(s.tls_ca_file)) == (
            f"/certs/{c.name}.pem", f"/certs/{c.name}-key.pem", "/certs/ca.pem"), f"{c.name}: its own certificate"
        assert "certs:/certs:ro" in [str(v) for v in services[c.name]["volumes"]], f"{c.name}: mounts the certs"
        depends = services[c.name]["depends_on"]
        assert depends["certs"]["condition"] == "service_completed_successfully", c.name
        if c.grpc:
            assert s.listen_host == "0.0.0.0", f"{c.name}: reachable from the other containers"
