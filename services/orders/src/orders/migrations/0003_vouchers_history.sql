-- Voucher cards (卡券). PINs are never stored: only a keyed hash (HMAC-SHA256 under a key held outside the
-- database), unique, so a redemption finds its card by the PIN alone.
CREATE SEQUENCE voucher_batch_no START 100001;

CREATE TABLE voucher_batches (
    batch_id        uuid PRIMARY KEY,
    batch_no        integer     NOT NULL UNIQUE,
    sku             text        NOT NULL REFERENCES products (sku),
    face_value_fen  bigint      NOT NULL CHECK (face_value_fen >= 0),
    count           integer     NOT NULL CHECK (count BETWEEN 1 AND 100000),
    expires_at      timestamptz NOT NULL,
    pin_key_id      text        NOT NULL,
    note            text        NOT NULL DEFAULT '',
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vouchers (
    card_number       text PRIMARY KEY,
    batch_id          uuid        NOT NULL REFERENCES voucher_batches (batch_id),
    serial            integer     NOT NULL,
    pin_hash          bytea       NOT NULL UNIQUE,
    state             text        NOT NULL CHECK (state IN ('created', 'active', 'redeeming', 'redeemed', 'frozen',
                                                            'expired', 'void')),
    order_id          uuid,
    expires_at        timestamptz NOT NULL,
    state_changed_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (batch_id, serial)
);
CREATE INDEX vouchers_expiring ON vouchers (expires_at) WHERE state IN ('created', 'active', 'frozen');

-- Every change of every card: who or what, when, why.
CREATE TABLE voucher_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    card_number  text        NOT NULL,
    from_state   text,
    to_state     text        NOT NULL,
    transition   text        NOT NULL,
    actor_kind   text        NOT NULL,
    actor_id     text        NOT NULL,
    reason       text        NOT NULL DEFAULT '',
    order_id     uuid,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX voucher_history_card ON voucher_history (card_number, id);

ALTER TABLE orders ADD COLUMN voucher_card_number text;

-- History (F12): newest first, by channel and account, or across channels.
CREATE INDEX orders_channel_account_recent ON orders (channel_id, account_type, account_id, created_at DESC, order_id DESC);
CREATE INDEX orders_recent ON orders (created_at DESC, order_id DESC);
DROP INDEX orders_account;
CREATE INDEX orders_account_recent ON orders (account_type, account_id, created_at DESC, order_id DESC);
