"""``POST /v1/sessions/{id}`` semantics: omit = keep, metadata is a patch, the rest replaces."""

from __future__ import annotations

import copy
from typing import Any

from corral._types import JSONObject
from corral.errors import Conflict, ErrorCode, InvalidRequest
from corral.session.records import SessionRecord


def apply_update(record: SessionRecord, changes: JSONObject, guard_running: bool) -> tuple[JSONObject, JSONObject]:
    """Return the new doc and the ``session.updated`` fields (only those that changed)."""
    if record.archived_at is not None or record.status == "terminated":
        raise Conflict("session is archived or terminated", code=ErrorCode.SESSION_TERMINATED)
    doc = copy.deepcopy(record.doc)
    changed: dict[str, Any] = {}
    if "title" in changes and changes["title"] != doc.get("title"):
        doc["title"] = changes["title"]
        changed["title"] = changes["title"]
    if "metadata" in changes:
        metadata = dict(doc.get("metadata") or {})
        for key, value in dict(changes["metadata"] or {}).items():
            if value is None:
                metadata.pop(key, None)
            else:
                metadata[key] = value
        if len(metadata) > 16:
            raise InvalidRequest("metadata may hold at most 16 pairs", code=ErrorCode.INVALID_METADATA)
        if metadata != doc.get("metadata"):
            doc["metadata"] = metadata
            changed["metadata"] = metadata
    if "agent" in changes and changes["agent"] != doc.get("agent"):
        if guard_running and record.status in ("running", "rescheduling"):
            raise Conflict(
                "the session's agent cannot change while it runs; interrupt it first", code=ErrorCode.SESSION_NOT_IDLE
            )
        doc["agent"] = changes["agent"]
        changed["agent"] = changes["agent"]
    if "budget" in changes and changes["budget"] != doc.get("budget"):  # checked by the API (corral.api.budgets)
        doc["budget"] = changes["budget"]
        changed["budget"] = changes["budget"]
    return doc, changed
