"""Prometheus metrics every service shares. Service-specific metrics live in the service.

Names follow Prometheus conventions (`_total`, `_seconds`); labels are bounded (no order ids).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

GRPC_HANDLED = Counter(
    "topup_grpc_server_handled_total", "gRPC calls handled, by method and status code", ["method", "code"]
)
GRPC_LATENCY = Histogram(
    "topup_grpc_server_handling_seconds", "gRPC handling time by method", ["method"], buckets=LATENCY_BUCKETS
)
EVENTS_CONSUMED = Counter(
    "topup_events_consumed_total",
    "Events seen by a consumer, by outcome (applied, duplicate, ignored, dead_lettered)",
    ["consumer", "event_type", "outcome"],
)
EVENT_HANDLING = Histogram(
    "topup_event_handling_seconds", "Time to apply one event", ["consumer", "event_type"], buckets=LATENCY_BUCKETS
)
CONSUMER_LAG = Gauge(
    "topup_consumer_lag_messages", "Messages behind the partition's high watermark", ["consumer", "topic", "partition"]
)
BATCH_FALLBACKS = Counter(
    "topup_consumer_batch_fallbacks_total",
    "Polls whose one-transaction application failed and were applied event by event instead", ["consumer"],
)
DEAD_LETTERED = Counter(
    "topup_events_dead_lettered_total", "Poison events sent to a dead-letter topic", ["consumer", "topic"]
)
OUTBOX_BACKLOG = Gauge("topup_outbox_backlog_events", "Outbox rows not yet published")
OUTBOX_OLDEST_AGE = Gauge("topup_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row")
OUTBOX_PUBLISHED = Counter("topup_outbox_published_total", "Outbox events published to Kafka", ["topic"])
OUTBOX_RELAY_LEADER = Gauge("topup_outbox_relay_leader", "1 while this replica holds the relay lock")


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Expose /metrics on its own port (a daemon thread), for the gRPC services."""
    if port:
        start_http_server(port, addr=host)
