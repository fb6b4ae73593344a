-- A fulfilment the review desk stopped before any call to BOSS (a person is about to declare the order not
-- credited, or reject it): it is never worked on, and a request for the order arriving later finds it here.
ALTER TABLE fulfilments DROP CONSTRAINT fulfilments_state_check;
ALTER TABLE fulfilments ADD CONSTRAINT fulfilments_state_check
    CHECK (state IN ('pending', 'in_progress', 'succeeded', 'failed', 'unknown', 'cancelled'));
ALTER TABLE fulfilments ADD COLUMN cancelled_by text NOT NULL DEFAULT '';
