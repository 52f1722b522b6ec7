-- corral schema v1 (PostgreSQL). Timestamps: RFC 3339 text. Lease clocks: epoch seconds (DOUBLE PRECISION). JSON: text.


CREATE TABLE workspaces (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE api_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    key_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    revoked_at TEXT
);

CREATE TABLE agents (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
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
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    archived_at TEXT
);
CREATE UNIQUE INDEX environments_name ON environments (workspace_id, name);
CREATE INDEX environments_by_workspace ON environments (workspace_id, created_at, id);

CREATE TABLE sessions (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    agent_version INTEGER NOT NULL,
    environment_id TEXT NOT NULL,
    status TEXT NOT NULL,
    doc TEXT NOT NULL,
    usage TEXT NOT NULL,
    pending_actions TEXT NOT NULL DEFAULT '[]',
    active_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
    running_since DOUBLE PRECISION,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    archived_at TEXT,
    last_seq INTEGER NOT NULL DEFAULT 0,
    runnable INTEGER NOT NULL DEFAULT 0,
    wake_at DOUBLE PRECISION,
    lease_owner TEXT,
    lease_token INTEGER NOT NULL DEFAULT 0,
    lease_expires DOUBLE PRECISION
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
    created_at TEXT COLLATE "C" NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE UNIQUE INDEX events_by_id ON events (id);
