-- The trace context of the order a refund pays back (W3C traceparent/tracestate, from the order event that
-- asked for it), so the refund's calls to the provider, whenever they happen, stay in the order's trace.
ALTER TABLE refunds ADD COLUMN trace_context jsonb NOT NULL DEFAULT '{}'::jsonb;
