-- Session threads (corral.session.threads, api.md §9): a child thread of a multiagent session is a row of
-- `sessions` with its own log, projection and lease (so the harness wakes it like any session), named `sthr_…`
-- and tied to its session by `thread_of` (NULL for sessions themselves, which listings keep to). A session's
-- primary thread is the session row itself.
ALTER TABLE sessions ADD COLUMN thread_of TEXT;
CREATE INDEX sessions_threads ON sessions (thread_of, created_at, id) WHERE thread_of IS NOT NULL;
