-- One fulfilment per order (the job), its BOSS operations, and every attempt made (the attempt log).
CREATE TABLE fulfilments (
    order_id         uuid PRIMARY KEY,
    channel_id       text        NOT NULL,
    account_type     text        NOT NULL,
    account_id       text        NOT NULL,
    sku              text        NOT NULL,
    state            text        NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'in_progress', 'succeeded', 'failed', 'unknown')),
    attempts         integer     NOT NULL DEFAULT 0,
    status_queries   integer     NOT NULL DEFAULT 0,
    started          boolean     NOT NULL DEFAULT false,
    reason_code      text        NOT NULL DEFAULT '',
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_owner      text,
    lease_until      timestamptz,
    requested_at     timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fulfilments_due ON fulfilments (next_attempt_at) WHERE state IN ('pending', 'in_progress');

CREATE TABLE operations (
    transaction_id  text PRIMARY KEY,
    order_id        uuid    NOT NULL REFERENCES fulfilments (order_id),
    seq             integer NOT NULL,
    kind            text    NOT NULL CHECK (kind IN ('credit', 'data_pack')),
    amount_fen      bigint  NOT NULL DEFAULT 0 CHECK (amount_fen >= 0),
    pack_code       text    NOT NULL DEFAULT '',
    state           text    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'succeeded', 'failed')),
    result_code     text    NOT NULL DEFAULT '',
    boss_serial     text    NOT NULL DEFAULT '',
    UNIQUE (order_id, seq)
);

CREATE TABLE attempts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id        uuid    NOT NULL,
    transaction_id  text    NOT NULL,
    number          integer NOT NULL,
    kind            text    NOT NULL CHECK (kind IN ('credit', 'data_pack', 'status_query')),
    outcome         text    NOT NULL CHECK (outcome IN ('success', 'terminal_failure', 'retryable', 'unknown',
                                                        'not_found')),
    provider_code   text    NOT NULL DEFAULT '',
    latency_ms      integer NOT NULL,
    error           text    NOT NULL DEFAULT '',
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attempts_order ON attempts (order_id, id);
