-- Voucher PIN guesses are counted before their PIN is checked (so parallel wrong PINs cannot all be answered),
-- and a channel's PIN failures have a budget of their own, kept as a lockout subject.
ALTER TABLE voucher_failures DROP CONSTRAINT voucher_failures_kind_check;
ALTER TABLE voucher_failures ADD CONSTRAINT voucher_failures_kind_check
    CHECK (kind IN ('account', 'device', 'ip', 'channel'));
-- The lock the guesses still pending would cause if they all failed (recomputed when one is released).
ALTER TABLE voucher_failures ADD COLUMN guess_locked_until timestamptz;
-- When staff last lifted the subject's lockout: failures from before then are forgiven, even those whose event
-- arrives later.
ALTER TABLE voucher_failures ADD COLUMN cleared_at timestamptz;

-- A guess whose outcome is not known yet: its place in each subject's failures (`at`), kept until the outcome
-- releases it (a right PIN, or a PIN never checked) or confirms it (a wrong PIN). One that never hears of its
-- outcome stays counted: a failure, as far as the lockout is concerned.
CREATE TABLE pin_guesses (
    idempotency_key text             PRIMARY KEY,  -- the decision's key: channel:channel_order_id
    at              double precision NOT NULL,     -- unix seconds, as in voucher_failures.failures
    subjects        jsonb            NOT NULL,     -- [[kind, value], ...]
    created_at      timestamptz      NOT NULL DEFAULT now()
);
