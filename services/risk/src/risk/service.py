"""Use cases of the risk engine: decisions, rule-set versions, lists and lockouts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from prometheus_client import Counter

from risk import repository
from risk.convert import DECISION_MADE, StoredDecision, decision_envelope, hits_json, new_decision, stored_from_row
from risk.domain import features as feat
from risk.domain import rules
from risk.domain.engine import Outcome, Verdict
from risk.domain.errors import InvalidRequest, RuleSetInvalid, RuleSetIsLive, RuleSetNotFound
from risk.domain.features import Attempt
from risk.rulebook import RuleBook
from topup_platform import identifiers
from topup_platform.events import RISK_TOPIC
from topup_platform.logging import get_logger
from topup_platform.outbox import Outbox
from topup_platform.timeutil import to_timestamp, utcnow

log = get_logger(__name__)

DECISIONS = Counter("topup_risk_decisions_total", "Decisions by rule-set mode, action and outcome",
                    ["mode", "action", "outcome"])
RULE_HITS = Counter("topup_risk_rule_hits_total", "Rules that fired, by mode and rule", ["mode", "rule"])
GUESSES_REFUSED = Counter("topup_risk_voucher_guesses_refused_total",
                          "Voucher PIN guesses refused before their PIN was checked, by the kind that refused them "
                          "(account, device, ip locked; channel: its PIN-failure budget spent)", ["kind"])
RULE_ERRORS = Counter("topup_risk_rule_errors_total", "Rules whose expression failed at run time (not fired)",
                      ["version", "rule"])


_CHILDREN: dict[tuple[Any, ...], Any] = {}


def _count(counter: Counter, *labels: str) -> None:
    """counter.labels(*labels).inc(), without looking the child up every time (the decision path)."""
    child = _CHILDREN.get((counter, *labels))
    if child is None:
        child = _CHILDREN[(counter, *labels)] = counter.labels(*labels)
    child.inc()


@dataclass(frozen=True, slots=True)
class RuleSetRecord:
    version: int
    body: dict[str, Any]
    status: str  # DRAFT, LIVE, SHADOW, RETIRED
    note: str
    created_by: str
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class State:
    live_version: int
    shadow_version: int
    generation: int
    changed_at: datetime
    changed_by: str


class RiskService:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, rulebook: RuleBook,
                 features_pool: asyncpg.Pool | None = None, *, channel_pin_budget: int = 0) -> None:
        self.pool = pool
        #: wrong voucher PINs (with the guesses pending) one channel may have within the lockout window; 0: none
        self.channel_pin_budget = channel_pin_budget
        #: counting and feature reads; may run with synchronous_commit off (see main.py)
        self.features_pool = features_pool or pool
        self.outbox = outbox
        self.rulebook = rulebook

    # --- decisions ------------------------------------------------------------------------------------

    async def evaluate(self, attempt: Attempt, inputs: dict[str, Any]) -> StoredDecision:
        return (await self.evaluate_many([(attempt, inputs)]))[0]

    async def evaluate_many(self, attempts: Sequence[tuple[Attempt, dict[str, Any]]]) -> list[StoredDecision]:
        """Decide on each attempt: count it, read its features, apply the live (and shadow) rule-set, and
        store every decision with its inputs and emit it as an event. Two statements for the whole batch."""
        if not attempts:
            return []
        loaded = self.rulebook.current
        now = utcnow()
        now_minute = int(now.timestamp() // 60)
        unique: dict[str, tuple[Attempt, dict[str, Any]]] = {}
        for attempt, inputs in attempts:
            unique.setdefault(attempt.key, (attempt, inputs))  # a key twice in one batch is decided once
        batch = [a for a, _ in unique.values()]
        items = feat.counter_items(batch)
        accounts = sorted({a.account_id for a in batch} | {it.peer for it in items if it.peer})
        list_queries = sorted({q for a in batch for q in a.list_subjects()})
        lock_queries = sorted({q for a in batch for q in a.lockout_subjects()})
        async with self.features_pool.acquire() as conn:
            seen = await repository.observe(conn, [a.key for a in batch], accounts, items, now_minute,
                                            feat.HORIZON_MINUTES, list_queries, lock_queries)
        counted = {i for i, a in enumerate(batch) if a.key in seen.claimed}
        # A voucher PIN guess takes its place in the lockout counts before its PIN is checked (the count is taken
        # before answering): of parallel wrong PINs, only as many as the lockout allows are ever tried.
        guesses = [feat.Guess(a.key, (*a.lockout_subjects(), (feat.CHANNEL, a.channel_id)))
                   for i, a in enumerate(batch) if i in counted and a.action == "voucher_redemption"]
        refused: dict[str, set[str]] = {}
        if guesses:
            async with self.pool.acquire() as conn:
                refused = await repository.reserve_guesses(conn, guesses, loaded.live.lockout,
                                                           self.channel_pin_budget, now.timestamp())
            for kinds in refused.values():
                for kind in kinds:
                    _count(GUESSES_REFUSED, kind)
        new_accounts = {acc for acc in accounts if seen.stats.get(acc, (0, 0))[0] == 0}
        windows = {**loaded.live.windows, **(loaded.shadow.windows if loaded.shadow else {})}
        velocity = feat.velocity_features(batch, counted, seen.counters, new_accounts, now_minute, windows)

        fresh: dict[str, StoredDecision] = {}
        records: list[dict[str, Any]] = []
        decided_at = to_timestamp(now)
        for i, (attempt, inputs) in enumerate(unique.values()):
            listed = {(lst, kind) for kind, value in attempt.list_subjects()
                      for lst in feat.LISTS if (lst, f"{kind}:{value}") in seen.listed}
            blocked = {kind: ("block", kind) in listed for kind in feat.LIST_KINDS}
            allowed = {kind: ("allow", kind) in listed for kind in feat.LIST_KINDS}
            locked = {kind: (kind, value) in seen.locked for kind, value in attempt.lockout_subjects()}
            over = refused.get(attempt.key, set())
            if feat.CHANNEL in over:  # the channel's budget is spent: every subject of it is locked out for now
                over = over | set(feat.LOCKOUT_KINDS)
            locked_out = {kind: locked.get(kind, False) or kind in over for kind in feat.LOCKOUT_KINDS}
            successes, fen = seen.stats.get(attempt.account_id, (0, 0))
            history = {"successful_recharges": successes, "successful_fen": fen}
            context = feat.rule_context(attempt, velocity[i], blocked, allowed, locked_out, history)
            live = self._apply(loaded.live, context, "live", attempt.action)
            shadow = self._apply(loaded.shadow, context, "shadow", attempt.action) if loaded.shadow else None
            record = {**inputs, "features": _features_seen(velocity[i], blocked, allowed, locked_out, history,
                                                           attempt.key in seen.claimed)}
            decision = new_decision(live, shadow, record, now, decided_at)
            fresh[attempt.key] = decision
            event_id, envelope = decision_envelope(decision, attempt, decided_at, self.outbox.producer_name)
            records.append({
                "decision_id": decision.decision_id, "idempotency_key": attempt.key, "action": attempt.action,
                "channel_id": attempt.channel_id, "account_type": attempt.account_type,
                "account_id": attempt.account_id, "amount_fen": attempt.amount_fen, "outcome": live.outcome.value,
                "score": live.score, "reason_code": live.reason_code, "rules_fired": hits_json(live),
                "ruleset_version": live.ruleset_version, "inputs": record, "decided_at": now,
                "shadow_ruleset_version": shadow.ruleset_version if shadow else None,
                "shadow_outcome": shadow.outcome.value if shadow else None,
                "shadow_score": shadow.score if shadow else None,
                "shadow_reason_code": shadow.reason_code if shadow else None,
                "shadow_rules_fired": hits_json(shadow) if shadow else None,
                "event_id": event_id, "envelope": envelope.hex(),
            })
        # A guess refused here checks no PIN: its place goes back at once.
        unchecked = [g.key for g in guesses if g.key not in refused
                     and fresh[g.key].verdict.outcome not in (Outcome.ALLOW, Outcome.REVIEW)]
        async with self.pool.acquire() as conn:
            stored = await repository.record(conn, records, RISK_TOPIC, DECISION_MADE)
            decided_before = [key for key in unique if key not in stored]
            earlier = await repository.decisions_by_key(conn, decided_before) if decided_before else {}
            if unchecked:
                await self.release_guesses(conn, unchecked)
        # The relay is not woken: its 50 ms poll publishes decision events in bulk (nobody waits on them, and
        # a wake-up per batch would double the statements of the decision path under load).
        for key in stored:
            d = fresh[key]
            _count(DECISIONS, "live", unique[key][0].action, d.verdict.outcome.value)
            if d.shadow is not None:
                _count(DECISIONS, "shadow", unique[key][0].action, d.shadow.outcome.value)
        return [stored_from_row(earlier[a.key]) if a.key in earlier else fresh[a.key] for a, _ in attempts]

    @staticmethod
    def _apply(ruleset: rules.CompiledRuleSet, context: dict[str, Any], mode: str, action: str) -> Verdict:
        result = ruleset.evaluate(context)
        for rule_id, error in result.errors.items():
            RULE_ERRORS.labels(ruleset.label, rule_id).inc()
            log.warning("rule failed at run time", version=ruleset.label, rule=rule_id, error=error)
        for hit in result.verdict.hits:
            _count(RULE_HITS, mode, hit.rule_id)
        return result.verdict

    async def get(self, decision_id: UUID) -> StoredDecision | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM decisions WHERE decision_id = $1", decision_id)
        return stored_from_row(row) if row else None

    # --- rule-sets ------------------------------------------------------------------------------------

    async def create_ruleset(self, body_json: str, note: str, actor: str, *,
                             validate_only: bool = False) -> RuleSetRecord:
        try:
            compiled = rules.compile_ruleset(0, body_json)
        except rules.RuleSetInvalidError as err:
            raise RuleSetInvalid(str(err)[:2000], **{k[:100]: v[:500] for k, v in err.problems.items()}) from None
        body = compiled.doc.model_dump(mode="json", exclude_none=True)
        if validate_only:
            return RuleSetRecord(0, body, "DRAFT", note, actor, None)
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "INSERT INTO rulesets (body, digest, note, created_by) VALUES ($1, $2, $3, $4) "
                "RETURNING version, created_at", body, rules.digest(compiled.doc), note, actor)
            await repository.audit(conn, actor, "ruleset.create", f"ruleset:{row['version']}", {"note": note})
        log.info("rule-set version created", version=row["version"], actor=actor)
        return RuleSetRecord(row["version"], body, "DRAFT", note, actor, row["created_at"])

    async def get_ruleset(self, version: int) -> RuleSetRecord:
        async with self.pool.acquire() as conn:
            row = await repository.ruleset(conn, version)
            if row is None:
                raise RuleSetNotFound(version=str(version))
            state = await repository.state(conn)
            deployed = await repository.was_deployed(conn, version)
        return RuleSetRecord(version, row["body"], _status(version, state, deployed), row["note"], row["created_by"],
                             row["created_at"])

    async def list_rulesets(self, limit: int) -> tuple[list[RuleSetRecord], State]:
        async with self.pool.acquire() as conn:
            rows = await repository.rulesets(conn, min(max(limit or 50, 1), 500))
            state = await repository.state(conn)
        return ([RuleSetRecord(r["version"], {}, _status(r["version"], state, r["deployed"]), r["note"],
                               r["created_by"], r["created_at"]) for r in rows], _state(state))

    async def state(self) -> State:
        async with self.pool.acquire() as conn:
            return _state(await repository.state(conn))

    async def deploy(self, version: int, mode: str, actor: str, note: str = "") -> State:
        """mode "live": make `version` the enforced one (if it ran in shadow, the shadow run ends); mode "shadow":
        run it beside the live one, recorded and compared, never enforced."""
        if mode not in ("live", "shadow"):
            raise InvalidRequest("mode must be live or shadow")
        async with self.pool.acquire() as conn, conn.transaction():
            state = await conn.fetchrow("SELECT * FROM ruleset_state FOR UPDATE")
            if await repository.ruleset(conn, version) is None:
                raise RuleSetNotFound(version=str(version))
            if mode == "live":
                shadow = None if state["shadow_version"] == version else state["shadow_version"]
                live = version
            else:
                if state["live_version"] == version:
                    raise RuleSetIsLive(version=str(version))
                live, shadow = state["live_version"], version
            row = await conn.fetchrow(
                """UPDATE ruleset_state SET live_version = $1, shadow_version = $2, generation = generation + 1,
                          changed_at = now(), changed_by = $3 RETURNING *""", live, shadow, actor)
            await conn.execute("INSERT INTO ruleset_deployments (version, mode, actor, note) VALUES ($1, $2, $3, $4)",
                               version, mode, actor, note)
            await repository.audit(conn, actor, f"ruleset.deploy.{mode}", f"ruleset:{version}", {"note": note})
        log.info("rule-set deployed", version=version, mode=mode, actor=actor)
        await self.rulebook.reload()  # this replica applies it at once (the others within refresh_seconds)
        return _state(row)

    async def stop_shadow(self, actor: str) -> State:
        async with self.pool.acquire() as conn, conn.transaction():
            state = await conn.fetchrow("SELECT * FROM ruleset_state FOR UPDATE")
            if state["shadow_version"] is None:
                return _state(state)
            row = await conn.fetchrow(
                """UPDATE ruleset_state SET shadow_version = NULL, generation = generation + 1, changed_at = now(),
                          changed_by = $1 RETURNING *""", actor)
            await conn.execute(
                "INSERT INTO ruleset_deployments (version, mode, actor) VALUES ($1, 'shadow_stopped', $2)",
                state["shadow_version"], actor)
            await repository.audit(conn, actor, "ruleset.shadow.stop", f"ruleset:{state['shadow_version']}", {})
        await self.rulebook.reload()  # this replica applies it at once (the others within refresh_seconds)
        return _state(row)

    async def compare_shadow(self, version: int, since: datetime | None, sample_size: int) -> dict[str, Any]:
        label = rules.version_label(version)
        since = since or datetime.fromtimestamp(0, tz=UTC)
        async with self.pool.acquire() as conn:
            if await repository.ruleset(conn, version) is None:
                raise RuleSetNotFound(version=str(version))
            pairs = await conn.fetch(
                """SELECT outcome, shadow_outcome, count(*) AS n, array_agg(DISTINCT ruleset_version) AS live
                   FROM decisions WHERE shadow_ruleset_version = $1 AND decided_at >= $2
                   GROUP BY outcome, shadow_outcome ORDER BY n DESC""", label, since)
            differences = await conn.fetch(
                """SELECT decision_id, outcome, shadow_outcome, rules_fired, shadow_rules_fired, decided_at
                   FROM decisions WHERE shadow_ruleset_version = $1 AND decided_at >= $2
                     AND (outcome <> shadow_outcome OR reason_code <> shadow_reason_code)
                   ORDER BY decided_at DESC LIMIT $3""", label, since, min(max(sample_size or 20, 0), 200))
        live_versions = sorted({v for p in pairs for v in p["live"]})
        return {
            "shadow_version": version,
            "live_versions": live_versions,
            "decisions": sum(p["n"] for p in pairs),
            "agreements": sum(p["n"] for p in pairs if p["outcome"] == p["shadow_outcome"]),
            "pairs": [(p["outcome"], p["shadow_outcome"], p["n"]) for p in pairs],
            "differences": [{"decision_id": str(d["decision_id"]), "live": d["outcome"], "shadow": d["shadow_outcome"],
                             "live_rules": [h["rule_id"] for h in _json(d["rules_fired"])],
                             "shadow_rules": [h["rule_id"] for h in _json(d["shadow_rules_fired"])],
                             "decided_at": d["decided_at"]} for d in differences],
        }

    # --- lists ----------------------------------------------------------------------------------------

    async def put_list_entry(self, lst: str, kind: str, value: str, expires_at: datetime | None, reason: str,
                             actor: str) -> asyncpg.Record:
        value = _list_value(lst, kind, value)
        if expires_at is not None and expires_at <= utcnow():
            raise InvalidRequest("expires_at is in the past")
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """INSERT INTO list_entries (list, kind, value, expires_at, reason, created_by)
                   VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT (list, kind, value) DO UPDATE SET expires_at = excluded.expires_at,
                       reason = excluded.reason, created_by = excluded.created_by, created_at = now()
                   RETURNING *""", lst, kind, value, expires_at, reason, actor)
            await repository.audit(conn, actor, f"list.{lst}.put", f"{kind}:{value}",
                                   {"expires_at": expires_at.isoformat() if expires_at else None, "reason": reason})
        return row

    async def delete_list_entry(self, lst: str, kind: str, value: str, actor: str) -> bool:
        value = _list_value(lst, kind, value)
        async with self.pool.acquire() as conn, conn.transaction():
            deleted = await conn.fetchval(
                "DELETE FROM list_entries WHERE list = $1 AND kind = $2 AND value = $3 RETURNING true",
                lst, kind, value)
            if deleted:
                await repository.audit(conn, actor, f"list.{lst}.delete", f"{kind}:{value}", {})
        return bool(deleted)

    async def list_entries(self, lst: str, kind: str, limit: int, after: tuple[str, str],
                           include_expired: bool) -> list[asyncpg.Record]:
        if lst not in feat.LISTS or (kind and kind not in feat.LIST_KINDS):
            raise InvalidRequest(f"list must be one of {', '.join(feat.LISTS)}; kind one of "
                                 f"{', '.join(feat.LIST_KINDS)}")
        async with self.pool.acquire() as conn:
            return await conn.fetch(
                """SELECT * FROM list_entries
                   WHERE list = $1 AND ($2 = '' OR kind = $2) AND (kind, value) > ($3, $4)
                     AND ($5 OR expires_at IS NULL OR expires_at > now())
                   ORDER BY kind, value LIMIT $6""",
                lst, kind, after[0], after[1], include_expired, min(max(limit or 100, 1), 1000))

    # --- lockouts -------------------------------------------------------------------------------------

    async def release_guesses(self, conn: asyncpg.Connection, keys: Sequence[str]) -> None:
        """Give back the places of guesses whose PIN was never checked."""
        async with conn.transaction():
            settled = await repository.settle_guesses(conn, keys)
            subjects = sorted({s for _, subs in settled.values() for s in subs})
            if not subjects:
                return
            rows = await repository.lock_subjects(conn, subjects)
            policy = self.rulebook.current.live.lockout
            failures = {k: list(r["failures"]) for k, r in rows.items()}
            for at, subs in settled.values():
                for subject in subs:
                    failures[subject] = feat.release_guess(failures[subject], at)
            await conn.executemany(
                """UPDATE voucher_failures SET failures = $3, guess_locked_until = $4, updated_at = now()
                   WHERE kind = $1 AND value = $2""",
                [(k, v, failures[(k, v)], _guess_lock(k, failures[(k, v)], policy)) for k, v in subjects])

    async def lockout(self, kind: str, value: str) -> tuple[datetime | None, int]:
        """(locked until, if locked now; failures inside the live rule-set's window)."""
        value = _lockout_value(kind, value)
        policy = self.rulebook.current.live.lockout
        async with self.pool.acquire() as conn:
            row = await repository.lockout_row(conn, kind, value)
        if row is None:
            return None, 0
        now = utcnow()
        locks = [t for t in (row["locked_until"], row["guess_locked_until"]) if t is not None and t > now]
        return max(locks, default=None), feat.failures_in_window(row["failures"], policy.window_seconds,
                                                                 now.timestamp())

    async def clear_lockout(self, kind: str, value: str, actor: str, reason: str) -> None:
        value = _lockout_value(kind, value)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """UPDATE voucher_failures SET locked_until = NULL, guess_locked_until = NULL, failures = '{}',
                          cleared_at = now(), updated_at = now()
                   WHERE kind = $1 AND value = $2""", kind, value)
            await repository.audit(conn, actor, "lockout.clear", f"{kind}:{value}", {"reason": reason})
        log.info("voucher lockout cleared", kind=kind, actor=actor)


def _guess_lock(kind: str, failures: list[float], policy: feat.LockoutPolicy) -> datetime | None:
    if kind == feat.CHANNEL:
        return None
    until = feat.lock_of(failures, policy.max_failures.get(kind, feat.MAX_FAILURES_KEPT), policy)
    return datetime.fromtimestamp(until, UTC) if until else None


def _features_seen(velocity: dict[str, dict[str, int]], blocked: dict[str, bool], allowed: dict[str, bool],
                   locked_out: dict[str, bool], history: dict[str, int], counted: bool) -> dict[str, Any]:
    """What the rules saw, without the zeros (the audit record of a decision)."""
    return {
        "counted": counted,
        "velocity": {s: {k: v for k, v in m.items() if v} for s, m in velocity.items() if any(m.values())},
        "blocked": sorted(k for k, v in blocked.items() if v),
        "allowed": sorted(k for k, v in allowed.items() if v),
        "locked_out": sorted(k for k, v in locked_out.items() if v),
        "history": history,
    }


def _status(version: int, state: asyncpg.Record | None, deployed: bool) -> str:
    if state is not None and state["live_version"] == version:
        return "LIVE"
    if state is not None and state["shadow_version"] == version:
        return "SHADOW"
    return "RETIRED" if deployed else "DRAFT"


def _state(row: asyncpg.Record | None) -> State:
    if row is None:
        raise RuleSetNotFound("no rule-set is live")
    return State(row["live_version"], row["shadow_version"] or 0, row["generation"], row["changed_at"],
                 row["changed_by"])


def _json(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str | bytes):
        value = orjson.loads(value)
    return list(value or [])


def _list_value(lst: str, kind: str, value: str) -> str:
    if lst not in feat.LISTS:
        raise InvalidRequest(f"list must be one of {', '.join(feat.LISTS)}")
    value = _subject_value(kind, value, feat.LIST_KINDS)
    if kind == "payer" and ":" not in value:
        raise InvalidRequest("a payer account is <payment method>:<account>, e.g. alipay:2088000000000001")
    return value


def _lockout_value(kind: str, value: str) -> str:
    return _subject_value(kind, value, feat.LOCKOUT_KINDS)


def _subject_value(kind: str, value: str, kinds: Sequence[str]) -> str:
    """A list entry's or a lockout's subject, checked and normalised (an IP in its canonical form)."""
    if kind not in kinds:
        raise InvalidRequest(f"kind must be one of {', '.join(kinds)}")
    value = value.strip()
    if not value or len(value) > 256:
        raise InvalidRequest("value must be 1 to 256 characters")
    if kind == "ip":
        try:
            return feat.normalise_ip(value)
        except ValueError:
            raise InvalidRequest("value is not an IP address") from None
    if kind == "account" and identifiers.account_type_of(value) is None:
        raise InvalidRequest("an account is a mobile number or a broadband account id (ASCII digits)",
                             code="ACCOUNT_INVALID")
    if kind != "account" and not identifiers.matches(r"[\x21-\x7e]{1,256}", value):
        raise InvalidRequest("value must be visible ASCII characters")
    return value
