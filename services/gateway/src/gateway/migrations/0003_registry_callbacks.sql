-- The channel registry (issue 7): quotas and callback settings per channel, callback keys, key expiry for
-- rotations with an overlap, live gateway replicas (each takes its share of a channel's quota), and the
-- durable callback jobs with their attempt log.

-- Request quota: a token bucket of `rate_per_second` with room for `burst`, shared among the live replicas.
-- Callbacks: whether we send them, and where they may go (notify_url must start with one of the prefixes;
-- an empty list allows any http(s) URL).
ALTER TABLE channels
    ADD COLUMN rate_per_second        integer NOT NULL DEFAULT 50 CHECK (rate_per_second BETWEEN 1 AND 1000000),
    ADD COLUMN burst                  integer NOT NULL DEFAULT 100 CHECK (burst BETWEEN 1 AND 1000000),
    ADD COLUMN callbacks_enabled      boolean NOT NULL DEFAULT true,
    ADD COLUMN callback_url_prefixes  text[]  NOT NULL DEFAULT '{}';

-- Keys: 'hmac' and 'rsa' verify the channel's requests; 'callback' is the HMAC secret we sign our callbacks to
-- the channel with (we make it; the channel gets it once). A key past `expires_at` no longer counts: that is how
-- a rotation keeps the old key for an overlap without anyone having to come back and retire it.
ALTER TABLE channel_keys DROP CONSTRAINT channel_keys_kind_check;
ALTER TABLE channel_keys DROP CONSTRAINT channel_keys_check;
ALTER TABLE channel_keys
    ADD CONSTRAINT channel_keys_kind_check CHECK (kind IN ('hmac', 'rsa', 'callback')),
    ADD CONSTRAINT channel_keys_material_check CHECK (
        (kind IN ('hmac', 'callback') AND secret_ciphertext IS NOT NULL)
        OR (kind = 'rsa' AND public_key_pem IS NOT NULL)),
    ADD COLUMN expires_at timestamptz;

-- Gateway replicas alive (a heartbeat every few seconds): a replica's share of a channel's quota is 1/count.
CREATE TABLE gateway_replicas (
    replica_id  text PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    seen_at     timestamptz NOT NULL DEFAULT now()
);

-- One callback per final status an order reaches (SUCCEEDED, FAILED, REFUNDED, REJECTED). `body` is exactly what
-- is POSTed (each attempt signs it afresh). A newer final status of the same order supersedes an undelivered
-- older one. `lease_token`/`lease_until`: the replica delivering it now (another takes over once it lapses).
CREATE TABLE callbacks (
    callback_id      uuid        PRIMARY KEY,
    order_id         text        NOT NULL,
    channel_id       text        NOT NULL,
    status           text        NOT NULL,
    notify_url       text        NOT NULL,
    body             bytea       NOT NULL,
    event_id         uuid        NOT NULL UNIQUE,
    state            text        NOT NULL DEFAULT 'pending'
                                 CHECK (state IN ('pending', 'delivered', 'gave_up', 'superseded')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    -- what the next attempt is for: 'schedule', or 'resend:<staff id>' after a member of staff asked for it
    next_trigger     text        NOT NULL DEFAULT 'schedule',
    lease_token      uuid,
    lease_until      timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE state = 'pending';
CREATE INDEX callbacks_by_order ON callbacks (order_id, created_at);

-- Every delivery attempt, with what the channel answered (or why there was no answer).
CREATE TABLE callback_attempts (
    attempt_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    callback_id     uuid        NOT NULL REFERENCES callbacks (callback_id),
    attempt         integer     NOT NULL,
    trigger         text        NOT NULL,
    replica_id      text        NOT NULL,
    started_at      timestamptz NOT NULL,
    duration_ms     integer     NOT NULL,
    http_status     integer,
    error           text,
    response_excerpt text
);
CREATE INDEX callback_attempts_by_callback ON callback_attempts (callback_id, attempt_id);
