-- The writes sent for each operation, counted before each one is sent (in the statement that checks the lease
-- and stores its deadline): the retry budget (1 + retries) holds across restarts, lease changes and an open
-- breaker, and a write the breaker kept back (never sent) is not counted. `fulfilments.attempts` is now counted
-- the same way (all operations together). Operations already under way count the writes their log shows.
ALTER TABLE operations ADD COLUMN writes integer NOT NULL DEFAULT 0 CHECK (writes >= 0);
UPDATE operations o SET writes = (SELECT count(*) FROM attempts a
                                  WHERE a.order_id = o.order_id AND a.transaction_id = o.transaction_id
                                    AND a.kind <> 'status_query');
