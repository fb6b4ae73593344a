-- Where each periodic sync from BOSS stands (e.g. the ported-number publication: the last one seen).
CREATE TABLE sync_state (
    name        text PRIMARY KEY,
    cursor_at   timestamptz NOT NULL,
    cursor_key  text        NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
