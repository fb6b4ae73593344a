"""SQL of the risk engine (asyncpg). A batch of attempts costs two statements: `OBSERVE` (claim, count,
read every feature) and `RECORD` (store the decisions and their events)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from risk.domain.features import CounterItem, CounterState

# One statement for a whole batch of attempts:
#  1. claim each attempt's idempotency key (a key decided or claimed before counts nothing again);
#  2. add the claimed attempts to their counter rows, in key order (concurrent batches, from any replica,
#     serialise on the row locks in the same order: no lost update, no deadlock), returning the rows after;
#  3. read the other features: counter rows of unclaimed attempts, account history, list hits, lockouts.
OBSERVE = """
WITH claimed AS (
    INSERT INTO claims (idempotency_key)
    SELECT a.k FROM unnest($1::text[]) AS a(k)
    WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.idempotency_key = a.k)
    ORDER BY a.k
    ON CONFLICT DO NOTHING
    RETURNING idempotency_key
),
stats AS (
    SELECT account, successful_recharges, successful_fen FROM account_stats WHERE account = ANY($2::text[])
),
items AS (
    SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[])
        AS i(attempt, dim, key, amount, peer)
),
fresh AS (
    SELECT i.dim, i.key, count(*) AS n, sum(i.amount) AS amount,
           coalesce(jsonb_object_agg(i.peer, jsonb_build_array($8::int, 0)) FILTER (WHERE i.peer <> ''),
                    '{}') AS peers,
           coalesce(jsonb_object_agg(i.peer, jsonb_build_array($8::int, 0))
                        FILTER (WHERE i.peer <> '' AND coalesce(s.successful_recharges, 0) = 0), '{}') AS new_peers
    FROM items i
    JOIN claimed c ON c.idempotency_key = i.attempt
    LEFT JOIN stats s ON s.account = i.peer
    GROUP BY i.dim, i.key
),
up AS (
    INSERT INTO counters AS c (dim, key, buckets, peers, new_peers, updated_at)
    SELECT dim, key, jsonb_build_object($8::int, jsonb_build_array(n, amount)), peers, new_peers, now()
    FROM fresh
    ORDER BY dim, key
    ON CONFLICT (dim, key) DO UPDATE SET
        buckets = merge_buckets(c.buckets, excluded.buckets, $8::int - $9::int),
        peers = merge_peers(c.peers, excluded.peers, $8::int - $9::int),
        new_peers = merge_peers(c.new_peers, excluded.new_peers, $8::int - $9::int),
        updated_at = excluded.updated_at
    RETURNING c.dim, c.key, c.buckets, c.peers, c.new_peers
)
SELECT 'claim' AS kind, idempotency_key AS a, '' AS b, NULL::jsonb AS j FROM claimed
UNION ALL
SELECT 'counter', dim, key, jsonb_build_array(buckets, peers, new_peers) FROM up
UNION ALL
SELECT 'counter', c.dim, c.key, jsonb_build_array(c.buckets, c.peers, c.new_peers)
FROM counters c JOIN (SELECT DISTINCT dim, key FROM items) i ON c.dim = i.dim AND c.key = i.key
WHERE NOT EXISTS (SELECT 1 FROM up WHERE up.dim = c.dim AND up.key = c.key)
UNION ALL
SELECT 'stats', account, '', jsonb_build_array(successful_recharges, successful_fen) FROM stats
UNION ALL
SELECT 'list', l.list, l.kind || ':' || l.value, NULL
FROM list_entries l JOIN unnest($10::text[], $11::text[]) AS q(kind, value) ON l.kind = q.kind AND l.value = q.value
WHERE l.expires_at IS NULL OR l.expires_at > now()
UNION ALL
SELECT 'lock', v.kind, v.value, NULL
FROM voucher_failures v JOIN unnest($12::text[], $13::text[]) AS q(kind, value) ON v.kind = q.kind AND v.value = q.value
WHERE v.locked_until > now()
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
        [keys[it.attempt] for it in items], [it.dim for it in items], [it.key for it in items],
        [it.amount for it in items], [it.peer for it in items], now_minute, horizon_minutes,
        [k for k, _ in list_queries], [v for _, v in list_queries],
        [k for k, _ in lock_queries], [v for _, v in lock_queries],
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


DECISION_COLUMNS = (
    "decision_id", "idempotency_key", "action", "channel_id", "account_type", "account_id", "amount_fen",
    "outcome", "score", "reason_code", "rules_fired", "ruleset_version", "inputs", "decided_at",
    "shadow_ruleset_version", "shadow_outcome", "shadow_score", "shadow_reason_code", "shadow_rules_fired",
)
_TYPES = ("uuid", "text", "text", "text", "text", "text", "bigint", "text", "int", "text", "text", "text", "text",
          "timestamptz", "text", "text", "int", "text", "text")
_JSON = {"rules_fired", "inputs", "shadow_rules_fired"}
_N = len(DECISION_COLUMNS)

# Many decisions and their events in one statement; a key decided before (a retried request, or a concurrent
# twin) keeps its first decision and emits nothing. (JSON travels as text and is cast here: asyncpg would read a
# JSON list inside an array as a dimension.)
RECORD = f"""
WITH d AS (
    INSERT INTO decisions ({", ".join(DECISION_COLUMNS)})
    SELECT {", ".join(f"x.{c}::jsonb" if c in _JSON else f"x.{c}" for c in DECISION_COLUMNS)}
    FROM unnest({", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_TYPES))}) AS x({", ".join(DECISION_COLUMNS)})
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING decision_id, idempotency_key
),
o AS (
    INSERT INTO outbox (event_id, topic, key, event_type, envelope)
    SELECT e.event_id, e.topic, e.key, e.event_type, e.envelope
    FROM unnest(${_N + 1}::uuid[], ${_N + 2}::text[], ${_N + 3}::text[], ${_N + 4}::text[], ${_N + 5}::bytea[])
         AS e(event_id, topic, key, event_type, envelope)
    JOIN d ON d.decision_id::text = e.key
)
SELECT idempotency_key FROM d
"""


async def record(conn: asyncpg.Connection, columns: Sequence[list[Any]],
                 outbox: tuple[list[str], list[str], list[str], list[str], list[bytes]]) -> set[str]:
    """Store decisions (column arrays in DECISION_COLUMNS order) and their events; returns the keys stored."""
    rows = await conn.fetch(RECORD, *columns, *outbox)
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
