"""The BOSS adapter (gRPC + Kafka): carries out fulfilment at BOSS, idempotently, and never guesses."""
