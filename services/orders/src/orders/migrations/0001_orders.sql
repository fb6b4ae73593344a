-- The order core's schema. Money is integer fen (bigint) everywhere.

CREATE TABLE products (
    sku             text PRIMARY KEY,
    kind            text    NOT NULL CHECK (kind IN ('call_credit', 'data_pack', 'combo', 'broadband_credit')),
    name            text    NOT NULL,
    account_type    text    NOT NULL CHECK (account_type IN ('mobile', 'broadband')),
    face_value_fen  bigint  NOT NULL CHECK (face_value_fen >= 0),
    data_mb         integer NOT NULL DEFAULT 0 CHECK (data_mb >= 0),
    validity_days   integer NOT NULL DEFAULT 0 CHECK (validity_days >= 0),
    pack_code       text,
    list_price_fen  bigint  NOT NULL CHECK (list_price_fen > 0),
    active          boolean NOT NULL DEFAULT true,
    CHECK (face_value_fen > 0 OR pack_code IS NOT NULL)
);

-- What each channel may sell, at what price (a channel may sell below face value).
CREATE TABLE channel_prices (
    channel_id  text    NOT NULL,
    sku         text    NOT NULL REFERENCES products (sku),
    price_fen   bigint  NOT NULL CHECK (price_fen > 0),
    active      boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, sku)
);

-- The number-routing table: segment (号段) -> carrier it was issued to; broadband rows are keyed "bb:<area code>".
CREATE TABLE carrier_segments (
    segment text PRIMARY KEY,
    carrier text NOT NULL
);

-- Ported numbers (携号转网), synced from what BOSS publishes; an override wins over the segment.
CREATE TABLE ported_numbers (
    number     text PRIMARY KEY,
    carrier    text NOT NULL,
    ported_at  timestamptz NOT NULL,
    synced_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    order_id               uuid PRIMARY KEY,
    channel_id             text   NOT NULL,
    channel_order_id       text   NOT NULL,
    request_hash           bytea  NOT NULL,
    account_type           text   NOT NULL CHECK (account_type IN ('mobile', 'broadband')),
    account_id             text   NOT NULL,
    sku                    text   NOT NULL REFERENCES products (sku),
    face_value_fen         bigint NOT NULL CHECK (face_value_fen >= 0),
    price_fen              bigint NOT NULL CHECK (price_fen >= 0),
    payment_method         text   NOT NULL,
    payment_transaction_id text   NOT NULL,
    paid_fen               bigint NOT NULL CHECK (paid_fen >= 0),
    payer_account          text   NOT NULL DEFAULT '',
    notify_url             text   NOT NULL DEFAULT '',
    status                 text   NOT NULL CHECK (status IN
                               ('PENDING', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'REFUNDED', 'UNDER_REVIEW', 'REJECTED')),
    status_reason_code     text   NOT NULL DEFAULT '',
    risk_decision_id       text   NOT NULL DEFAULT '',
    risk_outcome           text   NOT NULL,
    -- The response given to the first request (a serialized topup.orders.v1.Order), replayed to retries.
    first_response         bytea  NOT NULL,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    CONSTRAINT orders_channel_order_unique UNIQUE (channel_id, channel_order_id)
);
CREATE INDEX orders_account ON orders (account_type, account_id, created_at DESC);
CREATE INDEX orders_open ON orders (status, updated_at) WHERE status IN ('PENDING', 'PROCESSING', 'UNDER_REVIEW');

-- Every transition of every order: who or what caused it, when, why.
CREATE TABLE order_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id     uuid NOT NULL REFERENCES orders (order_id),
    from_status  text,
    to_status    text NOT NULL,
    transition   text NOT NULL,
    reason_code  text NOT NULL DEFAULT '',
    reason       text NOT NULL DEFAULT '',
    actor_kind   text NOT NULL,
    actor_id     text NOT NULL,
    at           timestamptz NOT NULL
);
CREATE INDEX order_history_order ON order_history (order_id, id);
