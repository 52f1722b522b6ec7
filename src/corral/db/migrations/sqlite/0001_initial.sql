-- corral schema v1 (SQLite). Timestamps: RFC 3339 text. Lease clocks: epoch seconds (REAL). JSON: text.

-- corral_clock is no longer used: foreign commits are detected with PRAGMA data_version on the writer
-- connection. It stays so that files created at version 1 keep one schema. A later migration may drop it.
CREATE TABLE corral_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO corral_clock (id, n) VALUES (1, 0);

CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    key_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX agents_by_workspace ON agents (workspace_id, created_at, id);

CREATE TABLE agent_versions (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (agent_id, version)
);

CREATE TABLE environments (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE UNIQUE INDEX environments_name ON environments (workspace_id, name);
CREATE INDEX environments_by_workspace ON environments (workspace_id, created_at, id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    agent_version INTEGER NOT NULL,
    environment_id TEXT NOT NULL,
    status TEXT NOT NULL,
    doc TEXT NOT NULL,
    usage TEXT NOT NULL,
    pending_actions TEXT NOT NULL DEFAULT '[]',
    active_seconds REAL NOT NULL DEFAULT 0,
    running_since REAL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT,
    last_seq INTEGER NOT NULL DEFAULT 0,
    runnable INTEGER NOT NULL DEFAULT 0,
    wake_at REAL,
    lease_owner TEXT,
    lease_token INTEGER NOT NULL DEFAULT 0,
    lease_expires REAL
);
CREATE INDEX sessions_by_workspace ON sessions (workspace_id, created_at, id);
CREATE INDEX sessions_by_environment ON sessions (environment_id);
CREATE INDEX sessions_runnable ON sessions (wake_at) WHERE runnable = 1;

CREATE TABLE events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    processed_at TEXT,
    created_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX events_by_id ON events (id);
