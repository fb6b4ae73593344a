-- One refund per order, of exactly what was paid, to the original payment path.
CREATE TABLE refunds (
    refund_id               uuid PRIMARY KEY,
    order_id                uuid   NOT NULL UNIQUE,
    channel_id              text   NOT NULL,
    payment_method          text   NOT NULL,
    payment_transaction_id  text   NOT NULL,
    amount_fen              bigint NOT NULL CHECK (amount_fen > 0),
    status                  text   NOT NULL CHECK (status IN ('REQUESTED', 'SUBMITTED', 'SETTLED', 'FAILED',
                                                              'CANCELLED')),
    reason_code             text   NOT NULL DEFAULT '',
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    settled_at              timestamptz
);
CREATE INDEX refunds_open ON refunds (status, created_at) WHERE status IN ('REQUESTED', 'SUBMITTED');
