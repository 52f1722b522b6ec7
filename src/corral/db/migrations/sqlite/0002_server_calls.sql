-- Server-tool calls (web_search, web_fetch) that wait for a confirmation: id → tool name, so that the projection
-- counts a confirmed call in usage.server_tool_use when it is allowed (JSON object).
ALTER TABLE sessions ADD COLUMN server_calls TEXT NOT NULL DEFAULT '{}';
