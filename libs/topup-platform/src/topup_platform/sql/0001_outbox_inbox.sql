-- Transactional outbox: rows written in the same transaction as the state change they announce; the
-- relay publishes them to Kafka in id order and deletes them once the broker has acknowledged.
CREATE TABLE outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    uuid        NOT NULL,
    topic       text        NOT NULL,
    key         text        NOT NULL,
    event_type  text        NOT NULL,
    envelope    bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Inbox: the event ids a consumer has already applied. Inserting the id in the same transaction as the
-- effect turns at-least-once delivery into exactly-once effects.
CREATE TABLE inbox (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX inbox_processed_at ON inbox (processed_at);
