"""SQL of the risk engine (asyncpg). A batch of attempts costs two statements: `OBSERVE` (claim, count,
read every feature) and `RECORD` (store the decisions and their events)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from risk.domain import features as feat
from risk.domain.features import CounterItem, CounterState, Guess, GuessRow, LockoutPolicy

# One statement for a whole batch of attempts:
#  1. claim each attempt's idempotency key (a key decided or claimed before counts nothing again);
#  2. add the claimed attempts to their counter rows, in key order (concurrent batches, from any replica,
#     serialise on the row locks in the same order: no lost update, no deadlock), returning the rows after;
#  3. read the other features: counter rows of unclaimed attempts, account history, list hits, lockouts.
#
# The batch travels as JSON (one parameter each): orjson writes it in microseconds, where asyncpg would check
# every element of a dozen arrays. Every lookup is a LATERAL index probe per value (OFFSET 0 keeps the planner
# from turning it into a hash join, which, guessing 100 rows for a JSON array, would scan the whole table).
OBSERVE = """
WITH claimed AS (
    INSERT INTO claims (idempotency_key)
    SELECT a.k FROM jsonb_array_elements_text($1::jsonb) AS a(k)
    WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.idempotency_key = a.k)
    ORDER BY a.k
    ON CONFLICT DO NOTHING
    RETURNING idempotency_key
),
stats AS (
    SELECT s.account, s.successful_recharges, s.successful_fen
    FROM jsonb_array_elements_text($2::jsonb) AS q(account)
    CROSS JOIN LATERAL (SELECT * FROM account_stats a WHERE a.account = q.account OFFSET 0) AS s
),
items AS (
    SELECT * FROM jsonb_to_recordset($3::jsonb) AS i(a text, d text, k text, m bigint, p text)
),
fresh AS (
    SELECT i.d AS dim, i.k AS key, count(*) AS n, sum(i.m) AS amount,
           coalesce(jsonb_object_agg(i.p, jsonb_build_array($4::int, 0)) FILTER (WHERE i.p <> ''), '{}') AS peers,
           coalesce(jsonb_object_agg(i.p, jsonb_build_array($4::int, 0))
                        FILTER (WHERE i.p <> '' AND coalesce(s.successful_recharges, 0) = 0), '{}') AS new_peers
    FROM items i
    JOIN claimed c ON c.idempotency_key = i.a
    LEFT JOIN stats s ON s.account = i.p
    GROUP BY i.d, i.k
),
up AS (
    INSERT INTO counters AS c (dim, key, buckets, peers, new_peers, updated_at)
    SELECT dim, key, jsonb_build_object($4::int, jsonb_build_array(n, amount)), peers, new_peers, now()
    FROM fresh
    ORDER BY dim, key
    ON CONFLICT (dim, key) DO UPDATE SET
        buckets = merge_buckets(c.buckets, excluded.buckets, $4::int - $5::int),
        peers = merge_peers(c.peers, excluded.peers, $4::int - $5::int),
        new_peers = merge_peers(c.new_peers, excluded.new_peers, $4::int - $5::int),
        updated_at = excluded.updated_at
    RETURNING c.dim, c.key, c.buckets, c.peers, c.new_peers
)
SELECT 'claim' AS kind, idempotency_key AS a, '' AS b, NULL::jsonb AS j FROM claimed
UNION ALL
SELECT 'counter', dim, key, jsonb_build_array(buckets, peers, new_peers) FROM up
UNION ALL
SELECT 'counter', c.dim, c.key, jsonb_build_array(c.buckets, c.peers, c.new_peers)
FROM (SELECT DISTINCT d, k FROM items) AS i
CROSS JOIN LATERAL (SELECT * FROM counters c WHERE c.dim = i.d AND c.key = i.k OFFSET 0) AS c
WHERE NOT EXISTS (SELECT 1 FROM up WHERE up.dim = i.d AND up.key = i.k)
UNION ALL
SELECT 'stats', account, '', jsonb_build_array(successful_recharges, successful_fen) FROM stats
UNION ALL
SELECT 'list', l.list, l.kind || ':' || l.value, NULL
FROM jsonb_to_recordset($6::jsonb) AS q(k text, v text)
CROSS JOIN LATERAL (SELECT * FROM list_entries l WHERE l.kind = q.k AND l.value = q.v
                      AND (l.expires_at IS NULL OR l.expires_at > now()) OFFSET 0) AS l
UNION ALL
SELECT 'lock', v.kind, v.value, NULL
FROM jsonb_to_recordset($7::jsonb) AS q(k text, v text)
CROSS JOIN LATERAL (SELECT * FROM voucher_failures v WHERE v.kind = q.k AND v.value = q.v
                      AND v.locked_until > now() OFFSET 0) AS v
"""


@dataclass(slots=True)
class Observed:
    """What OBSERVE found for a batch."""

    claimed: set[str] = field(default_factory=set)
    counters: dict[tuple[str, str], CounterState] = field(default_factory=dict)
    #: account -> (successful recharges, successful fen)
    stats: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: (list, "kind:value")
    listed: set[tuple[str, str]] = field(default_factory=set)
    #: (kind, value)
    locked: set[tuple[str, str]] = field(default_factory=set)


async def observe(
    conn: asyncpg.Connection,
    keys: Sequence[str],
    accounts: Sequence[str],
    items: Sequence[CounterItem],
    now_minute: int,
    horizon_minutes: int,
    list_queries: Sequence[tuple[str, str]],
    lock_queries: Sequence[tuple[str, str]],
) -> Observed:
    rows = await conn.fetch(
        OBSERVE, list(keys), list(accounts),
        [{"a": keys[it.attempt], "d": it.dim, "k": it.key, "m": it.amount, "p": it.peer} for it in items],
        now_minute, horizon_minutes,
        [{"k": k, "v": v} for k, v in list_queries], [{"k": k, "v": v} for k, v in lock_queries],
    )
    out = Observed()
    for kind, a, b, j in rows:
        if kind == "claim":
            out.claimed.add(a)
        elif kind == "counter":
            out.counters[(a, b)] = CounterState.from_row(j)
        elif kind == "stats":
            out.stats[a] = (int(j[0]), int(j[1]))
        elif kind == "list":
            out.listed.add((a, b))
        elif kind == "lock":
            out.locked.add((a, b))
    return out


_COLUMNS = {
    "decision_id": "uuid", "idempotency_key": "text", "action": "text", "channel_id": "text", "account_type": "text",
    "account_id": "text", "amount_fen": "bigint", "outcome": "text", "score": "int", "reason_code": "text",
    "rules_fired": "jsonb", "ruleset_version": "text", "inputs": "jsonb", "decided_at": "timestamptz",
    "shadow_ruleset_version": "text", "shadow_outcome": "text", "shadow_score": "int", "shadow_reason_code": "text",
    "shadow_rules_fired": "jsonb",
}

# Many decisions and their events in one statement (one JSON parameter: a record per decision, with its
# event's id and envelope in hex); a key decided before (a retried request, or a concurrent twin) keeps its
# first decision and emits nothing.
RECORD = f"""
WITH x AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb)
        AS x({", ".join(f"{c} {t}" for c, t in _COLUMNS.items())}, event_id uuid, envelope text)
),
d AS (
    INSERT INTO decisions ({", ".join(_COLUMNS)})
    SELECT {", ".join(_COLUMNS)} FROM x
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING decision_id, idempotency_key
),
o AS (
    INSERT INTO outbox (event_id, topic, key, event_type, envelope)
    SELECT x.event_id, $2, x.decision_id::text, $3, decode(x.envelope, 'hex')
    FROM x JOIN d USING (decision_id)
)
SELECT idempotency_key FROM d
"""


async def record(conn: asyncpg.Connection, decisions: list[dict[str, Any]], topic: str, event_type: str) -> set[str]:
    """Store decisions (one dict each: the decisions columns, `event_id` and `envelope` in hex) and their
    events; returns the keys stored."""
    rows = await conn.fetch(RECORD, decisions, topic, event_type)
    return {r["idempotency_key"] for r in rows}


async def decisions_by_key(conn: asyncpg.Connection, keys: Sequence[str]) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM decisions WHERE idempotency_key = ANY($1::text[])", list(keys))
    return {r["idempotency_key"]: r for r in rows}


# --- rule-sets -----------------------------------------------------------------------------------------

async def state(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM ruleset_state")


async def ruleset(conn: asyncpg.Connection, version: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM rulesets WHERE version = $1", version)


async def rulesets(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT r.version, r.digest, r.note, r.created_by, r.created_at,
                  EXISTS (SELECT 1 FROM ruleset_deployments d WHERE d.version = r.version) AS deployed
           FROM rulesets r ORDER BY version DESC LIMIT $1""", limit)


async def was_deployed(conn: asyncpg.Connection, version: int) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM ruleset_deployments WHERE version = $1)", version))


async def audit(conn: asyncpg.Connection, actor: str, action: str, subject: str, detail: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO admin_audit (actor, action, subject, detail) VALUES ($1, $2, $3, $4)",
                       actor, action, subject, detail)


async def lockout_row(conn: asyncpg.Connection, kind: str, value: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM voucher_failures WHERE kind = $1 AND value = $2", kind, value)


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


async def lock_subjects(conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The lockout rows of these subjects (created if new), locked in key order: two replicas touching one
    account, device, IP or channel serialise, and never deadlock. Call inside a transaction."""
    keys = sorted(set(keys))
    await conn.execute(
        """INSERT INTO voucher_failures (kind, value) SELECT * FROM unnest($1::text[], $2::text[]) ORDER BY 1, 2
           ON CONFLICT DO NOTHING""", [k for k, _ in keys], [v for _, v in keys])
    rows = await conn.fetch(
        """SELECT v.kind, v.value, v.failures, v.locked_until, v.guess_locked_until, v.cleared_at
           FROM unnest($1::text[], $2::text[]) AS q(kind, value)
           CROSS JOIN LATERAL (SELECT * FROM voucher_failures v WHERE v.kind = q.kind AND v.value = q.value
                               ORDER BY v.kind, v.value FOR UPDATE) AS v""",
        [k for k, _ in keys], [v for _, v in keys])
    return {(r["kind"], r["value"]): r for r in rows}


async def reserve_guesses(conn: asyncpg.Connection, guesses: Sequence[Guess], policy: LockoutPolicy,
                          channel_budget: int, now: float) -> dict[str, set[str]]:
    """Take the guesses' places in their subjects' counts (features.reserve_guesses), in one transaction; returns
    the guesses refused, with the kinds that refused them. A guess taken is recorded by its decision key, so
    that its outcome can confirm or release it."""
    if not guesses:
        return {}
    async with conn.transaction():
        found = await lock_subjects(conn, [s for g in guesses for s in g.subjects])
        rows = {k: GuessRow(list(r["failures"]), _ts(r["locked_until"]), _ts(r["guess_locked_until"]))
                for k, r in found.items()}
        refused = feat.reserve_guesses(rows, guesses, policy, channel_budget, now)
        taken = [g for g in guesses if g.key not in refused]
        if taken:
            touched = sorted({s for g in taken for s in g.subjects})
            keep = max(feat.MAX_FAILURES_KEPT, channel_budget, *policy.max_failures.values())
            await conn.executemany(
                """UPDATE voucher_failures SET failures = $3, guess_locked_until = $4, updated_at = now()
                   WHERE kind = $1 AND value = $2""",
                [(k, v, rows[(k, v)].failures[-keep:], _dt(rows[(k, v)].guess_locked_until)) for k, v in touched])
            await conn.executemany(
                """INSERT INTO pin_guesses (idempotency_key, at, subjects) VALUES ($1, $2, $3)
                   ON CONFLICT DO NOTHING""",
                [(g.key, now, [list(s) for s in g.subjects]) for g in taken])
    return refused


async def settle_guesses(conn: asyncpg.Connection, keys: Sequence[str]) -> dict[str, tuple[float,
                                                                                     list[tuple[str, str]]]]:
    """Forget the guesses of these decision keys (their outcome is known), locking them; returns each one's
    place (the time it was counted at, and its subjects). Call inside the transaction that applies the
    outcome."""
    rows = await conn.fetch(
        """DELETE FROM pin_guesses WHERE idempotency_key = ANY($1::text[]) RETURNING idempotency_key, at, subjects""",
        list(keys))
    return {r["idempotency_key"]: (r["at"], [(k, v) for k, v in r["subjects"]]) for r in rows}
