-- ingest_seq comes from its own sequence, so it is unique without an index to say so; listings order by
-- (occurred_at, ingest_seq), which event_time_idx serves. One index less to maintain on every projected event.
ALTER TABLE event DROP CONSTRAINT IF EXISTS event_ingest_seq_key;
