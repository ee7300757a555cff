-- Listings page in arrival order, by ingest_seq (EventQueries.list), no longer by occurred_at: paging by time skipped
-- events that arrived late with an older time and stalled on more than a page of events with the same time.
-- Each filtered listing reads (filter column, ingest_seq) in order from the cursor on; an unfiltered one reads
-- ingest_seq itself (unique: the cursor names one event). occurred_at keeps an index of its own for ?since=, a filter
-- now: without it a first page with since would read every older event to find the first one that passes.
-- Six indexes, one more than before; each costs every projected event a write.
DROP INDEX IF EXISTS event_time_idx;
DROP INDEX IF EXISTS event_namespace_idx;
DROP INDEX IF EXISTS event_node_idx;
DROP INDEX IF EXISTS event_type_idx;
CREATE UNIQUE INDEX event_ingest_seq_idx ON event (ingest_seq);
CREATE INDEX event_time_idx      ON event (occurred_at);
CREATE INDEX event_namespace_idx ON event (namespace, ingest_seq);
CREATE INDEX event_node_idx      ON event (node, ingest_seq);
CREATE INDEX event_type_idx      ON event (type, ingest_seq);

-- A container's timeline is read in pages by keyset on its order (EventQueries.timeline): the index holds that order
-- for each subject. subject_id first, so that a listing with ?subjectId= (no kind) can use it too.
DROP INDEX IF EXISTS event_subject_idx;
CREATE INDEX event_subject_idx ON event (subject_id, subject_kind, namespace, node, incarnation, sequence, ingest_seq);

-- Writers take turns allocating ingest_seq (EventProjector.INGEST_ORDER_LOCK); that only orders the values if each
-- nextval comes from the sequence itself, not from values a connection cached before its turn.
ALTER SEQUENCE event_ingest_seq_seq CACHE 1;
