-- Daily statements (对账单): the transitions into a status a channel is told of, by when they happened, so a
-- day's statement reads that day's rows only (the order rows are then fetched by their primary key).
CREATE INDEX order_history_statement ON order_history (at)
    WHERE to_status IN ('SUCCEEDED', 'FAILED', 'REFUNDED', 'REJECTED');
