-- Self-hosted environments' work protocol (corral.work, api.md §10).
-- * `environment_keys`: the keys a worker of one environment authenticates with; only the SHA-256 of a key is
--   stored (and its first characters, `prefix`, to tell keys apart in a listing); revoked keys keep their row.
-- * `work_items`: one row per work item. At most one item of a session is live (not `stopped`): the partial
--   unique index makes a second enqueue a no-op. `delivered_at` (epoch) marks a queued item a poll handed out
--   and not yet acked (`pending`); `lease_expires` (epoch) is when a claimed item that is not heartbeated is
--   queued again. `token_hash` is the SHA-256 of the sessions token in the secret of the latest delivery.
-- * `work_pollers`: when each worker id last polled an environment (`workers_polling` of the stats).
CREATE TABLE environment_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    environment_id TEXT COLLATE "C" NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX environment_keys_by_environment ON environment_keys (environment_id, created_at);

CREATE TABLE work_items (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    environment_id TEXT COLLATE "C" NOT NULL,
    session_id TEXT COLLATE "C" NOT NULL,
    state TEXT NOT NULL,
    metadata TEXT NOT NULL,
    token_hash TEXT UNIQUE,
    ttl_seconds INTEGER NOT NULL,
    queued_at DOUBLE PRECISION NOT NULL,
    delivered_at DOUBLE PRECISION,
    lease_expires DOUBLE PRECISION,
    created_at TEXT NOT NULL,
    acknowledged_at TEXT,
    started_at TEXT,
    latest_heartbeat_at TEXT,
    stop_requested_at TEXT,
    stopped_at TEXT
);
CREATE UNIQUE INDEX work_items_live_session ON work_items (session_id) WHERE state <> 'stopped';
CREATE INDEX work_items_queue ON work_items (environment_id, state, queued_at);

CREATE TABLE work_pollers (
    environment_id TEXT COLLATE "C" NOT NULL,
    worker_id TEXT COLLATE "C" NOT NULL,
    polled_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (environment_id, worker_id)
)
