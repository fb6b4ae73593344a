"""Event envelopes and topic names.

Topics are `topup.<domain>.events.v1`; events are past-tense facts; the key is the aggregate id.
"""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf.message import Message

from topup.events.v1 import envelope_pb2
from topup_platform import telemetry
from topup_platform.ids import new_id_str
from topup_platform.timeutil import to_timestamp, utcnow

ORDERS_TOPIC = "topup.orders.events.v1"
BILLING_TOPIC = "topup.billing.events.v1"
RISK_TOPIC = "topup.risk.events.v1"
REFUNDS_TOPIC = "topup.refunds.events.v1"
VOUCHERS_TOPIC = "topup.vouchers.events.v1"
ALL_TOPICS = (ORDERS_TOPIC, BILLING_TOPIC, RISK_TOPIC, REFUNDS_TOPIC, VOUCHERS_TOPIC)


def dead_letter_topic(topic: str, consumer: str) -> str:
    return f"{topic}.dlq.{consumer}"


def type_name(message: Message | type[Message]) -> str:
    return message.DESCRIPTOR.full_name


def make_envelope(
    payload: Message, *, aggregate_type: str, aggregate_id: str, producer: str,
    trace_context: Mapping[str, str] | None = None,
) -> envelope_pb2.EventEnvelope:
    """An event with a fresh id, carrying `trace_context` (by default the current span's)."""
    envelope = envelope_pb2.EventEnvelope(
        event_id=new_id_str(),
        event_type=type_name(payload),
        occurred_at=to_timestamp(utcnow()),
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        trace_context=telemetry.inject_context() if trace_context is None else trace_context,
        producer=producer,
    )
    envelope.payload.Pack(payload)
    return envelope


def kafka_headers(envelope: envelope_pb2.EventEnvelope) -> list[tuple[str, bytes]]:
    headers = [("event_id", envelope.event_id.encode()), ("event_type", envelope.event_type.encode())]
    headers += [(k, v.encode()) for k, v in envelope.trace_context.items()]
    return headers
