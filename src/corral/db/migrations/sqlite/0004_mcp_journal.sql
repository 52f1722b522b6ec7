-- MCP tool calls, journalled by the id of their agent.mcp_tool_use event so that a call runs at most once whichever
-- worker drives the session: the row is written before the call is made, its result once it returned (JSON
-- {content, is_error}; failure names the session.error of a server failure: mcp_authentication_failed_error …).
-- A row without a result that no worker is running was interrupted: it is answered with an error, never made again.
CREATE TABLE mcp_calls (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    tool_use_id TEXT NOT NULL,
    mcp_server_name TEXT NOT NULL,
    tool_name TEXT NOT NULL,
    started_at TEXT NOT NULL,
    result TEXT,
    failure TEXT,
    finished_at TEXT,
    PRIMARY KEY (session_id, tool_use_id)
);
