"""The rule-sets this replica decides with: the live one and the shadow one, compiled, in memory.

Every replica polls `ruleset_state.generation` (one indexed single-row read, every `RISK_RULES_REFRESH_SECONDS`);
when it moved, the replica loads and compiles the versions named there and swaps them in at once. A change made
through the admin API therefore reaches every replica within about that long, without a restart (and the replica
that made it at once).
Compiled versions are cached by number (versions are immutable).

At first start the shipped rule-set (`rulesets/default.json`) becomes version 1, live.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import asyncpg
from prometheus_client import Gauge

from risk import repository
from risk.domain import rules
from risk.domain.rules import CompiledRuleSet
from topup_platform.logging import get_logger

log = get_logger(__name__)

LOADED = Gauge("topup_risk_ruleset_loaded_version", "The rule-set version this replica applies", ["mode"])
_SEED_LOCK = 0x5249534B  # "RISK"


def default_body() -> str:
    return (resources.files("risk") / "rulesets" / "default.json").read_text("utf-8")


@dataclass(frozen=True, slots=True)
class Loaded:
    live: CompiledRuleSet
    shadow: CompiledRuleSet | None
    generation: int


class RuleBook:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._compiled: dict[int, CompiledRuleSet] = {}
        self._loaded: Loaded | None = None

    @property
    def current(self) -> Loaded:
        assert self._loaded is not None, "rule-sets not loaded"
        return self._loaded

    async def seed(self) -> None:
        """Make the shipped rule-set version 1, live, if no version is live yet (idempotent across replicas)."""
        doc = rules.parse(default_body())
        rules.CompiledRuleSet(0, doc)  # the shipped document must itself be valid
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _SEED_LOCK)
            if await conn.fetchval("SELECT count(*) FROM ruleset_state"):
                return
            version = await conn.fetchval(
                "INSERT INTO rulesets (body, digest, note, created_by) VALUES ($1, $2, $3, 'risk') RETURNING version",
                doc.model_dump(mode="json", exclude_none=True), rules.digest(doc), "the shipped rule-set")
            await conn.execute("INSERT INTO ruleset_state (live_version, changed_by) VALUES ($1, 'risk')", version)
            await conn.execute("INSERT INTO ruleset_deployments (version, mode, actor, note) VALUES ($1, 'live', "
                               "'risk', 'the shipped rule-set')", version)
            log.info("shipped rule-set installed", version=version)

    async def reload(self) -> bool:
        """Load what `ruleset_state` names, if it changed; True if something new was swapped in."""
        async with self.pool.acquire() as conn:
            row = await repository.state(conn)
            if row is None:
                raise RuntimeError("no rule-set is live (seed() was not run)")
            if self._loaded is not None and self._loaded.generation >= row["generation"]:
                return False
            live = await self._compile(conn, row["live_version"])
            shadow = await self._compile(conn, row["shadow_version"]) if row["shadow_version"] else None
        if self._loaded is not None and self._loaded.generation >= row["generation"]:
            return False  # a newer generation was swapped in meanwhile (a deploy on this replica): keep it
        self._loaded = Loaded(live, shadow, row["generation"])
        LOADED.labels("live").set(live.version)
        LOADED.labels("shadow").set(shadow.version if shadow else 0)
        log.info("rule-sets loaded", live=live.label, shadow=shadow.label if shadow else None,
                 generation=row["generation"])
        return True

    async def _compile(self, conn: asyncpg.Connection, version: int) -> CompiledRuleSet:
        compiled = self._compiled.get(version)
        if compiled is None:
            row = await repository.ruleset(conn, version)
            if row is None:
                raise RuntimeError(f"rule-set {version} is named live or shadow but does not exist")
            compiled = self._compiled[version] = rules.compile_ruleset(version, row["body"])
        return compiled
