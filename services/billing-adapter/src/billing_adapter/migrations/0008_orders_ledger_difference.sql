-- Reconciliation compares BOSS's ledger with the orders' too (issue 13): an order BOSS credited in full, as we
-- recorded, that is not SUCCEEDED.
ALTER TABLE reconciliation_items DROP CONSTRAINT reconciliation_items_kind_check;
ALTER TABLE reconciliation_items ADD CONSTRAINT reconciliation_items_kind_check
    CHECK (kind IN ('CREDITED_AT_BOSS_NOT_HERE', 'SUCCEEDED_HERE_MISSING_AT_BOSS', 'AMOUNT_MISMATCH', 'UNKNOWN_AT_US',
                    'CREDITED_AT_BOSS_ORDER_NOT_SUCCEEDED'));
