-- The trace context of the order a job fulfils (W3C traceparent/tracestate, from its FulfilmentRequested), so
-- work on the job, whenever and wherever it resumes (a retry, another replica), stays in the order's trace.
ALTER TABLE fulfilments ADD COLUMN trace_context jsonb NOT NULL DEFAULT '{}'::jsonb;
