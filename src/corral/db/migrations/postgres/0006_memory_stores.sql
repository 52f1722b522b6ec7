-- Memory stores (corral.memory): a store's memories are small text documents (at most 100 kB each), kept in their
-- rows. `memories` holds each memory's current state, `memory_versions` every change ever made (created, modified,
-- deleted), which outlives the memory; redaction nulls a version's path and content. `path` is unique in a store
-- and compared as code points (byte order here, COLLATE "C" on PostgreSQL), which is the order lists use.
-- `actor_type` / `actor_id` are who made (or redacted) a version: api_actor + the API key's id, or NULL.
CREATE TABLE memory_stores (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX memory_stores_by_workspace ON memory_stores (workspace_id, created_at, id);

CREATE TABLE memories (
    id TEXT COLLATE "C" PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES memory_stores (id),
    path TEXT COLLATE "C" NOT NULL,
    content TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    content_size_bytes BIGINT NOT NULL,
    version_id TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX memories_by_path ON memories (store_id, path);

CREATE TABLE memory_versions (
    id TEXT COLLATE "C" PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES memory_stores (id),
    memory_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    path TEXT COLLATE "C",
    content TEXT,
    content_sha256 TEXT,
    content_size_bytes BIGINT,
    actor_type TEXT,
    actor_id TEXT,
    created_at TEXT COLLATE "C" NOT NULL,
    redacted_at TEXT,
    redactor_type TEXT,
    redactor_id TEXT
);
CREATE INDEX memory_versions_by_store ON memory_versions (store_id, created_at, id);
CREATE INDEX memory_versions_by_memory ON memory_versions (memory_id, created_at, id)
