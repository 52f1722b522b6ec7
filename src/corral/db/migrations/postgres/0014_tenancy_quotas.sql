-- Tenancy quotas (corral.session.quotas, corral.api.shared_rates): the bytes of stored event JSON per session,
-- counted as events are appended (backfilled here from the events already stored), and the request-rate windows
-- shared by the API processes of a PostgreSQL deployment (one row per workspace, kind and minute).
ALTER TABLE sessions ADD COLUMN event_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET event_bytes = (
    SELECT COALESCE(SUM(octet_length(payload)), 0) FROM events WHERE events.session_id = sessions.id
);
CREATE TABLE rate_windows (
    bucket TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
