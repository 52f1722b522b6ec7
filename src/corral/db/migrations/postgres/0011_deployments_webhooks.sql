-- Deployments (corral.deployments) and webhooks (corral.webhooks).
-- * `deployments`: one row per deployment; `doc` holds what the wire shows (name, agent, initial events …).
--   `next_fire_at` (epoch seconds) is the next scheduled occurrence, NULL unless the deployment is active, has a
--   schedule and is not archived; a scheduler claims a due row by compare-and-set of `claim_owner`/`claim_expires`
--   (a lease: a killed scheduler's claim lapses and another fires the tick).
-- * `deployment_runs`: append-only; the unique key on (deployment_id, scheduled_at) makes one run per scheduled
--   time whatever the number of schedulers (manual runs have a NULL scheduled_at, which never conflicts).
-- * `webhook_endpoints`: where a workspace's events go, with their signing secret.
-- * `webhook_deliveries`: the durable outbox, one row per (event, endpoint), written in the transaction of the
--   change it reports; a deliverer leases due rows and marks them delivered or schedules the next attempt.
CREATE TABLE deployments (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    schedule TEXT,
    paused_reason TEXT,
    next_fire_at DOUBLE PRECISION,
    last_run_at TEXT,
    claim_owner TEXT,
    claim_expires DOUBLE PRECISION,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX deployments_by_workspace ON deployments (workspace_id, created_at, id);
CREATE INDEX deployments_due ON deployments (next_fire_at);

CREATE TABLE deployment_runs (
    id TEXT COLLATE "C" PRIMARY KEY,
    deployment_id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    trigger_type TEXT NOT NULL,
    scheduled_at TEXT,
    doc TEXT NOT NULL,
    has_error INTEGER NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    UNIQUE (deployment_id, scheduled_at)
);
CREATE INDEX deployment_runs_by_workspace ON deployment_runs (workspace_id, created_at, id);

CREATE TABLE webhook_endpoints (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    event_types TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    disabled_reason TEXT,
    created_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX webhook_endpoints_by_workspace ON webhook_endpoints (workspace_id, created_at, id);

CREATE TABLE webhook_deliveries (
    event_id TEXT COLLATE "C" NOT NULL,
    endpoint_id TEXT COLLATE "C" NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    lease_owner TEXT,
    lease_expires DOUBLE PRECISION,
    delivered_at DOUBLE PRECISION,
    last_error TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL
