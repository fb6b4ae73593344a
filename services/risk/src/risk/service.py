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


class RiskService:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def evaluate(self, idempotency_key: str, inputs: dict[str, Any]) -> StoredDecision:
        verdict = evaluate_baseline(inputs)
        decision_id, now = new_id(), utcnow()
        rules = [{"rule_id": h.rule_id, "description": h.description, "outcome": h.outcome.value, "score": h.score}
                 for h in verdict.hits]
        async with self.pool.acquire() as conn:
            inserted = await conn.fetchval(
                """INSERT INTO decisions (decision_id, idempotency_key, action, channel_id, account_type, account_id,
                                          amount_fen, outcome, score, reason_code, rules_fired, ruleset_version,
                                          inputs, decided_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                   ON CONFLICT (idempotency_key) DO NOTHING RETURNING true""",
                decision_id, idempotency_key, inputs["action"], inputs["channel_id"], inputs["account_type"],
                inputs["account_id"], inputs["amount_fen"], verdict.outcome.value, verdict.score,
                verdict.reason_code, rules, verdict.ruleset_version, inputs, now,
            )
            if inserted:
                return StoredDecision(decision_id, verdict, now)
            row = await conn.fetchrow("SELECT * FROM decisions WHERE idempotency_key = $1", idempotency_key)
        return _stored(row)

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
