"""Use cases of the risk engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from risk.domain.engine import Outcome, RuleHit, Verdict, evaluate_baseline
from topup_platform.ids import new_id
from topup_platform.timeutil import utcnow


@dataclass(frozen=True, slots=True)
class StoredDecision:
    decision_id: UUID
    verdict: Verdict
    decided_at: datetime


# Many decisions in one statement; a key decided before (a retried request) keeps its first decision.
# (JSON travels as text and is cast here: asyncpg would read a JSON list inside an array as a dimension.)
_INSERT = """
INSERT INTO decisions (decision_id, idempotency_key, action, channel_id, account_type, account_id, amount_fen,
                       outcome, score, reason_code, rules_fired, ruleset_version, inputs, decided_at)
SELECT d, k, a, c, t, i, f, o, s, r, rules::jsonb, v, inputs::jsonb, at
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
            $8::text[], $9::int[], $10::text[], $11::text[], $12::text[], $13::text[], $14::timestamptz[])
     AS x(d, k, a, c, t, i, f, o, s, r, rules, v, inputs, at)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING idempotency_key
"""


class RiskService:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def evaluate(self, idempotency_key: str, inputs: dict[str, Any]) -> StoredDecision:
        return (await self.evaluate_many([(idempotency_key, inputs)]))[0]

    async def evaluate_many(self, attempts: list[tuple[str, dict[str, Any]]]) -> list[StoredDecision]:
        """Decide on each attempt and store every decision with its inputs (one statement for all)."""
        now = utcnow()
        fresh = [(key, inputs, StoredDecision(new_id(), evaluate_baseline(inputs), now)) for key, inputs in attempts]
        columns: list[list[Any]] = [[] for _ in range(14)]
        for key, inputs, d in fresh:
            v = d.verdict
            row = [d.decision_id, key, inputs["action"], inputs["channel_id"], inputs["account_type"],
                   inputs["account_id"], inputs["amount_fen"], v.outcome.value, v.score, v.reason_code,
                   orjson.dumps([{"rule_id": h.rule_id, "description": h.description, "outcome": h.outcome.value,
                                  "score": h.score} for h in v.hits]).decode(),
                   v.ruleset_version, orjson.dumps(inputs).decode(), now]
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        async with self.pool.acquire() as conn:
            inserted = {r["idempotency_key"] for r in await conn.fetch(_INSERT, *columns)}
            decided_before = {key for key, _, _ in fresh} - inserted
            earlier = {}
            if decided_before:
                rows = await conn.fetch("SELECT * FROM decisions WHERE idempotency_key = ANY($1::text[])",
                                        list(decided_before))
                earlier = {r["idempotency_key"]: _stored(r) for r in rows}
        out, claimed = [], set()
        for key, _, decision in fresh:
            if key in inserted and key not in claimed:
                claimed.add(key)  # the first of two identical keys in one batch made the decision
                out.append(decision)
            else:
                out.append(earlier.get(key) or next(d for k, _, d in fresh if k == key))
        return out

    async def get(self, decision_id: UUID) -> StoredDecision | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM decisions WHERE decision_id = $1", decision_id)
        return _stored(row) if row else None


def _stored(row: asyncpg.Record) -> StoredDecision:
    rules = row["rules_fired"]
    if isinstance(rules, str | bytes):
        rules = orjson.loads(rules)
    hits = [RuleHit(r["rule_id"], r["description"], Outcome(r["outcome"]), r["score"]) for r in rules]
    verdict = Verdict(Outcome(row["outcome"]), row["score"], row["ruleset_version"], row["reason_code"], hits)
    return StoredDecision(row["decision_id"], verdict, row["decided_at"])
