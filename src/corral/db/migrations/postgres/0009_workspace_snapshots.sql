-- Workspaces that follow the session (corral.sandbox.workspaces): the latest snapshot of each session's
-- `/workspace`, a manifest blob (corral.sandbox.snapshots). Replaced only by a snapshot built on it
-- (compare-and-set on `manifest_ref`); deleted with its session. Its blobs are kept alive by
-- `corral.compose.collect` (the manifests named here and the chunks they name).
CREATE TABLE workspace_snapshots (
    session_id TEXT COLLATE "C" PRIMARY KEY,
    manifest_ref TEXT NOT NULL,
    taken_at TEXT NOT NULL
)
