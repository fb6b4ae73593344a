-- Decisions of the review desk, applied once each: a decision retried after a lost reply finds its row.
CREATE TABLE review_decisions (
    decision_id  text PRIMARY KEY,
    order_id     uuid NOT NULL REFERENCES orders (order_id),
    decision     text NOT NULL,
    actor_id     text NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now()
);
