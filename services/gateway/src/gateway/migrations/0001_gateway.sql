-- The gateway keeps no domain state of its own beyond channels, their keys, and nonces.

CREATE TABLE channels (
    channel_id  text PRIMARY KEY CHECK (channel_id ~ '^[a-z0-9][a-z0-9_-]{1,63}$'),
    name        text        NOT NULL,
    enabled     boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A channel's credentials. HMAC secrets are stored only encrypted (AES-256-GCM under the master key, with
-- the channel and key id as associated data). Two active keys at once give a rotation its overlap.
CREATE TABLE channel_keys (
    channel_id         text        NOT NULL REFERENCES channels (channel_id),
    key_id             text        NOT NULL,
    kind               text        NOT NULL CHECK (kind IN ('hmac', 'rsa')),
    secret_ciphertext  bytea,
    public_key_pem     text,
    status             text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    retired_at         timestamptz,
    PRIMARY KEY (channel_id, key_id),
    CHECK ((kind = 'hmac' AND secret_ciphertext IS NOT NULL) OR (kind = 'rsa' AND public_key_pem IS NOT NULL))
);

-- Nonces seen within the replay window (kept twice the window, then purged).
CREATE TABLE nonces (
    channel_id  text        NOT NULL,
    nonce       text        NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, nonce)
);
CREATE INDEX nonces_seen_at ON nonces (seen_at);
