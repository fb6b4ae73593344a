-- What was paid and what is promised back, per payment (DESIGN.md section 4, invariant 3: what is refunded
-- against a payment never exceeds what was paid). A payment here is what a provider refunds against: its
-- (method, transaction id), whichever channel or order named it. refunded_fen is the sum of its refunds not
-- cancelled (requested, at the provider, settled, or failed and left to finance). A refund is made only by
-- raising refunded_fen under this row's lock, and only while it stays within paid_fen; otherwise it is not
-- made and a person is told (a REFUND_REFUSED case).
CREATE TABLE payments (
    payment_method  text   NOT NULL,
    transaction_id  text   NOT NULL,
    -- what the payment paid: the paid_fen of the first order refunded against it (a payment split on purpose,
    -- DESIGN.md section 8, will bring its total with its members' orders)
    paid_fen        bigint NOT NULL CHECK (paid_fen > 0),
    refunded_fen    bigint NOT NULL DEFAULT 0 CHECK (refunded_fen >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (payment_method, transaction_id)
);
CREATE INDEX refunds_of_payment ON refunds (payment_method, payment_transaction_id);

-- Refunds made before the ledger. Each was of one order's paid_fen, so a payment's paid amount is taken as its
-- largest refund. A payment refunded past that (orders that shared it before one payment backed one order):
-- its refunds beyond the paid amount, in the order they were made, are cancelled where they never left (not
-- submitted, not leased), and each gets a case: cancelled (nothing is owed: close it), or sent already (the
-- payment may be refunded past what was paid: recover the excess). Those sent keep counting in refunded_fen,
-- which may then exceed paid_fen: such a payment takes no further refund.
WITH ranked AS (
    SELECT r.refund_id, r.order_id, r.channel_id, r.amount_fen, r.status, r.attempts, r.lease_until,
           sum(r.amount_fen) OVER (PARTITION BY r.payment_method, r.payment_transaction_id
                                   ORDER BY r.created_at, r.refund_id) AS running,
           max(r.amount_fen) OVER (PARTITION BY r.payment_method, r.payment_transaction_id) AS paid
    FROM refunds r WHERE r.status <> 'CANCELLED'
), excess AS (
    SELECT * FROM ranked WHERE running > paid
), cancelled AS (
    UPDATE refunds SET status = 'CANCELLED', reason_code = 'REFUND_EXCEEDS_PAYMENT', lease_owner = NULL,
                       lease_until = NULL, updated_at = now()
    FROM excess e
    WHERE refunds.refund_id = e.refund_id AND e.status = 'REQUESTED' AND e.attempts = 0
      AND (e.lease_until IS NULL OR e.lease_until < now())
    RETURNING refunds.refund_id
), logged AS (
    INSERT INTO refund_events (refund_id, from_status, to_status, what, detail, actor)
    SELECT refund_id, 'REQUESTED', 'CANCELLED', 'cancelled',
           'REFUND_EXCEEDS_PAYMENT: the payment was already refunded in full (found by the migration)', 'migration'
    FROM cancelled
), opened AS (
    INSERT INTO review_cases (case_id, kind, subject, path, order_id, refund_id, channel_id, amount_fen, reason_code,
                              detail)
    SELECT gen_random_uuid(), 'REFUND_REFUSED', e.order_id::text, 'note', e.order_id, e.refund_id, e.channel_id,
           e.amount_fen, 'REFUND_EXCEEDS_PAYMENT',
           CASE WHEN c.refund_id IS NOT NULL
                THEN format('refund %s of %s fen was cancelled before it left: the payment (%s fen) was already '
                            'refunded in full', e.refund_id, e.amount_fen, e.paid)
                ELSE format('refund %s of %s fen (%s) was made before refunds were capped per payment: the payment '
                            '(%s fen) may be refunded past what was paid; recover the excess', e.refund_id,
                            e.amount_fen, e.status, e.paid) END
    FROM excess e LEFT JOIN cancelled c ON c.refund_id = e.refund_id
    ON CONFLICT (kind, subject) WHERE status <> 'RESOLVED' DO NOTHING
    RETURNING case_id, detail
)
INSERT INTO review_actions (action_id, case_id, action, actor_kind, actor_id, reason)
SELECT gen_random_uuid(), case_id, 'opened', 'service', 'migration', 'REFUND_EXCEEDS_PAYMENT: ' || detail FROM opened;

INSERT INTO payments (payment_method, transaction_id, paid_fen, refunded_fen)
SELECT payment_method, payment_transaction_id, max(amount_fen),
       coalesce(sum(amount_fen) FILTER (WHERE status <> 'CANCELLED'), 0)
FROM refunds GROUP BY payment_method, payment_transaction_id;
