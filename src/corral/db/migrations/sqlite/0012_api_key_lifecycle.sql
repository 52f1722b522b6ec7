-- API keys as a lifecycle (corral.catalog.keys): an admin flag (operator routes: stats, the key routes), the
-- secret's first characters to tell keys apart in a listing (NULL for keys made before: the secret was never kept),
-- and when the key was last used (stamped at most once a minute per key and process).
ALTER TABLE api_keys ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN prefix TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;
