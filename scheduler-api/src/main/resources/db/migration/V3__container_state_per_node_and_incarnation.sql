-- Container ids are unique per node and namespace, not cluster-wide: two nodes may each run default/web. Their
-- rows are told apart by node (each node numbers its own events), so the key is (namespace, container_id, node);
-- lookups by (namespace, container_id) still use its prefix.
ALTER TABLE container_state DROP CONSTRAINT container_state_pkey;
ALTER TABLE container_state ADD PRIMARY KEY (namespace, container_id, node);

-- Which life of the agent's store a sequence belongs to (the envelope's incarnation; 0 for agents that do not say):
-- a store made anew numbers from 1 again under a later incarnation, so order is (incarnation, sequence).
ALTER TABLE event ADD COLUMN incarnation bigint NOT NULL DEFAULT 0;
ALTER TABLE container_state ADD COLUMN incarnation bigint NOT NULL DEFAULT 0;
ALTER TABLE node_state ADD COLUMN incarnation bigint NOT NULL DEFAULT 0;
