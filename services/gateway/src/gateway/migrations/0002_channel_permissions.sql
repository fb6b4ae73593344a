-- What a channel may do beyond recharging: e.g. "balance" (query a subscriber's balance at BOSS).
ALTER TABLE channels ADD COLUMN permissions text[] NOT NULL DEFAULT '{}';
