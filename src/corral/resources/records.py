"""A session's resources as its record holds them (``doc.resources``: the wire objects the API returns).

``of_kind`` is what each part of ``corral.resources`` reads at provisioning: the resources of one ``type``, in
order. A session that is gone (deleted meanwhile) has none; an entry that is not an object is skipped (the API
writes the list, so that never happens unless the record was edited by hand).
"""

from __future__ import annotations

from corral._types import JSONObject, json_list, json_object
from corral.errors import NotFound
from corral.session import SessionStore


async def of_kind(sessions: SessionStore, workspace_id: str, session_id: str, kind: str) -> list[JSONObject]:
    try:
        record = await sessions.get_session(session_id, workspace_id)
    except NotFound:
        return []
    found: list[JSONObject] = []
    for item in json_list(record.doc.get("resources")) or []:
        resource = json_object(item)
        if resource is not None and resource.get("type") == kind:
            found.append(resource)
    return found
