-- The watchdog (issue 13): when it last asked again for an order's next step, and how many times since the
-- order's last progress (its backoff).
ALTER TABLE orders ADD COLUMN redriven_at timestamptz, ADD COLUMN redrives integer NOT NULL DEFAULT 0;
-- paid orders that failed or were rejected wait for their refund: the watchdog looks at them too
CREATE INDEX orders_awaiting_refund ON orders (updated_at) WHERE status IN ('FAILED', 'REJECTED');
