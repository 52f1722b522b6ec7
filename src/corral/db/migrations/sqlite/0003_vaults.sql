-- Vaults and their credentials (corral.vault). A credential's public part is `doc` (JSON: display_name, metadata,
-- the response `auth`, updated_at, the last refresh failure); its secrets exist here only sealed: `key_id` names
-- the master key that wrapped the data key `wrapped_key`, which sealed `ciphertext` (base64 text). Archiving a
-- credential sets all three to NULL. `match_key` (the MCP server URL or the variable name) is unique among a
-- vault's active credentials.
CREATE TABLE vaults (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX vaults_by_workspace ON vaults (workspace_id, created_at, id);

CREATE TABLE vault_credentials (
    id TEXT PRIMARY KEY,
    vault_id TEXT NOT NULL REFERENCES vaults (id),
    workspace_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    match_key TEXT NOT NULL,
    doc TEXT NOT NULL,
    key_id TEXT,
    wrapped_key TEXT,
    ciphertext TEXT,
    created_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX vault_credentials_by_vault ON vault_credentials (vault_id, created_at, id);
CREATE UNIQUE INDEX vault_credentials_active ON vault_credentials (vault_id, match_key) WHERE archived_at IS NULL;
CREATE INDEX vault_credentials_by_key ON vault_credentials (key_id)
