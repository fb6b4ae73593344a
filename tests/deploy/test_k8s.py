"""deploy/k8s: every overlay renders, every object validates against its schema, and the manifests agree with
the services' settings (ports, names, environment variables, topics, secrets)."""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ParentBased

from tests.deploy import catalog
from tests.deploy.catalog import ROOT, Component
from tests.deploy.conftest import K8S, OVERLAYS, render, rendered
from tests.deploy.k8s import (
    Obj,
    container_env,
    container_ports,
    get,
    labels_match,
    name_of,
    of_kind,
    pods_selected,
    referenced_variables,
    resolve_target_port,
    settings_env,
    workloads,
)
from topup_platform import events

#: the oldest Kubernetes release the manifests are meant for (native gRPC probes need 1.27)
KUBERNETES_VERSION = "1.30"
SCHEMAS = Path(__file__).parent / "schemas"
#: custom resources: (apiVersion, kind) → vendored JSON schema (tests/deploy/schemas/README.md)
CRD_SCHEMAS = {
    ("kafka.strimzi.io/v1", "Kafka"): "kafka.strimzi.io_kafka_v1.json",
    ("kafka.strimzi.io/v1", "KafkaNodePool"): "kafka.strimzi.io_kafkanodepool_v1.json",
    ("kafka.strimzi.io/v1", "KafkaTopic"): "kafka.strimzi.io_kafkatopic_v1.json",
    ("kafka.strimzi.io/v1", "KafkaUser"): "kafka.strimzi.io_kafkauser_v1.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "postgresql.cnpg.io_cluster_v1.json",
    ("postgresql.cnpg.io/v1", "Pooler"): "postgresql.cnpg.io_pooler_v1.json",
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): "postgresql.cnpg.io_scheduledbackup_v1.json",
    ("barmancloud.cnpg.io/v1", "ObjectStore"): "barmancloud.cnpg.io_objectstore_v1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_prometheusrule_v1.json",
    ("cert-manager.io/v1", "Certificate"): "cert-manager.io_certificate_v1.subset.json",
    ("cert-manager.io/v1", "Issuer"): "cert-manager.io_issuer_v1.subset.json",
}
#: no hand-made broker or database: these come from their operators
FORBIDDEN_KINDS = {"StatefulSet", "Secret"}


def platform(overlay: str) -> list[Component]:
    """The processes an overlay must run: every service; the simulators in dev only."""
    return [c for c in catalog.components() if not c.simulator or overlay == "dev"]


def deployment(objects: list[Obj], c: Component) -> Obj:
    d = get(objects, "Deployment", c.name)
    assert d is not None, f"no Deployment {c.name}"
    return d


def main_container(workload: Obj) -> Obj:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return dict(container)


def effective_settings(objects: list[Obj], c: Component, workload: Obj | None = None) -> Any:
    return c.settings_from(settings_env(objects, main_container(workload or deployment(objects, c))))


# ------------------------------------------------------------------------------------------- rendering


def test_base_renders() -> None:
    assert render(K8S / "base")


def test_dev_and_prod_overlays_exist() -> None:
    assert {"dev", "prod"} <= set(OVERLAYS)


def test_overlay_renders_into_one_namespace(objects: list[Obj], overlay: str) -> None:
    (namespace,) = of_kind(objects, "Namespace")
    for o in objects:
        if o["kind"] != "Namespace":
            assert o["metadata"].get("namespace") == name_of(namespace), f"{o['kind']}/{name_of(o)}"


@functools.cache
def _crd_validator(filename: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / filename).read_text())
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema)


def test_every_object_validates_against_its_schema(objects: list[Obj]) -> None:
    problems = []
    for o in objects:
        where = f"{o['kind']}/{name_of(o)}"
        assert o["kind"] not in FORBIDDEN_KINDS, f"{where}: not allowed in the manifests"
        crd = CRD_SCHEMAS.get((o["apiVersion"], o["kind"]))
        if crd is not None:
            problems += [f"{where}: {e.json_path}: {e.message}" for e in _crd_validator(crd).iter_errors(o)]
            continue
        try:
            kubernetes_validate.validate(o, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where}: no schema for {o['apiVersion']} {o['kind']} (add it to CRD_SCHEMAS)")
        except kubernetes_validate.ValidationError as e:
            problems.append(f"{where}: {'.'.join(map(str, e.path))}: {e.message}")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------------- workloads


def test_every_workload_is_hardened(objects: list[Obj]) -> None:
    """Non-root, read-only root filesystem, no privilege escalation, no capabilities, seccomp, requests and
    limits, a tagged image, no API token: for every Deployment and Job (the collector included)."""
    problems = []
    for workload, template in workloads(objects):
        where = f"{workload['kind']}/{name_of(workload)}"
        pod = template["spec"]
        psc = pod.get("securityContext") or {}
        if psc.get("runAsNonRoot") is not True or not psc.get("runAsUser"):
            problems.append(f"{where}: pod must run as a non-root uid")
        if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: seccompProfile RuntimeDefault")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: automountServiceAccountToken must be false")
        sa = pod.get("serviceAccountName")
        if not sa or get(objects, "ServiceAccount", sa) is None:
            problems.append(f"{where}: its ServiceAccount {sa!r} is not in the overlay")
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            csc = c.get("securityContext") or {}
            if csc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}/{c['name']}: readOnlyRootFilesystem")
            if csc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}/{c['name']}: allowPrivilegeEscalation false")
            if (csc.get("capabilities") or {}).get("drop") != ["ALL"]:
                problems.append(f"{where}/{c['name']}: capabilities drop ALL")
            res = c.get("resources") or {}
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in (res.get(kind) or {}):
                        problems.append(f"{where}/{c['name']}: resources.{kind}.{r}")
            image = c["image"]
            if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
                problems.append(f"{where}/{c['name']}: image {image} needs a pinned tag")
        if workload["kind"] == "Deployment":
            for c in pod["containers"]:
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe not in c:
                        problems.append(f"{where}/{c['name']}: {probe}")
    assert not problems, "\n".join(problems)


def test_every_process_has_its_objects(objects: list[Obj], overlay: str) -> None:
    """Deployment, Service with named ports, ServiceAccount; for services also a HorizontalPodAutoscaler, a
    PodDisruptionBudget and a migration Job (the simulators migrate at start, dev only)."""
    for c in platform(overlay):
        d = deployment(objects, c)
        template = d["spec"]["template"]
        assert labels_match(d["spec"]["selector"], template["metadata"]["labels"])
        service = get(objects, "Service", c.name)
        assert service is not None, f"no Service {c.name}"
        assert all(p.get("name") for p in service["spec"]["ports"]), f"Service {c.name}: every port needs a name"
        assert get(objects, "ServiceAccount", c.name) is not None
        if c.simulator:
            assert effective_settings(objects, c).migrate_on_start, f"{c.name} must migrate at start"
            continue
        hpas = [h for h in of_kind(objects, "HorizontalPodAutoscaler")
                if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": c.name}]
        assert len(hpas) == 1, f"{c.name}: one HorizontalPodAutoscaler"
        assert "replicas" not in d["spec"], f"{c.name}: the autoscaler owns the replica count"
        pdbs = [p for p in of_kind(objects, "PodDisruptionBudget")
                if labels_match(p["spec"]["selector"], template["metadata"]["labels"])]
        assert len(pdbs) == 1, f"{c.name}: one PodDisruptionBudget"
        jobs = [j for j in of_kind(objects, "Job") if main_container(j)["image"] == main_container(d)["image"]]
        assert len(jobs) == 1, f"{c.name}: one migration Job with its image"
        assert main_container(jobs[0]).get("args") == ["migrate"], f"{name_of(jobs[0])}: runs `migrate`"
        assert not effective_settings(objects, c).migrate_on_start, f"{c.name}: the Job migrates, not the start"
        job_env = settings_env(objects, main_container(jobs[0]))
        assert job_env.get("DATABASE_URL") and c.settings_from(job_env).db_schema == c.settings.db_schema


def test_services_select_only_their_own_pods(objects: list[Obj]) -> None:
    for service in of_kind(objects, "Service"):
        selected = pods_selected(objects, {"matchLabels": service["spec"]["selector"]})
        assert [(w["kind"], name_of(w)) for w, _ in selected] == [("Deployment", name_of(service))], (
            f"Service {name_of(service)} selects {[(w['kind'], name_of(w)) for w, _ in selected]}")


# ------------------------------------------------------------------------------------------- settings agreement


def test_environment_variables_are_settings_the_process_reads(objects: list[Obj], overlay: str) -> None:
    """A misspelt or stale variable is silently ignored by pydantic-settings: catch it here."""
    problems = []
    for c in platform(overlay):
        allowed = c.env_names()
        for workload, _ in workloads(objects):
            container = main_container(workload)
            if container["image"].split(":")[0] != f"topup/{c.name}":
                continue
            values, refs = container_env(objects, container)
            helpers = referenced_variables(container)  # e.g. DATABASE_PASSWORD, spliced into DATABASE_URL
            for name in [*values, *refs]:
                downward = "fieldRef" in refs.get(name, {})
                if name in helpers and name not in allowed and not catalog.is_allowed_extra_env(name):
                    continue
                if name not in allowed and not catalog.is_allowed_extra_env(name) and not downward:
                    problems.append(f"{workload['kind']}/{name_of(workload)}: {name} is not a setting of {c.name}")
    assert not problems, "\n".join(problems)


def test_settings_parse_and_ports_agree(objects: list[Obj], overlay: str) -> None:
    for c in platform(overlay):
        d = deployment(objects, c)
        s = effective_settings(objects, c, d)
        template = d["spec"]["template"]
        ports = container_ports(template)
        serving = getattr(s, c.port_field)
        assert ports.get(c.port_name) == serving, f"{c.name}: port {c.port_name} ≠ {c.port_field} {serving}"
        if not c.grpc:
            assert s.host == "0.0.0.0", f"{c.name}: must listen on every interface in a pod"
        if c.grpc and not c.simulator:
            assert s.metrics_port and ports.get("metrics") == s.metrics_port, f"{c.name}: metrics port"
            # gRPC, metrics and the health port: loopback by default in dev, unreachable in a pod
            assert s.listen_host == "0.0.0.0", f"{c.name}: internal listeners on every interface (TOPUP_BIND_HOST)"
        container = main_container(d)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            spec = container.get(probe)
            if spec is None:
                continue
            if c.grpc:  # the gRPC port is mutual TLS: the kubelet probes the plaintext health-only port
                health = s.grpc_health_port
                assert health and health != serving and ports.get("grpc-health") == health, (
                    f"{c.name}: TOPUP_GRPC_HEALTH_PORT is the container port grpc-health")
                assert spec.get("grpc", {}).get("port") == health, f"{c.name} {probe}: gRPC health on {health}"
            else:
                assert spec["httpGet"]["port"] in (c.port_name, serving), f"{c.name} {probe}"
                assert spec["httpGet"]["path"] in ("/healthz", "/readyz")
            if probe != "readinessProbe":  # a dead broker takes a pod out of rotation, it never gets it killed
                asks = spec["grpc"].get("service") if c.grpc else spec["httpGet"]["path"]
                assert asks == ("liveness" if c.grpc else "/healthz"), f"{c.name} {probe} asks {asks!r}"
        service = get(objects, "Service", c.name)
        assert service is not None
        resolved = resolve_target_port(service, serving, objects)
        assert resolved is not None and resolved[1] == serving, f"Service {c.name} does not reach port {serving}"



def test_every_service_holds_a_certificate_of_the_internal_ca(objects: list[Obj], overlay: str) -> None:
    """Mutual TLS (components/mtls): each service's settings name a certificate, key and CA mounted from the
    secret of a cert-manager Certificate issued to its own name by the internal CA; none would refuse to start."""
    certificates = {c["spec"]["secretName"]: c for c in of_kind(objects, "Certificate")}
    issuers = {name_of(i): i for i in of_kind(objects, "Issuer")}
    for c in platform(overlay):
        if c.simulator:
            continue
        d = deployment(objects, c)
        s = effective_settings(objects, c, d)
        s.require_tls()
        assert s.tls_enabled, f"{c.name}: TOPUP_TLS_CERT_FILE, TOPUP_TLS_KEY_FILE, TOPUP_TLS_CA_FILE"
        container = main_container(d)
        volumes = {v["name"]: v for v in d["spec"]["template"]["spec"].get("volumes") or []}
        for path in (s.tls_cert_file, s.tls_key_file, s.tls_ca_file):
            mount = next((m for m in container.get("volumeMounts") or []
                          if str(path).startswith(m["mountPath"].rstrip("/") + "/")), None)
            assert mount is not None, f"{c.name}: nothing mounted at {path}"
            secret = volumes[mount["name"]].get("secret", {}).get("secretName")
            cert = certificates.get(secret)
            assert cert is not None, f"{c.name}: {path} is not from a cert-manager Certificate's secret"
            spec = cert["spec"]
            assert spec["commonName"] == c.name and c.name in spec.get("dnsNames", []), (
                f"{c.name}: its certificate must name it (the identity the access policies check)")
            assert {"server auth", "client auth"} <= set(spec.get("usages", [])), f"{c.name}: server and client"
            issuer = issuers.get(spec["issuerRef"]["name"])
            assert issuer is not None and "ca" in issuer["spec"], f"{c.name}: issued by the internal CA issuer"
            ca = certificates.get(issuer["spec"]["ca"]["secretName"])
            assert ca is not None and ca["spec"].get("isCA"), f"{c.name}: the CA issuer's secret is a CA Certificate"


def test_every_configured_call_is_in_the_callees_access_policy(objects: list[Obj], overlay: str) -> None:
    """A caller configured with a service's address (GATEWAY_*_TARGET, REFUNDS_*_TARGET) is an entry of that
    service's allow-list (its identity: the caller's name); every entry names a real caller."""
    import importlib

    policies = {c.name: importlib.import_module(f"{c.package}.grpc_api").ACCESS
                for c in platform(overlay) if c.grpc and not c.simulator}
    for c in platform(overlay):
        s = effective_settings(objects, c)
        for field in c.settings.model_fields:
            if field.endswith("_target"):
                callee = urlsplit(f"//{getattr(s, field)}").hostname
                assert callee in policies, f"{c.name}.{field}: {callee} is not a gRPC service"
                assert policies[callee].callers.get(c.name), f"{callee}'s access policy does not admit {c.name}"
    for callee, policy in policies.items():
        assert set(policy.callers) <= {*(c.name for c in platform(overlay)), "ops"}, f"{callee}: unknown caller"


def test_environment_matches_the_overlay(objects: list[Obj], overlay: str) -> None:
    for c in platform(overlay):
        s = effective_settings(objects, c)
        assert s.env.value == overlay, f"{c.name}: TOPUP_ENV={s.env.value} in the {overlay} overlay"
        assert s.json_logs, f"{c.name}: JSON logs on a cluster"


def test_gateway_targets_reach_the_services(objects: list[Obj], overlay: str) -> None:
    gateway = catalog.by_name()["gateway"]
    s = effective_settings(objects, gateway)
    fields = [f for f in gateway.settings.model_fields if f.endswith("_target")]
    assert fields
    for field in fields:
        host, port = getattr(s, field).rsplit(":", 1)
        service = get(objects, "Service", host)
        assert service is not None, f"gateway {field}={host}:{port}: no Service {host}"
        resolved = resolve_target_port(service, int(port), objects)
        assert resolved is not None, f"gateway {field}: Service {host} has no port {port}"
        callee = catalog.by_name()[host]
        assert resolved[1] == getattr(effective_settings(objects, callee), callee.port_field), (
            f"gateway {field} ends at container port {resolved[1]}, which {host} does not serve")


@pytest.mark.parametrize(("service", "field", "simulator"),
                         [("billing-adapter", "boss_url", "boss-sim"), ("refunds", "payments_url", "payments-sim")])
def test_external_systems(objects: list[Obj], overlay: str, service: str, field: str, simulator: str) -> None:
    """dev talks to the simulators in the namespace; prod to the operator's systems, never a simulator."""
    c = catalog.by_name()[service]
    url = urlsplit(getattr(effective_settings(objects, c), field))
    sim = get(objects, "Service", simulator)
    if overlay == "prod":
        assert sim is None and url.hostname not in (simulator, "127.0.0.1", "localhost")
        assert url.scheme == "https", f"{service}.{field}: TLS to systems outside the cluster"
        return
    assert url.hostname == simulator and sim is not None
    resolved = resolve_target_port(sim, url.port or 80, objects)
    sim_settings = effective_settings(objects, catalog.by_name()[simulator])
    assert resolved is not None and resolved[1] == sim_settings.port


def test_no_simulator_in_prod() -> None:
    names = {name_of(o) for o in rendered("prod")}
    for c in catalog.components():
        if c.simulator:
            assert c.name not in names and not any(c.name in n for n in names), f"{c.name} in prod"


# ------------------------------------------------------------------------------------------- secrets


def test_secrets_are_references_never_values(objects: list[Obj], overlay: str) -> None:
    for c in platform(overlay):
        for workload, _ in workloads(objects):
            container = main_container(workload)
            if container["image"].split(":")[0] != f"topup/{c.name}":
                continue
            values, refs = container_env(objects, container)
            for name in c.secret_env_names() - {"DATABASE_URL"}:  # DATABASE_URL: checked by _database_url
                assert name not in values, f"{name_of(workload)}: {name} must come from a Secret, not a literal"
            _database_url(objects, workload)  # its password from a Secret, never a literal
            if c.name == "gateway":
                for name in ("GATEWAY_MASTER_KEY", "GATEWAY_ADMIN_JWT_SECRET"):
                    ref = refs.get(name, {}).get("secretKeyRef")
                    assert ref, f"{name_of(workload)}: {name} from a Secret"
                    if overlay == "prod":
                        assert not ref.get("optional"), f"prod: {name} is required"


def _database_url(objects: list[Obj], workload: Obj) -> tuple[Any, Obj]:
    """(the parsed DATABASE_URL, the secretKeyRef its password comes from). Either the whole URL is a secret's
    value, or its password is `$(NAME)` of a variable from a secret: never a password in the manifests."""
    container = main_container(workload)
    values, refs = container_env(objects, container)
    where = name_of(workload)
    if "DATABASE_URL" in refs:
        ref = refs["DATABASE_URL"].get("secretKeyRef")
        assert ref, f"{where}: DATABASE_URL from a Secret"
        return None, ref
    url = urlsplit(values.get("DATABASE_URL", ""))
    match = re.fullmatch(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", url.password or "")
    assert match, f"{where}: the password in DATABASE_URL must be $(VARIABLE) of a secret, not a value"
    ref = refs.get(match.group(1), {}).get("secretKeyRef")
    assert ref, f"{where}: {match.group(1)} (the database password) from a Secret"
    return url, ref


def _poolers(objects: list[Obj]) -> dict[str, Obj]:
    return {name_of(p): p for p in of_kind(objects, "Pooler")}


def test_every_service_connects_as_its_own_role(objects: list[Obj], overlay: str) -> None:
    """Each service connects as the role named like its schema, a CloudNativePG managed role whose password is
    the secret the pods read; the role may log in and create its own schema, nothing more (no superuser, no
    CREATEROLE...). The service goes through a pooler of the cluster, its migration Job straight to the primary.
    Only the dev simulators use the application user's secret."""
    (cluster,) = of_kind(objects, "Cluster")
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    grants = [q for q in initdb.get("postInitApplicationSQL", []) if q.startswith("GRANT")]
    assert f"GRANT CONNECT, CREATE ON DATABASE {initdb['database']} TO topup_services" in grants, grants
    used = set()
    for c in platform(overlay):
        d = deployment(objects, c)
        if c.simulator:
            _, ref = _database_url(objects, d)
            assert (ref["name"], ref["key"]) == (f"{name_of(cluster)}-app", "uri"), c.name
            continue
        role_name = c.settings.db_schema
        role = roles.get(role_name)
        assert role is not None, f"{c.name}: no managed role {role_name} (the schema's owner)"
        used.add(role_name)
        assert role.get("login") is True and role.get("ensure", "present") == "present"
        for power in ("superuser", "createdb", "createrole", "replication", "bypassrls"):
            assert not role.get(power), f"role {role_name}: no {power}"
        assert role.get("inRoles") == ["topup_services"], f"role {role_name}: member of topup_services only"
        jobs = [j for j in of_kind(objects, "Job") if main_container(j)["image"] == main_container(d)["image"]]
        for workload in [d, *jobs]:
            url, ref = _database_url(objects, workload)
            where = f"{workload['kind']}/{name_of(workload)}"
            assert url is not None and url.username == role_name, f"{where}: connects as {role_name}"
            assert url.path == f"/{initdb['database']}" and url.port == 5432, where
            assert (ref["name"], ref["key"]) == (role["passwordSecret"]["name"], "password"), (
                f"{where}: the password of role {role_name} is its managed role's secret")
            assert not ref.get("optional"), where
            if workload is d:
                pooler = _poolers(objects).get(url.hostname or "")
                assert pooler is not None, f"{where}: through a Pooler, not {url.hostname}"
                assert pooler["spec"]["cluster"]["name"] == name_of(cluster) and pooler["spec"]["type"] == "rw"
            else:
                assert url.hostname == f"{name_of(cluster)}-rw", f"{where}: migrations go straight to the primary"
    assert used == set(roles), f"managed roles no service uses: {sorted(set(roles) - used)}"


def test_poolers_fit_what_the_services_hold_on_their_sessions(objects: list[Obj], overlay: str) -> None:
    """A service that holds session state (a session advisory lock: its own or the outbox relay's) is behind a
    session-mode pooler; behind a transaction-mode pooler asyncpg's named prepared statements need PgBouncer's
    max_prepared_statements; every pooler ignores the search_path asyncpg sends (the role's default applies)."""
    poolers = _poolers(objects)
    assert poolers, "a connection pooler"
    for pooler in poolers.values():
        params = pooler["spec"]["pgbouncer"].get("parameters", {})
        if pooler["spec"]["pgbouncer"].get("poolMode", "session") == "transaction":
            assert int(params.get("max_prepared_statements", "0")) > 0, (
                f"{name_of(pooler)}: asyncpg prepares named statements; PgBouncer must track them")
    for c in platform(overlay):
        if c.simulator:
            continue
        url, _ = _database_url(objects, deployment(objects, c))
        pgbouncer = poolers[url.hostname]["spec"]["pgbouncer"]
        mode = pgbouncer.get("poolMode", "session")
        if c.keeps_session_state:
            assert mode == "session", f"{c.name} holds session advisory locks: not behind a {mode}-mode pooler"
        # PgBouncer refuses a connection that sends a startup parameter it neither tracks nor ignores
        ignored = set(pgbouncer.get("parameters", {}).get("ignore_startup_parameters", "").split(","))
        refused = c.startup_parameters() - PGBOUNCER_TRACKED - ignored
        assert not refused, f"{c.name} sends {sorted(refused)} at connect: {url.hostname} would refuse it"


#: the startup parameters PgBouncer passes on to the server itself (its docs: ignore_startup_parameters)
PGBOUNCER_TRACKED = {"client_encoding", "datestyle", "timezone", "standard_conforming_strings", "application_name"}


def test_session_state_is_read_from_the_code() -> None:
    """The outbox relay's leader election is a session advisory lock (else the check above proves nothing)."""
    outbox = (ROOT / "libs/topup-platform/src/topup_platform/outbox.py").read_text()
    assert catalog.SESSION_LOCK.search(outbox)
    assert catalog.by_name()["orders"].keeps_session_state
    assert not catalog.by_name()["gateway"].keeps_session_state
    assert "synchronous_commit" in catalog.by_name()["gateway"].startup_parameters()  # the nonce pool


def test_database_connection_budget(objects: list[Obj], overlay: str) -> None:
    """What PostgreSQL may be asked for fits max_connections (with its reserved superuser slots and room for an
    operator's psql): a session-mode pooler holds one server connection per client connection, so every pool of
    every replica behind it at the autoscalers' maximum; a transaction-mode pooler at most max_db_connections per
    PgBouncer instance; the dev simulators' pools and the migration Jobs connect directly. Each pooler accepts
    all its clients, and in session mode one service's pools fit one instance's pool (the Service may send every
    connection of a role to the same PgBouncer)."""
    (cluster,) = of_kind(objects, "Cluster")
    max_connections = int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])
    poolers = _poolers(objects)
    clients: dict[str, int] = dict.fromkeys(poolers, 0)
    needed = len(of_kind(objects, "Job"))
    for c in platform(overlay):
        d = deployment(objects, c)
        hpa = next((h for h in of_kind(objects, "HorizontalPodAutoscaler")
                    if h["spec"]["scaleTargetRef"]["name"] == c.name), None)
        replicas = hpa["spec"]["maxReplicas"] if hpa else d["spec"].get("replicas", 1)
        s = effective_settings(objects, c, d)
        pools = replicas * catalog.POOLS_PER_REPLICA.get(c.name, 1) * s.db_pool_max
        url, _ = _database_url(objects, d)
        if url is None or url.hostname not in poolers:
            needed += pools
            continue
        pooler = poolers[url.hostname]
        params = pooler["spec"]["pgbouncer"].get("parameters", {})
        clients[url.hostname] += pools
        if pooler["spec"]["pgbouncer"].get("poolMode", "session") == "session":
            assert pools <= int(params["default_pool_size"]), (
                f"{c.name}: {pools} connections exceed default_pool_size of {name_of(pooler)}")
    for name, pooler in poolers.items():
        params = pooler["spec"]["pgbouncer"].get("parameters", {})
        assert clients[name] <= int(params.get("max_client_conn", "100")), f"{name}: max_client_conn"
        if pooler["spec"]["pgbouncer"].get("poolMode", "session") == "session":
            needed += clients[name]
        else:
            per_instance = int(params.get("max_db_connections", "0"))
            assert per_instance > 0, f"{name}: max_db_connections bounds what a transaction pooler opens"
            needed += pooler["spec"].get("instances", 1) * per_instance
    assert needed <= max_connections - 10, f"{overlay}: up to {needed} of {max_connections} connections"


# ------------------------------------------------------------------------------------------- backups


BARMAN = "barman-cloud.cloudnative-pg.io"


def test_the_ledger_is_backed_up_with_wal_archiving(objects: list[Obj]) -> None:
    """Continuous WAL archiving and nightly base backups through the Barman Cloud plugin into an object store
    with a retention policy, its credentials from a Secret."""
    (cluster,) = of_kind(objects, "Cluster")
    archivers = [p for p in cluster["spec"].get("plugins", []) if p.get("isWALArchiver")]
    assert len(archivers) == 1 and archivers[0]["name"] == BARMAN, "one WAL archiver: the Barman Cloud plugin"
    store = get(objects, "ObjectStore", archivers[0]["parameters"]["barmanObjectName"])
    assert store is not None, "the WAL archiver's ObjectStore"
    assert re.fullmatch(r"[1-9][0-9]*[dwm]", store["spec"].get("retentionPolicy", "")), "a retention policy"
    configuration = store["spec"]["configuration"]
    assert configuration["destinationPath"]
    credentials = configuration["s3Credentials"]
    for key in ("accessKeyId", "secretAccessKey"):
        assert set(credentials[key]) == {"name", "key"}, f"{key}: a reference to a Secret"
    assert "archive_timeout" in cluster["spec"]["postgresql"]["parameters"], "a bound on the WAL not yet archived"
    backups = [b for b in of_kind(objects, "ScheduledBackup") if b["spec"]["cluster"]["name"] == name_of(cluster)]
    assert len(backups) == 1
    spec = backups[0]["spec"]
    assert spec.get("method") == "plugin" and spec["pluginConfiguration"]["name"] == BARMAN
    assert len(spec["schedule"].split()) == 6, "CloudNativePG's cron has six fields (seconds first)"


def test_the_restore_example_recovers_to_a_time_from_those_backups() -> None:
    """deploy/k8s/restore/recovery-cluster.yaml (the RUNBOOK's procedure) is a valid Cluster that bootstraps by
    recovery from the base cluster's archive up to a target time, and archives under a name of its own."""
    import datetime

    import yaml

    path = K8S / "restore" / "recovery-cluster.yaml"
    (restore,) = list(yaml.safe_load_all(path.read_text()))
    errors = [f"{e.json_path}: {e.message}" for e in
              _crd_validator(CRD_SCHEMAS[(restore["apiVersion"], restore["kind"])]).iter_errors(restore)]
    assert not errors, errors
    base = render(K8S / "base")
    (cluster,) = of_kind(base, "Cluster")
    (store,) = of_kind(base, "ObjectStore")
    recovery = restore["spec"]["bootstrap"]["recovery"]
    target = datetime.datetime.fromisoformat(recovery["recoveryTarget"]["targetTime"])
    assert target.tzinfo is not None, "targetTime with its offset"
    source = next(e for e in restore["spec"]["externalClusters"] if e["name"] == recovery["source"])
    assert source["plugin"]["name"] == BARMAN
    assert source["plugin"]["parameters"] == {"barmanObjectName": name_of(store), "serverName": name_of(cluster)}
    (archiver,) = [p for p in restore["spec"]["plugins"] if p.get("isWALArchiver")]
    assert archiver["parameters"]["serverName"] != name_of(cluster), "never archive over the original's WAL"
    assert {r["name"] for r in restore["spec"]["managed"]["roles"]} == {
        r["name"] for r in cluster["spec"]["managed"]["roles"]}
    runbook = (ROOT / "deploy" / "RUNBOOK.md").read_text()
    assert "deploy/k8s/restore/recovery-cluster.yaml" in runbook and "targetTime" in runbook


# ------------------------------------------------------------------------------------------- Kafka


def _mounted_secret(workload: Obj, path: str) -> tuple[str, str] | None:
    """(secret, key) of the file at `path` in the workload's main container, if it comes from a secret volume."""
    container = main_container(workload)
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"].get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        prefix = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            return None
        relative = path[len(prefix):]
        items = secret.get("items")
        if items is None:
            return secret["secretName"], relative
        key = next((i["key"] for i in items if i["path"] == relative), None)
        return (secret["secretName"], key) if key else None
    return None


def test_kafka_is_tls_and_scram_with_acls(objects: list[Obj]) -> None:
    """One listener, TLS with SCRAM-SHA-512 (no plaintext way in), simple authorization, the user operator."""
    (kafka,) = of_kind(objects, "Kafka")
    spec = kafka["spec"]
    for listener in spec["kafka"]["listeners"]:
        assert listener["tls"] is True, f"listener {listener['name']}: TLS only"
        assert listener.get("authentication", {}).get("type") == "scram-sha-512", f"listener {listener['name']}"
    assert spec["kafka"].get("authorization", {}).get("type") == "simple", "ACLs are enforced"
    assert "userOperator" in spec.get("entityOperator", {}), "the user operator makes the KafkaUsers' secrets"


def test_kafka_bootstrap_is_the_strimzi_cluster(objects: list[Obj], overlay: str) -> None:
    """Each Kafka client reaches the TLS listener with SASL_SSL/SCRAM as its own KafkaUser: the user's name, its
    password from the secret the user operator makes (named like the user, key `password`), the cluster CA from
    Strimzi's `<cluster>-cluster-ca-cert` secret."""
    (kafka,) = of_kind(objects, "Kafka")
    listeners = {int(listener["port"]): listener for listener in kafka["spec"]["kafka"]["listeners"]}
    users = {name_of(u): u for u in of_kind(objects, "KafkaUser")}
    for c in platform(overlay):
        if not c.uses_kafka:
            continue
        d = deployment(objects, c)
        s = effective_settings(objects, c, d)
        host, port = s.kafka_bootstrap_servers.rsplit(":", 1)
        assert host == f"{name_of(kafka)}-kafka-bootstrap" and int(port) in listeners, f"{c.name}: {host}:{port}"
        assert s.kafka_enable_idempotence, f"{c.name}: real Kafka takes the idempotent producer"
        listener = listeners[int(port)]
        assert s.kafka_security_protocol == "SASL_SSL" and listener["tls"], f"{c.name}: SASL_SSL"
        assert s.kafka_sasl_mechanism == "SCRAM-SHA-512" == listener["authentication"]["type"].upper()
        user = users.get(s.kafka_sasl_username)
        assert user is not None and s.kafka_sasl_username == c.name, f"{c.name}: its own KafkaUser"
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == name_of(kafka)
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        _, refs = container_env(objects, main_container(d))
        ref = refs.get("KAFKA_SASL_PASSWORD", {}).get("secretKeyRef")
        assert ref and (ref["name"], ref["key"]) == (name_of(user), "password") and not ref.get("optional"), (
            f"{c.name}: KAFKA_SASL_PASSWORD from its KafkaUser's secret")
        assert s.kafka_ssl_cafile is not None, f"{c.name}: KAFKA_SSL_CAFILE"
        assert _mounted_secret(d, str(s.kafka_ssl_cafile)) == (f"{name_of(kafka)}-cluster-ca-cert", "ca.crt"), (
            f"{c.name}: KAFKA_SSL_CAFILE is the cluster CA certificate")


def _expected_acls(c: Component) -> set[tuple[str, str, str]]:
    """(resource type, name, operation) the code needs: Read+Describe on what it consumes, Read on its groups,
    Write+Describe on what it publishes and on its dead-letter topics; Describe on what it checks at start."""
    acls: set[tuple[str, str, str]] = set()
    for group, topics in c.consumers():
        acls.add(("group", group, "Read"))
        for topic in topics:
            acls |= {("topic", topic, "Read"), ("topic", topic, "Describe")}
            dlq = events.dead_letter_topic(topic, group)
            acls |= {("topic", dlq, "Write"), ("topic", dlq, "Describe")}
    for topic in c.produced_topics():
        acls |= {("topic", topic, "Write"), ("topic", topic, "Describe")}
    return acls


def _granted_acls(user: Obj) -> set[tuple[str, str, str]]:
    granted = set()
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        assert acl.get("type", "allow") == "allow" and acl.get("host", "*") == "*"
        assert resource.get("patternType", "literal") == "literal", f"{name_of(user)}: no prefix ACLs"
        assert resource.get("name") != "*", f"{name_of(user)}: no wildcard ACLs"
        granted |= {(resource["type"], resource.get("name", ""), op) for op in acl["operations"]}
    return granted


def test_every_kafka_client_has_exactly_the_acls_its_code_uses(objects: list[Obj], overlay: str) -> None:
    users = {name_of(u): u for u in of_kind(objects, "KafkaUser")}
    clients = [c for c in platform(overlay) if c.uses_kafka]
    assert {c.name for c in clients} | {"ops"} == set(users), "one KafkaUser per Kafka client, and ops"
    ops = {op for acl in users["ops"]["spec"]["authorization"]["acls"] for op in acl["operations"]}
    assert ops <= {"Read", "Describe"}, f"the ops user reads, never writes: {ops}"
    for c in clients:
        user = users[c.name]
        assert user["spec"]["authorization"]["type"] == "simple"
        expected, granted = _expected_acls(c), _granted_acls(user)
        assert granted == expected, (f"KafkaUser {c.name}: missing {sorted(expected - granted)}, "
                                     f"not used by the code {sorted(granted - expected)}")
        # the topics it checks at start are ones it may see (else it would try to create them, which it may not)
        described = {name for kind, name, op in granted if kind == "topic" and op == "Describe"}
        assert c.ensured_topics() <= described, f"{c.name}: cannot describe {c.ensured_topics() - described}"


def test_acl_derivation_reads_the_code() -> None:
    """The AST reading finds the gateway's callbacks consumer and every service's published topics (else the
    ACL check above proves nothing)."""
    by = catalog.by_name()
    assert ("gateway-callbacks", [events.ORDERS_TOPIC]) in by["gateway"].consumers()
    assert by["orders"].produced_topics() >= {events.ORDERS_TOPIC}
    assert by["billing-adapter"].produced_topics() == {events.BILLING_TOPIC}
    assert by["risk"].produced_topics() == {events.RISK_TOPIC}


def test_every_topic_is_a_kafkatopic(objects: list[Obj], overlay: str) -> None:
    (kafka,) = of_kind(objects, "Kafka")
    brokers = sum(p["spec"]["replicas"] for p in of_kind(objects, "KafkaNodePool") if "broker" in p["spec"]["roles"])
    topics = {t["spec"].get("topicName", name_of(t)): t for t in of_kind(objects, "KafkaTopic")}
    wanted = set(events.ALL_TOPICS) | catalog.dead_letter_topics()
    assert wanted <= set(topics), f"missing KafkaTopics: {sorted(wanted - set(topics))}"
    kafka_users = [effective_settings(objects, c) for c in platform(overlay) if c.uses_kafka]
    partitions = {s.kafka_topic_partitions for s in kafka_users}
    replicas = {s.kafka_topic_replication_factor for s in kafka_users}
    assert len(partitions) == 1 and len(replicas) == 1, "one KAFKA_TOPIC_PARTITIONS/REPLICATION_FACTOR for all"
    for name, topic in topics.items():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == name_of(kafka), name
        assert topic["spec"]["replicas"] <= brokers, f"{name}: more replicas than brokers"
        min_isr = int(topic["spec"].get("config", {}).get("min.insync.replicas", 1))
        assert min_isr <= topic["spec"]["replicas"], f"{name}: min.insync.replicas > replicas"
        if name in events.ALL_TOPICS:
            # a service that starts before the topic operator creates the topic itself, with these settings
            assert {topic["spec"]["partitions"]} == partitions, f"{name}: partitions ≠ KAFKA_TOPIC_PARTITIONS"
            assert {topic["spec"]["replicas"]} == replicas, f"{name}: replicas ≠ KAFKA_TOPIC_REPLICATION_FACTOR"


def test_dead_letter_topics_come_from_the_consumers() -> None:
    """The AST reading of main.py finds the consumers (else the KafkaTopic check above proves nothing)."""
    groups = {group for c in catalog.components() for group, _ in c.consumers()}
    assert {"orders", "billing-adapter", "refunds", "gateway-callbacks"} <= groups


# ------------------------------------------------------------------------------------------- network policies


def _allows(policy: Obj, caller_labels: dict[str, str] | None, namespace: str | None, port: int,
            port_names: dict[str, int]) -> bool:
    for rule in policy["spec"].get("ingress") or []:
        peers = rule.get("from")
        peer_ok = not peers or any(
            ("podSelector" in p and "namespaceSelector" not in p and caller_labels is not None
             and labels_match(p["podSelector"], caller_labels))
            or ("namespaceSelector" in p and namespace is not None
                and labels_match(p["namespaceSelector"], {"kubernetes.io/metadata.name": namespace}))
            for p in peers)
        ports = rule.get("ports")
        port_ok = not ports or any(
            (isinstance(p.get("port"), str) and port_names.get(p["port"]) == port) or p.get("port") == port
            for p in ports)
        if peer_ok and port_ok:
            return True
    return False


def _reachable(objects: list[Obj], callee: Obj, port: int, caller_labels: dict[str, str] | None = None,
               namespace: str | None = None) -> bool:
    labels = callee["metadata"]["labels"]
    policies = [p for p in of_kind(objects, "NetworkPolicy")
                if labels_match(p["spec"]["podSelector"], labels) and "Ingress" in p["spec"]["policyTypes"]]
    return not policies or any(_allows(p, caller_labels, namespace, port, container_ports(callee))
                               for p in policies)


def test_network_policies_select_real_pods_and_ports(objects: list[Obj]) -> None:
    for policy in of_kind(objects, "NetworkPolicy"):
        pods = pods_selected(objects, policy["spec"]["podSelector"])
        assert pods, f"NetworkPolicy {name_of(policy)} selects no pod"
        for rule in policy["spec"].get("ingress") or []:
            for p in rule.get("ports") or []:
                if isinstance(p.get("port"), str):
                    assert all(p["port"] in container_ports(t) for _, t in pods), (
                        f"NetworkPolicy {name_of(policy)}: port {p['port']} is not a named port of every pod")
            for peer in rule.get("from") or []:
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    assert pods_selected(objects, peer["podSelector"]), f"{name_of(policy)}: no such caller"


def test_network_policies_let_every_configured_call_through(objects: list[Obj], overlay: str) -> None:
    """Each in-namespace address a process is configured with (gateway targets, BOSS and payment URLs) is
    reachable from that process's pods under the policies; Prometheus reaches the metrics ports."""
    services = {name_of(s): s for s in of_kind(objects, "Service")}
    for c in platform(overlay):
        d = deployment(objects, c)
        caller = d["spec"]["template"]["metadata"]["labels"]
        s = effective_settings(objects, c, d)
        addresses = [getattr(s, f) for f in c.settings.model_fields if f.endswith(("_target", "_url"))]
        addresses.append(settings_env(objects, main_container(d)).get("OTEL_EXPORTER_OTLP_ENDPOINT", ""))
        for address in addresses:
            if not isinstance(address, str) or not address:
                continue
            parts = urlsplit(address if "//" in address else f"//{address}")
            if parts.hostname not in services:
                continue
            resolved = resolve_target_port(services[parts.hostname], parts.port or 80, objects)
            assert resolved is not None
            assert _reachable(objects, resolved[0], resolved[1], caller), (
                f"{c.name} → {address} is blocked by the network policies")
        if c.grpc and not c.simulator:
            assert _reachable(objects, d["spec"]["template"], s.metrics_port, namespace="monitoring"), (
                f"Prometheus (namespace monitoring) cannot scrape {c.name}")
        if c.name == "gateway":
            assert _reachable(objects, d["spec"]["template"], s.port, {"app": "ingress"}, "ingress-nginx")


# ------------------------------------------------------------------------------------------- egress


@dataclass(frozen=True)
class Peer:
    """A destination: a pod (its labels; its namespace's name, None for the policy's own), or an address."""
    labels: dict[str, str] | None = None
    namespace: str | None = None
    ip: str | None = None
    port_names: dict[str, int] = dataclasses.field(default_factory=dict)


def _peer_matches(peer: Obj, dest: Peer) -> bool:
    if "ipBlock" in peer:
        if dest.ip is None:
            return False
        address = ipaddress.ip_address(dest.ip)
        block = peer["ipBlock"]
        inside = address in ipaddress.ip_network(block["cidr"])
        return inside and not any(address in ipaddress.ip_network(e) for e in block.get("except") or [])
    if dest.labels is None:
        return False
    if "namespaceSelector" in peer:
        if dest.namespace is None or not labels_match(
                peer["namespaceSelector"], {"kubernetes.io/metadata.name": dest.namespace}):
            return False
    elif dest.namespace is not None:
        return False
    return labels_match(peer.get("podSelector") or {}, dest.labels)


def _egress_allowed(objects: list[Obj], source: Obj, dest: Peer, port: int, protocol: str = "TCP") -> bool:
    labels = source["metadata"].get("labels", {})
    policies = [p for p in of_kind(objects, "NetworkPolicy")
                if "Egress" in p["spec"].get("policyTypes", []) and labels_match(p["spec"]["podSelector"], labels)]
    assert policies, f"{labels.get('app.kubernetes.io/name')}: no egress policy selects it"
    for policy in policies:
        for rule in policy["spec"].get("egress") or []:
            peers = rule.get("to")
            if peers and not any(_peer_matches(p, dest) for p in peers):
                continue
            ports = rule.get("ports")
            if not ports or any(p.get("protocol", "TCP") == protocol and (
                    "port" not in p or p["port"] == port or (
                        isinstance(p["port"], str) and dest.port_names.get(p["port"]) == port)) for p in ports):
                return True
    return False


def test_every_workload_is_under_default_deny_egress(objects: list[Obj]) -> None:
    """Every Deployment and Job is selected by a policy that denies all egress, so what it reaches is only what
    the allow policies list; each of them resolves names (DNS to kube-dns)."""
    deny = [p for p in of_kind(objects, "NetworkPolicy")
            if p["spec"].get("policyTypes") == ["Egress"] and not p["spec"].get("egress")]
    dns = Peer({"k8s-app": "kube-dns"}, "kube-system")
    for workload, template in workloads(objects):
        labels = template["metadata"].get("labels", {})
        where = f"{workload['kind']}/{name_of(workload)}"
        assert any(labels_match(p["spec"]["podSelector"], labels) for p in deny), f"{where}: no default-deny egress"
        assert _egress_allowed(objects, template, dns, 53, "UDP"), f"{where}: DNS"
        assert not _egress_allowed(objects, template, Peer({"app": "anything"}), 5432), f"{where}: reaches any pod"


def test_egress_lets_every_configured_connection_through(objects: list[Obj], overlay: str) -> None:
    """Each process reaches what it is configured with: its database (pooler or instance), the Kafka brokers,
    the collector, the gRPC services of its *_TARGET settings, BOSS and the payment API (a simulator in dev; an
    address range on the URL's port in prod)."""
    (cluster,) = of_kind(objects, "Cluster")
    (kafka,) = of_kind(objects, "Kafka")
    services = {name_of(s): s for s in of_kind(objects, "Service")}
    for workload, template in workloads(objects):
        container = main_container(workload)
        image = container["image"].split(":")[0].removeprefix("topup/")
        c = catalog.by_name().get(image)
        if c is None:
            continue
        where = f"{workload['kind']}/{name_of(workload)}"
        s = c.settings_from(settings_env(objects, container))
        url, ref = _database_url(objects, workload)
        # the application user's secret (the dev simulators) holds a URI of the primary
        db = url if url is not None else urlsplit(f"//{name_of(cluster)}-rw:5432") if ref["name"].endswith("-app") \
            else None
        assert db is not None, f"{where}: DATABASE_URL"
        if db.hostname == f"{name_of(cluster)}-rw":
            db_pod = Peer({"cnpg.io/cluster": name_of(cluster), "cnpg.io/instanceRole": "primary"})
        else:
            assert db.hostname in _poolers(objects), f"{where}: database host {db.hostname}"
            db_pod = Peer({"cnpg.io/cluster": name_of(cluster), "cnpg.io/poolerName": db.hostname})
        assert _egress_allowed(objects, template, db_pod, db.port or 5432), f"{where} → {db.hostname}"
        if workload["kind"] == "Job":
            continue
        if c.uses_kafka:
            broker = Peer({"strimzi.io/cluster": name_of(kafka), "strimzi.io/kind": "Kafka",
                           "strimzi.io/broker-role": "true"})
            port = int(s.kafka_bootstrap_servers.rsplit(":", 1)[1])
            assert _egress_allowed(objects, template, broker, port), f"{where} → Kafka :{port}"
        addresses = [getattr(s, f) for f in c.settings.model_fields if f.endswith(("_target", "_url"))
                     and f != "database_url"]
        addresses.append(settings_env(objects, container).get("OTEL_EXPORTER_OTLP_ENDPOINT", ""))
        for address in addresses:
            if not isinstance(address, str) or not address:
                continue
            parts = urlsplit(address if "//" in address else f"//{address}")
            port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
            if parts.hostname in services:
                resolved = resolve_target_port(services[parts.hostname], port, objects)
                assert resolved is not None, f"{where}: {address}"
                dest = Peer(resolved[0]["metadata"]["labels"], port_names=container_ports(resolved[0]))
                assert _egress_allowed(objects, template, dest, resolved[1]), f"{where} → {address} blocked"
            else:  # outside the cluster (prod's BOSS and payment API): some address range on that port
                assert overlay == "prod", f"{where}: {address} is not a Service of the overlay"
                blocks = [p["ipBlock"] for pol in of_kind(objects, "NetworkPolicy")
                          if labels_match(pol["spec"]["podSelector"], template["metadata"]["labels"])
                          for rule in pol["spec"].get("egress") or [] for p in rule.get("to") or [] if "ipBlock" in p]
                assert any(_egress_allowed(objects, template, Peer(ip=_an_address_of(b)), port)
                           for b in blocks), f"{where} → {address}: no address range open on port {port}"


def _an_address_of(block: Obj) -> str:
    """An address the ipBlock admits."""
    network = ipaddress.ip_network(block["cidr"])
    excluded = [ipaddress.ip_network(e) for e in block.get("except") or []]
    for candidate in (network[1], ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("2001:db8::1")):
        if candidate in network and not any(candidate in e for e in excluded):
            return str(candidate)
    raise AssertionError(f"no sample address in {block}")


@pytest.mark.parametrize(("address", "allowed"), [
    ("203.0.113.10", True), ("8.8.8.8", True), ("2001:db8::1", True),
    ("10.0.0.5", False), ("172.16.3.4", False), ("192.168.1.1", False), ("127.0.0.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False),
    ("::1", False), ("fd00:ec2::254", False), ("fe80::1", False),
])
def test_gateway_callbacks_reach_public_addresses_only(objects: list[Obj], address: str, allowed: bool) -> None:
    """The SSRF defence in depth: the gateway (which calls the channels' notify_url) reaches the public internet on
    any port, never a private, loopback, link-local, shared or metadata address (nor the pods behind them)."""
    gateway = deployment(objects, catalog.by_name()["gateway"])["spec"]["template"]
    for port in (443, 8443, 5432):
        assert _egress_allowed(objects, gateway, Peer(ip=address), port) is allowed, f"{address}:{port}"


def test_only_the_gateway_and_refunds_reach_the_internet(objects: list[Obj], overlay: str) -> None:
    for c in platform(overlay):
        template = deployment(objects, c)["spec"]["template"]
        if c.name not in ("gateway", "refunds"):
            assert not _egress_allowed(objects, template, Peer(ip="203.0.113.10"), 443), f"{c.name} reaches out"
        assert not _egress_allowed(objects, template, Peer(ip="169.254.169.254"), 80), f"{c.name}: metadata"


# ------------------------------------------------------------------------------------------- monitoring


def test_every_service_is_scraped(objects: list[Obj], overlay: str) -> None:
    monitors = of_kind(objects, "ServiceMonitor")
    for c in platform(overlay):
        if c.simulator:
            continue
        service = get(objects, "Service", c.name)
        assert service is not None
        mine = [m for m in monitors if labels_match(m["spec"]["selector"], service["metadata"]["labels"])]
        assert len(mine) == 1, f"{c.name}: one ServiceMonitor"
        (endpoint,) = mine[0]["spec"]["endpoints"]
        port = next(p for p in service["spec"]["ports"] if p["name"] == endpoint["port"])
        resolved = resolve_target_port(service, int(port["port"]), objects)
        s = effective_settings(objects, c)
        expected = s.metrics_port if c.grpc else s.port
        assert resolved is not None and resolved[1] == expected, f"{c.name}: metrics are on {expected}"
        assert endpoint.get("path", "/metrics") == "/metrics"


def test_dashboards_ship_as_configmaps(objects: list[Obj]) -> None:
    files = {p.name: p.read_text() for p in (ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")}
    shipped = {k: v for cm in of_kind(objects, "ConfigMap")
               if cm["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
               for k, v in cm["data"].items()}
    assert shipped == files


def test_prometheus_rules_ship(objects: list[Obj]) -> None:
    (rule,) = of_kind(objects, "PrometheusRule")
    assert rule["spec"]["groups"]


def test_namespace_is_named_like_the_overlay(objects: list[Obj], overlay: str) -> None:
    (namespace,) = of_kind(objects, "Namespace")
    assert re.fullmatch(r"topup(-[a-z]+)?", name_of(namespace))
    assert (name_of(namespace) == "topup") == (overlay == "prod")



def test_production_samples_traces_by_the_gateways_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production keeps a share of the orders' traces (a setting), decided once where the trace starts and
    followed by every process after it, so each kept trace is whole; dev keeps them all (the SDK's default)."""
    for overlay, expected in (("prod", ("parentbased_traceidratio", "0.1")), ("dev", None)):
        objects = rendered(overlay)
        for c in platform(overlay):
            if c.simulator:
                continue
            env = settings_env(objects, main_container(deployment(objects, c)))
            got = (env["OTEL_TRACES_SAMPLER"], env["OTEL_TRACES_SAMPLER_ARG"]) if "OTEL_TRACES_SAMPLER" in env else None
            assert got == expected, (overlay, c.name, got)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.1")
    sampler = TracerProvider().sampler  # what the services' SDK makes of those settings
    assert isinstance(sampler, ParentBased)
    assert sampler.get_description() == "ParentBased{root:TraceIdRatioBased{0.1},remoteParentSampled:AlwaysOnSampler," \
        "remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler," \
        "localParentNotSampled:AlwaysOffSampler}"
