"""``user.define_outcome`` as it is written (api.md §16): a new ``outcome_id``, ``max_iterations`` filled in, and a
file rubric resolved to its text (the hosted API's echo does the same).

Invariants: a file rubric must name a file of the caller's workspace holding UTF-8 text of at most
``RUBRIC_MAX_CHARS`` characters, else the request is refused (400/404) before anything is written; the harness
only ever sees text rubrics.
"""

from __future__ import annotations

from corral.api.schemas.events import RUBRIC_MAX_CHARS
from corral.compose.services import Services
from corral.errors import ErrorCode, InvalidRequest
from corral.ids import new_id
from corral.session import NewEvent

DEFAULT_MAX_ITERATIONS = 3


async def prepared(services: Services, workspace_id: str, events: list[NewEvent]) -> list[NewEvent]:
    """``events`` with each ``user.define_outcome`` ready to write (the others unchanged)."""
    return [await _outcome(services, workspace_id, e) if e.type == "user.define_outcome" else e for e in events]


async def _outcome(services: Services, workspace_id: str, event: NewEvent) -> NewEvent:
    data = dict(event.data)
    rubric = dict(data["rubric"])
    if rubric.get("type") == "file":
        rubric = {"type": "text", "content": await _file_text(services, workspace_id, str(rubric["file_id"]))}
    max_iterations = data.get("max_iterations")
    data.update(
        outcome_id=new_id("outcome"),
        rubric=rubric,
        max_iterations=DEFAULT_MAX_ITERATIONS if max_iterations is None else int(max_iterations),
    )
    return NewEvent(event.type, data, queued=event.queued)


async def _file_text(services: Services, workspace_id: str, file_id: str) -> str:
    record = await services.files.get(workspace_id, file_id)  # NotFound: not a file of this workspace
    if record.size_bytes > 4 * RUBRIC_MAX_CHARS:
        raise _refused(file_id, f"it holds {record.size_bytes} bytes")
    parts: list[bytes] = []
    async with services.blobs.open(record.blob_ref) as chunks:
        async for chunk in chunks:
            parts.append(chunk)
    try:
        text = b"".join(parts).decode("utf-8")
    except UnicodeDecodeError:
        raise _refused(file_id, "it is not UTF-8 text") from None
    if len(text) > RUBRIC_MAX_CHARS:
        raise _refused(file_id, f"it holds {len(text)} characters")
    return text


def _refused(file_id: str, why: str) -> InvalidRequest:
    return InvalidRequest(
        f"rubric file {file_id} cannot be used: a rubric is UTF-8 text of at most {RUBRIC_MAX_CHARS} characters, "
        f"and {why}",
        code=ErrorCode.INVALID_EVENT,
    )
