-- Every decision, with its inputs and the rule-set version that made it (audit). One decision per
-- attempt: the idempotency key (channel:channel_order_id) makes a retried request get the same decision.
CREATE TABLE decisions (
    decision_id      uuid PRIMARY KEY,
    idempotency_key  text        NOT NULL UNIQUE,
    action           text        NOT NULL,
    channel_id       text        NOT NULL,
    account_type     text        NOT NULL,
    account_id       text        NOT NULL,
    amount_fen       bigint      NOT NULL CHECK (amount_fen >= 0),
    outcome          text        NOT NULL CHECK (outcome IN ('ALLOW', 'CHALLENGE', 'REVIEW', 'DENY')),
    score            integer     NOT NULL,
    reason_code      text        NOT NULL DEFAULT '',
    rules_fired      jsonb       NOT NULL DEFAULT '[]',
    ruleset_version  text        NOT NULL,
    inputs           jsonb       NOT NULL,
    decided_at       timestamptz NOT NULL
);
CREATE INDEX decisions_account ON decisions (account_type, account_id, decided_at DESC);
