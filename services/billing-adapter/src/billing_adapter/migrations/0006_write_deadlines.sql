-- The latest deadline sent to BOSS with a write of this operation (`X-Request-Deadline`: BOSS applies a write
-- before it or never). Stored before each write is sent, so whoever holds the job later knows until when an
-- earlier write, whose answer was lost, could still land: a failure is only concluded after that.
ALTER TABLE operations ADD COLUMN write_deadline timestamptz;
