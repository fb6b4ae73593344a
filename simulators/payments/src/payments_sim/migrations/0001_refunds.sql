-- Refunds as a provider keeps them: idempotent by the merchant's refund id, settled asynchronously.
CREATE TABLE refunds (
    provider          text   NOT NULL,
    refund_id         text   NOT NULL,
    transaction_id    text   NOT NULL,
    amount_fen        bigint NOT NULL CHECK (amount_fen > 0),
    status            text   NOT NULL CHECK (status IN ('ACCEPTED', 'SETTLED', 'REJECTED')),
    reject_reason     text   NOT NULL DEFAULT '',
    provider_refund_no text  NOT NULL,
    accepted_at       timestamptz NOT NULL DEFAULT now(),
    settle_at         timestamptz NOT NULL,
    settled_at        timestamptz,
    PRIMARY KEY (provider, refund_id)
);
