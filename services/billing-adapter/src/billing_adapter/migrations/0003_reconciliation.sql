-- Reconciliation (对账) runs and what each found: the audit record of every comparison and repair.
CREATE TABLE reconciliation_runs (
    run_id        uuid PRIMARY KEY,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    repair        boolean     NOT NULL,
    started_by    text        NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    boss_transactions integer NOT NULL DEFAULT 0,
    our_operations    integer NOT NULL DEFAULT 0,
    CHECK (window_start < window_end)
);

CREATE TABLE reconciliation_items (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          uuid NOT NULL REFERENCES reconciliation_runs (run_id),
    kind            text NOT NULL CHECK (kind IN ('CREDITED_AT_BOSS_NOT_HERE', 'SUCCEEDED_HERE_MISSING_AT_BOSS',
                                                  'AMOUNT_MISMATCH', 'UNKNOWN_AT_US')),
    transaction_id  text NOT NULL,
    order_id        uuid,
    boss_status     text NOT NULL DEFAULT '',
    boss_amount_fen bigint,
    our_state       text NOT NULL DEFAULT '',
    our_amount_fen  bigint,
    action          text NOT NULL CHECK (action IN ('repaired', 'needs_review', 'reported')),
    detail          text NOT NULL DEFAULT ''
);
CREATE INDEX reconciliation_items_run ON reconciliation_items (run_id);
