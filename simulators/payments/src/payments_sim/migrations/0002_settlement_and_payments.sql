-- Settlement as providers do it: a refund accepted now settles (or is refused) later, and the merchant is
-- told by a signed notice to its notify URL, retried until it answers 2xx; the status query always works.
ALTER TABLE refunds
    ADD COLUMN notify_url        text NOT NULL DEFAULT '',
    -- a refund accepted now that the provider will refuse at settlement (REFUND_ABNORMAL: e.g. card closed)
    ADD COLUMN reject_at_settlement text NOT NULL DEFAULT '',
    ADD COLUMN notice_state      text NOT NULL DEFAULT 'NONE'
        CHECK (notice_state IN ('NONE', 'PENDING', 'DELIVERED', 'GAVE_UP', 'DROPPED')),
    ADD COLUMN notice_attempts   int  NOT NULL DEFAULT 0,
    ADD COLUMN next_notice_at    timestamptz;
CREATE INDEX refunds_to_settle ON refunds (settle_at) WHERE status = 'ACCEPTED';
CREATE INDEX refunds_to_notify ON refunds (next_notice_at) WHERE notice_state = 'PENDING';

-- Original payments the provider knows. A refund of a known payment may not exceed what is left of it;
-- a transaction the simulator was never told of is taken as paid (a sandbox's leniency), unless its id
-- names a sandbox outcome (see app.py).
CREATE TABLE payments (
    provider        text   NOT NULL,
    transaction_id  text   NOT NULL,
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    paid_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, transaction_id)
);
CREATE INDEX refunds_by_transaction ON refunds (provider, transaction_id);
