-- Rules as data, the features the rules read, and shadow decisions.

-- Rule-set versions: immutable documents (validated before they are stored), numbered.
CREATE TABLE rulesets (
    version     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    body        jsonb       NOT NULL,
    digest      text        NOT NULL,
    note        text        NOT NULL DEFAULT '',
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Which version is live and which runs in shadow; every replica polls `generation` and reloads on change.
CREATE TABLE ruleset_state (
    id              boolean     PRIMARY KEY DEFAULT true CHECK (id),
    live_version    integer     NOT NULL REFERENCES rulesets,
    shadow_version  integer     REFERENCES rulesets,
    generation      bigint      NOT NULL DEFAULT 1,
    changed_at      timestamptz NOT NULL DEFAULT now(),
    changed_by      text        NOT NULL DEFAULT ''
);

-- The audit trail of deployments (who made which version live or shadow, when, why).
CREATE TABLE ruleset_deployments (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version     integer     REFERENCES rulesets,
    mode        text        NOT NULL CHECK (mode IN ('live', 'shadow', 'shadow_stopped')),
    actor       text        NOT NULL,
    note        text        NOT NULL DEFAULT '',
    at          timestamptz NOT NULL DEFAULT now()
);

-- The shadow version's decision on the same attempt (recorded, never enforced).
ALTER TABLE decisions
    ADD COLUMN shadow_ruleset_version text,
    ADD COLUMN shadow_outcome         text CHECK (shadow_outcome IN ('ALLOW', 'CHALLENGE', 'REVIEW', 'DENY')),
    ADD COLUMN shadow_score           integer,
    ADD COLUMN shadow_reason_code     text,
    ADD COLUMN shadow_rules_fired     jsonb;
CREATE INDEX decisions_shadow ON decisions (shadow_ruleset_version, decided_at)
    WHERE shadow_ruleset_version IS NOT NULL;

-- An attempt counts towards velocity once: the first time its idempotency key is decided. Kept for a day
-- (a retry later than that finds its decision in `decisions` and counts nothing either). Rows only ever
-- arrive in time order, so a BRIN index (a few pages, nearly free to maintain) finds the old ones.
CREATE TABLE claims (
    idempotency_key text        PRIMARY KEY,
    claimed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX claims_claimed_at ON claims USING brin (claimed_at);

-- Velocity counters: one row per (action:subject, value), e.g. ('recharge:payer', 'alipay:2088...').
--   buckets:   {"<unix minute>": [attempts, amount_fen]} for the last 24 hours
--   peers:     {"<account>": [last unix minute seen, the one before (0: none)]} (payer, device, ip)
--   new_peers: the same, for accounts that had never had a successful recharge when seen
CREATE TABLE counters (
    dim         text        NOT NULL,
    key         text        NOT NULL,
    buckets     jsonb       NOT NULL DEFAULT '{}',
    peers       jsonb       NOT NULL DEFAULT '{}',
    new_peers   jsonb       NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (dim, key)
) WITH (fillfactor = 80);
-- No index but the key: an update then stays on its page (HOT) and touches no index. The janitor finds stale
-- rows with a sequential scan, once a minute.

-- Adds `add`'s buckets to `old`'s and drops those at or before `horizon` (a unix minute).
CREATE FUNCTION merge_buckets(old jsonb, add jsonb, horizon integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(k, v), '{}'::jsonb)
    FROM (SELECT k, CASE WHEN a.v IS NULL THEN o.v
                         WHEN o.v IS NULL THEN a.v
                         ELSE jsonb_build_array((o.v ->> 0)::bigint + (a.v ->> 0)::bigint,
                                                (o.v ->> 1)::bigint + (a.v ->> 1)::bigint) END AS v
          FROM jsonb_each(old) AS o(k, v) FULL JOIN jsonb_each(add) AS a(k, v) USING (k)
          WHERE k::integer > horizon) AS merged
$$;

-- Marks `add`'s accounts ({"<account>": [minute, 0]}) as seen, keeping when each was seen before, and drops
-- accounts last seen at or before `horizon`. At most the 500 seen last are kept: distinct counts saturate
-- there (every shipped limit is far below), and a payer spraying thousands of numbers costs no more.
CREATE FUNCTION merge_peers(old jsonb, add jsonb, horizon integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(k, v), '{}'::jsonb)
    FROM (SELECT k, v
          FROM (SELECT k, CASE WHEN a.v IS NULL THEN o.v
                               ELSE jsonb_build_array(a.v -> 0, coalesce(o.v -> 0, '0'::jsonb)) END AS v
                FROM jsonb_each(old) AS o(k, v) FULL JOIN jsonb_each(add) AS a(k, v) USING (k)) AS merged
          WHERE (v ->> 0)::integer > horizon
          ORDER BY (v ->> 0)::integer DESC
          LIMIT 500) AS recent
$$;

-- Block and allow lists, with expiry (an expired entry is kept for the audit, and ignored).
CREATE TABLE list_entries (
    list        text        NOT NULL CHECK (list IN ('block', 'allow')),
    kind        text        NOT NULL CHECK (kind IN ('account', 'payer', 'device', 'ip', 'channel')),
    value       text        NOT NULL,
    expires_at  timestamptz,
    reason      text        NOT NULL DEFAULT '',
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (list, kind, value)
);
CREATE INDEX list_entries_lookup ON list_entries (kind, value);

-- Every change to lists, lockouts and rules by a person (who, what, when, why).
CREATE TABLE admin_audit (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    action      text        NOT NULL,
    subject     text        NOT NULL,
    detail      jsonb       NOT NULL DEFAULT '{}'
);

-- Successful recharges per account (from order events): first-recharge and trusted-account features.
CREATE TABLE account_stats (
    account               text        PRIMARY KEY,
    successful_recharges  integer     NOT NULL DEFAULT 0,
    successful_fen        bigint      NOT NULL DEFAULT 0,
    first_success_at      timestamptz,
    last_success_at       timestamptz
);

-- Failed voucher redemptions per account, device and IP (from voucher events), and the lockout they caused.
CREATE TABLE voucher_failures (
    kind          text        NOT NULL CHECK (kind IN ('account', 'device', 'ip')),
    value         text        NOT NULL,
    failures      double precision[] NOT NULL DEFAULT '{}',  -- unix seconds, ascending, the last 24 hours
    locked_until  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, value)
);
