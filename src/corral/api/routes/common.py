"""What every route shares in ``/openapi.json``: the documented error responses."""

from __future__ import annotations

from typing import Any

from corral.api.wire import ErrorBody

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Invalid request (validation, bad cursor, …)"),
        (401, "Missing or invalid API key"),
        (403, "The key may not act on the requested workspace, or the route needs an admin key"),
        (404, "No such object in this workspace, or no such route"),
        (405, "Method not allowed on this path"),
        (409, "Conflict with the object's current state (x-should-retry: false)"),
        (413, "Request body (or one event of it) too large"),
        (429, "Over the workspace's request rate or the key's open streams (retry-after: seconds to wait)"),
    )
}
