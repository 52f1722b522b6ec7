-- Files (corral.files): one row per file, its bytes a blob (corral.blobs) named by `blob_ref` (sha256:…). Rows
-- may share a blob (the same bytes uploaded twice); a blob is live while a row that has not expired names it.
-- `scope_id` names the session a file came from (its outputs), NULL for uploads. `expires_at` NULL: never.
CREATE TABLE files (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    blob_ref TEXT NOT NULL,
    filename TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    downloadable INTEGER NOT NULL,
    scope_id TEXT,
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C"
);
CREATE INDEX files_by_workspace ON files (workspace_id, created_at, id);
CREATE INDEX files_by_scope ON files (workspace_id, scope_id, created_at, id) WHERE scope_id IS NOT NULL;
CREATE INDEX files_by_blob ON files (blob_ref)
