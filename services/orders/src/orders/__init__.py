"""The order core (gRPC): catalog, pricing, the order state machine, idempotency and history."""
