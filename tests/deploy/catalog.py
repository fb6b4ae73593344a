"""What the deployment must agree with, read from the code rather than written down a second time.

The processes are the workspace members under services/ and simulators/; for each, its settings class
(`<package>.settings`, the `PlatformSettings` subclass defined there) gives the process name, the env prefix,
every environment variable it reads, the secret ones, and the defaults; its `main.py` tells whether it uses
Kafka and which consumer groups it runs on which topics.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from pydantic import AliasChoices, SecretStr

from topup_platform import events
from topup_platform.settings import PlatformSettings

ROOT = Path(__file__).resolve().parents[2]

#: Processes that open more than one asyncpg pool of `db_pool_max` (the gateway keeps nonces in a second one:
#: gateway/app.py; risk counts velocity in a second one: risk/main.py). Used for the PostgreSQL connection budget.
POOLS_PER_REPLICA = {"gateway": 2, "risk": 2}


@dataclass(frozen=True)
class Component:
    path: Path  # services/orders
    project: str  # the pyproject name: what `uv sync --package` takes
    package: str  # the Python package: what `python -m` runs
    settings: type[PlatformSettings]

    @property
    def name(self) -> str:
        """Process, image, compose service, Deployment and Service name."""
        return self.settings.service_name

    @property
    def simulator(self) -> bool:
        return self.path.parent.name == "simulators"

    @property
    def prefix(self) -> str:
        return str(self.settings.model_config.get("env_prefix", ""))

    @property
    def grpc(self) -> bool:
        return "grpc_port" in self.settings.model_fields

    @property
    def port_field(self) -> str:
        return "grpc_port" if self.grpc else "port"

    @property
    def port_name(self) -> str:
        """The name of the serving port in the manifests."""
        return "grpc" if self.grpc else "http"

    @property
    def default_port(self) -> int:
        return int(self.settings.model_fields[self.port_field].default)

    @property
    def dockerfile(self) -> Path:
        return self.path / "Dockerfile"

    def env_names(self) -> set[str]:
        """Every environment variable the settings class reads."""
        names: set[str] = set()
        for field_name, field in self.settings.model_fields.items():
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):
                names |= {c for c in alias.choices if isinstance(c, str)}
            elif isinstance(alias, str):
                names.add(alias)
            else:
                names.add((self.prefix + field_name).upper())
        return names

    def env_name(self, field_name: str) -> str:
        field = self.settings.model_fields[field_name]
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            return str(alias.choices[0])
        if isinstance(alias, str):
            return alias
        return (self.prefix + field_name).upper()

    def secret_env_names(self) -> set[str]:
        """The variables of `SecretStr` fields: never a literal value in a manifest."""
        return {self.env_name(n) for n, f in self.settings.model_fields.items() if f.annotation is SecretStr}

    def settings_from(self, env: Mapping[str, str]) -> PlatformSettings:
        """Build the settings exactly as the process would from this environment (and nothing else)."""
        with isolated_environ(env):
            return self.settings()

    @functools.cached_property
    def _main_source(self) -> str:
        main = ROOT / self.path / "src" / self.package / "main.py"
        return main.read_text() if main.exists() else ""

    @functools.cached_property
    def _sources(self) -> dict[str, ast.Module]:
        """Every module of the package, parsed."""
        src = ROOT / self.path / "src" / self.package
        return {str(p.relative_to(src)): ast.parse(p.read_text()) for p in sorted(src.rglob("*.py"))}

    @property
    def uses_kafka(self) -> bool:
        """Runs a Kafka client: main.py starts the platform's, or a module makes one (the gateway's callbacks)."""
        return any(_call_name(node) in _KAFKA_STARTS for tree in self._sources.values() for node in ast.walk(tree))

    def consumers(self) -> list[tuple[str, list[str]]]:
        """(consumer group, topics) of every `EventConsumer(name=..., topics=[...])` in the package's modules (a name
        given as a module constant is resolved)."""
        found = []
        for tree in self._sources.values():
            constants = _module_constants(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and _call_name(node) == "EventConsumer":
                    kw = {k.arg: k.value for k in node.keywords}
                    name_node = kw["name"]
                    if isinstance(name_node, ast.Name):
                        assert name_node.id in constants, f"{self.name}: consumer name {name_node.id} is not a constant"
                        name = constants[name_node.id]
                    else:
                        name = ast.literal_eval(name_node)  # a literal, or the deploy tests cannot derive its ACLs
                    topics_node = kw["topics"]
                    assert isinstance(topics_node, ast.List), f"{self.name}: EventConsumer(topics=[...]) as a list"
                    found.append((name, [_topic(t) for t in topics_node.elts]))
        return found

    @property
    def keeps_session_state(self) -> bool:
        """Holds something on its database session across transactions: a session-level advisory lock (its own,
        or the platform's outbox relay's leader lock), which a transaction-mode pooler would break."""
        return any(SESSION_LOCK.search(ast.unparse(tree)) or any(_call_name(n) == "OutboxRelay" for n in ast.walk(tree))
                   for tree in self._sources.values())

    def startup_parameters(self) -> set[str]:
        """The server settings its asyncpg pools send at connect: the platform's (topup_platform/db.py: search_path,
        application_name) and every `server_settings={...}` of its own pools (synchronous_commit...)."""
        found = {"search_path", "application_name"}
        for tree in self._sources.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.keyword) and node.arg == "server_settings":
                    found |= {k.value for d in ast.walk(node.value) if isinstance(d, ast.Dict)
                              for k in d.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
        return found

    def ensured_topics(self) -> set[str]:
        """The topics it creates when missing at start (`start_kafka([...])`, `ensure_topics(settings, [...])`)."""
        found: set[str] = set()
        for tree in self._sources.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and _call_name(node) in ("start_kafka", "ensure_topics"):
                    for arg in node.args:
                        if isinstance(arg, ast.List):
                            found |= {_topic(t) for t in arg.elts}
        return found

    def produced_topics(self) -> set[str]:
        """The event topics its code writes to: a topic constant passed to any call (the outbox's `row`/`add`,
        a repository's `record`...) other than the consumer's and the topic creation's."""
        found: set[str] = set()
        for tree in self._sources.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and _call_name(node) not in (*_KAFKA_STARTS, "EventConsumer"):
                    found |= {t for a in [*node.args, *(k.value for k in node.keywords)]
                              if (t := _topic_constant(a)) is not None}
        return found


#: a session-level advisory lock (pg_advisory_xact_lock ends with its transaction: fine behind any pooler)
SESSION_LOCK = re.compile(r"pg_(?:try_)?advisory_lock(?:_shared)?\(")

_KAFKA_STARTS = ("start_kafka", "ensure_topics", "make_producer")


def _call_name(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _module_constants(tree: ast.Module) -> dict[str, Any]:
    return {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) for t in node.targets if isinstance(t, ast.Name)}


def _topic_constant(node: ast.expr) -> str | None:
    """The topic an expression names through topup_platform.events (`ORDERS_TOPIC`, `events.ORDERS_TOPIC`)."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    value = getattr(events, name, None) if name else None
    return value if isinstance(value, str) and value in events.ALL_TOPICS else None


def _topic(node: ast.expr) -> str:
    return str(getattr(events, node.id)) if isinstance(node, ast.Name) else str(ast.literal_eval(node))


@contextmanager
def isolated_environ(env: Mapping[str, str]) -> Iterator[None]:
    with mock.patch.dict(os.environ, dict(env), clear=True):
        yield


def _settings_class(package: str) -> type[PlatformSettings]:
    module = importlib.import_module(f"{package}.settings")
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if issubclass(c, PlatformSettings) and c is not PlatformSettings and c.__module__ == module.__name__]
    assert len(classes) == 1, f"{package}.settings should define one PlatformSettings subclass, found {classes}"
    return classes[0]


@functools.cache
def components() -> tuple[Component, ...]:
    found = []
    for pyproject in sorted([*ROOT.glob("services/*/pyproject.toml"), *ROOT.glob("simulators/*/pyproject.toml")]):
        meta: dict[str, Any] = tomllib.loads(pyproject.read_text())
        (src,) = meta["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
        package = Path(src).name
        found.append(Component(pyproject.parent.relative_to(ROOT), meta["project"]["name"], package,
                               _settings_class(package)))
    return tuple(found)


def by_name() -> dict[str, Component]:
    return {c.name: c for c in components()}


def dead_letter_topics() -> set[str]:
    return {events.dead_letter_topic(topic, group)
            for c in components() for group, topics in c.consumers() for topic in topics}


def is_allowed_extra_env(name: str) -> bool:
    """Variables a process reads without its settings class: the standard OpenTelemetry ones."""
    return name.startswith("OTEL_")
