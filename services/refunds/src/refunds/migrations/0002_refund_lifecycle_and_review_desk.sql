-- A refund's life at the provider, its deadline on the working-day calendar, and its own audit trail.
ALTER TABLE refunds
    ADD COLUMN failure_confirmed_at  timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN deadline_at           timestamptz NOT NULL DEFAULT now() + interval '1 day',
    ADD COLUMN deadline_breached_at  timestamptz,
    ADD COLUMN attempts              int  NOT NULL DEFAULT 0,   -- submissions to the provider
    ADD COLUMN polls                 int  NOT NULL DEFAULT 0,   -- status queries since the last submission
    ADD COLUMN next_attempt_at       timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN lease_owner           text,
    ADD COLUMN lease_until           timestamptz,
    ADD COLUMN provider_refund_no    text NOT NULL DEFAULT '',
    ADD COLUMN last_error            text NOT NULL DEFAULT '',
    -- provider | manual (paid back by finance outside the provider, with a reference)
    ADD COLUMN settled_by            text NOT NULL DEFAULT '',
    ADD COLUMN manual_reference      text NOT NULL DEFAULT '';
ALTER TABLE refunds ALTER COLUMN deadline_at DROP DEFAULT;
DROP INDEX refunds_open;
CREATE INDEX refunds_due ON refunds (next_attempt_at) WHERE status IN ('REQUESTED', 'SUBMITTED');
CREATE INDEX refunds_by_deadline ON refunds (deadline_at) WHERE status IN ('REQUESTED', 'SUBMITTED', 'FAILED');

CREATE TABLE refund_events (
    id           bigserial PRIMARY KEY,
    refund_id    uuid NOT NULL REFERENCES refunds,
    at           timestamptz NOT NULL DEFAULT now(),
    from_status  text NOT NULL,
    to_status    text NOT NULL,
    what         text NOT NULL,
    detail       text NOT NULL DEFAULT '',
    actor        text NOT NULL
);
CREATE INDEX refund_events_of ON refund_events (refund_id, id);

-- The working-day calendar, one row per configured year (the State Council publishes each year's holidays
-- and make-up working days 调休 in the autumn before). A year without a row counts weekends only.
CREATE TABLE calendar_years (
    year              int PRIMARY KEY CHECK (year BETWEEN 2000 AND 2100),
    holidays          date[] NOT NULL,
    working_weekends  date[] NOT NULL,
    updated_by        text   NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号)
INSERT INTO calendar_years (year, holidays, working_weekends, updated_by) VALUES
(2025,
 ARRAY['2025-01-01', '2025-01-28', '2025-01-29', '2025-01-30', '2025-01-31', '2025-02-03', '2025-02-04',
       '2025-04-04', '2025-05-01', '2025-05-02', '2025-05-05', '2025-06-02', '2025-10-01', '2025-10-02',
       '2025-10-03', '2025-10-06', '2025-10-07', '2025-10-08']::date[],
 ARRAY['2025-01-26', '2025-02-08', '2025-04-27', '2025-09-28', '2025-10-11']::date[],
 'migration'),
-- 国务院办公厅关于2026年部分节假日安排的通知
(2026,
 ARRAY['2026-01-01', '2026-01-02', '2026-02-16', '2026-02-17', '2026-02-18', '2026-02-19', '2026-02-20',
       '2026-02-23', '2026-04-06', '2026-05-01', '2026-05-04', '2026-05-05', '2026-06-19', '2026-09-25',
       '2026-10-01', '2026-10-02', '2026-10-05', '2026-10-06', '2026-10-07']::date[],
 ARRAY['2026-01-04', '2026-02-14', '2026-02-28', '2026-05-09', '2026-09-20', '2026-10-10']::date[],
 'migration');

-- The manual review desk (人工复核): one open case per subject (an order, a refund, a discrepancy).
CREATE TABLE review_cases (
    case_id          uuid PRIMARY KEY,
    -- ORDER_UNDER_REVIEW | REFUND_FAILED | RECONCILIATION_DISCREPANCY | REFUND_AFTER_CREDIT
    kind             text NOT NULL,
    subject          text NOT NULL,
    -- held | ambiguous | refund_rejected | refund_exhausted | note: which actions can resolve it
    path             text NOT NULL,
    status           text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'AWAITING_SECOND_APPROVAL', 'RESOLVED')),
    order_id         uuid,
    refund_id        uuid,
    channel_id       text   NOT NULL DEFAULT '',
    amount_fen       bigint NOT NULL DEFAULT 0,
    reason_code      text   NOT NULL DEFAULT '',
    detail           text   NOT NULL DEFAULT '',
    assignee         text   NOT NULL DEFAULT '',
    opened_at        timestamptz NOT NULL DEFAULT now(),
    proposed_action  text   NOT NULL DEFAULT '',
    proposed_by      text   NOT NULL DEFAULT '',
    proposed_reason  text   NOT NULL DEFAULT '',
    proposed_reference text NOT NULL DEFAULT '',
    resolution       text   NOT NULL DEFAULT '',
    resolved_by      text   NOT NULL DEFAULT '',
    resolved_at      timestamptz,
    version          int    NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX review_cases_one_open ON review_cases (kind, subject) WHERE status <> 'RESOLVED';
CREATE INDEX review_cases_queue ON review_cases (opened_at, case_id) WHERE status <> 'RESOLVED';
CREATE INDEX review_cases_list ON review_cases (opened_at DESC, case_id DESC);
CREATE INDEX review_cases_of_order ON review_cases (order_id);

-- Every action on a case: who, in which role, when, why, and the case before and after.
CREATE TABLE review_actions (
    action_id    uuid PRIMARY KEY,
    case_id      uuid NOT NULL REFERENCES review_cases,
    action       text NOT NULL,
    actor_kind   text NOT NULL,
    actor_id     text NOT NULL,
    role         text NOT NULL DEFAULT '',
    at           timestamptz NOT NULL DEFAULT now(),
    reason       text NOT NULL DEFAULT '',
    before       jsonb,
    after        jsonb
);
CREATE INDEX review_actions_of ON review_actions (case_id, at);
