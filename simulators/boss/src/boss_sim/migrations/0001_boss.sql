CREATE TABLE subscribers (
    account_type  text    NOT NULL,
    account_id    text    NOT NULL,
    status        text    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    balance_fen   bigint  NOT NULL DEFAULT 0,
    data_mb       bigint  NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_type, account_id)
);

-- Keyed by the caller's transaction id: a repeated id returns the first result and never credits twice.
CREATE TABLE transactions (
    transaction_id  text PRIMARY KEY,
    operation       text   NOT NULL CHECK (operation IN ('credit', 'data_pack')),
    account_type    text   NOT NULL,
    account_id      text   NOT NULL,
    amount_fen      bigint NOT NULL DEFAULT 0,
    pack_code       text   NOT NULL DEFAULT '',
    data_mb         bigint NOT NULL DEFAULT 0,
    result_code     text   NOT NULL,
    status          text   NOT NULL CHECK (status IN ('SUCCESS', 'FAILED')),
    boss_serial     text   NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX transactions_created ON transactions (created_at, transaction_id);

-- How many times each transaction id met "busy" (sandbox 18600000003: busy twice, then credits).
CREATE TABLE busy_counts (
    transaction_id text PRIMARY KEY,
    count          integer NOT NULL
);

-- Numbers ported between carriers (携号转网), published to operators' systems.
CREATE TABLE ported_numbers (
    number     text PRIMARY KEY,
    carrier    text NOT NULL,
    ported_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ported_numbers (number, carrier, ported_at) VALUES
    ('13800138000', 'unicom',        '2025-03-01T00:00:00Z'),  -- issued by China Mobile, now Unicom
    ('18699999999', 'china_mobile',  '2025-06-01T00:00:00Z');  -- issued by Unicom, ported away
