-- Tenancy quotas (corral.session.quotas, corral.api.shared_rates): the bytes of stored event JSON per session,
-- counted as events are appended (backfilled here from the events already stored), and the request-rate windows
-- shared by the API processes of a PostgreSQL deployment (SQLite's single process keeps its buckets in memory:
-- the table exists on both engines so their schemas stay alike, and stays empty here).
ALTER TABLE sessions ADD COLUMN event_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET event_bytes = (
    SELECT COALESCE(SUM(length(CAST(payload AS BLOB))), 0) FROM events WHERE events.session_id = sessions.id
);
CREATE TABLE rate_windows (
    bucket TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
