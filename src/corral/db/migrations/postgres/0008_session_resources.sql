-- Session resources (corral.api resources, corral.vault.resource_tokens). The resources themselves live in the
-- session's doc (`doc.resources`, the wire objects); two things do not:
-- * `session_memory_stores` indexes which sessions attach which memory store (`GET /v1/sessions?memory_store_id=`);
--   written with the session (stores attach at creation only) and deleted with it.
-- * `session_resource_tokens` holds each github_repository resource's `authorization_token`, sealed like a vault
--   credential's secret (`key_id` names the master key that wrapped the data key `wrapped_key`, which sealed
--   `ciphertext`; the resource id is the associated data). Deleted with its resource or its session.
CREATE TABLE session_memory_stores (
    session_id TEXT NOT NULL,
    memory_store_id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    PRIMARY KEY (memory_store_id, session_id)
);
CREATE INDEX session_memory_stores_by_session ON session_memory_stores (session_id);

CREATE TABLE session_resource_tokens (
    resource_id TEXT COLLATE "C" PRIMARY KEY,
    session_id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    wrapped_key TEXT NOT NULL,
    ciphertext TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX session_resource_tokens_by_session ON session_resource_tokens (session_id);
CREATE INDEX session_resource_tokens_by_key ON session_resource_tokens (key_id)
