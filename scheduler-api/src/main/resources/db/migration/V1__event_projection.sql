-- Every event any node published, once (event_id is the envelope's id), and what they add up to:
-- the observed state of each container and each node. Written only by the projector.

CREATE TABLE event (
    event_id        text        PRIMARY KEY,
    ingest_seq      bigserial   NOT NULL UNIQUE,      -- order of arrival here; stable tie-breaker for listings
    type            text        NOT NULL,
    schema_version  integer     NOT NULL,
    namespace       text,                             -- null for node events
    node            text        NOT NULL,
    subject_kind    text        NOT NULL,             -- container | image | node
    subject_id      text        NOT NULL,
    sequence        bigint      NOT NULL,             -- per subject, assigned by the node agent
    occurred_at     timestamptz NOT NULL,             -- the envelope's time
    payload         jsonb       NOT NULL,
    kafka_topic     text,
    kafka_partition integer,
    kafka_offset    bigint,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_subject_idx   ON event (subject_kind, subject_id, sequence);
CREATE INDEX event_time_idx      ON event (occurred_at, ingest_seq);
CREATE INDEX event_namespace_idx ON event (namespace, occurred_at);
CREATE INDEX event_node_idx      ON event (node, occurred_at);
CREATE INDEX event_type_idx      ON event (type, occurred_at);

CREATE TABLE container_state (
    namespace       text        NOT NULL,
    container_id    text        NOT NULL,
    node            text        NOT NULL,
    image           text,
    status          text        NOT NULL,             -- created | running | paused | exited | deleted
    exit_code       integer,
    signal          text,
    oom_killed      boolean,
    created_at      timestamptz,
    started_at      timestamptz,
    exited_at       timestamptz,
    last_sequence   bigint      NOT NULL,             -- sequence of the newest event applied; older ones never overwrite
    last_event_id   text        NOT NULL,
    last_event_type text        NOT NULL,
    updated_at      timestamptz NOT NULL,             -- time of the newest event applied
    projected_at    timestamptz NOT NULL,
    PRIMARY KEY (namespace, container_id)
);
CREATE INDEX container_state_node_idx ON container_state (node);

CREATE TABLE node_state (
    node               text        PRIMARY KEY,
    status             text        NOT NULL,          -- up | down
    agent_version      text,
    last_heartbeat_at  timestamptz,
    containers_running integer,
    last_sequence      bigint      NOT NULL,
    last_event_id      text        NOT NULL,
    last_event_type    text        NOT NULL,
    updated_at         timestamptz NOT NULL,
    projected_at       timestamptz NOT NULL
);
