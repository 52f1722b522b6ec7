"""``POST /v1/sessions/{id}/events`` bodies: the client event params of api.md §6.2, and ``initial_events``.

Unknown event types and unknown fields are refused (400) before anything is written.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from corral.api.schemas.content import MessageBlock, ResultBlock, TextBlock
from corral.catalog.params.base import WHOLE
from corral.wire import Strict


class UserMessage(Strict):
    type: Literal["user.message"]
    content: Annotated[list[MessageBlock], Field(min_length=1)]


class UserInterrupt(Strict):
    type: Literal["user.interrupt"]
    session_thread_id: str | None = None


class UserToolConfirmation(Strict):
    type: Literal["user.tool_confirmation"]
    tool_use_id: str
    result: Literal["allow", "deny"]
    deny_message: str | None = None


class UserCustomToolResult(Strict):
    type: Literal["user.custom_tool_result"]
    custom_tool_use_id: str
    content: list[ResultBlock] | None = None
    is_error: bool | None = None


class UserToolResult(Strict):
    type: Literal["user.tool_result"]
    tool_use_id: str
    content: list[ResultBlock] | None = None
    is_error: bool | None = None


#: the longest text rubric (api.md §16)
RUBRIC_MAX_CHARS = 262_144


class TextRubric(Strict):
    type: Literal["text"]
    content: Annotated[str, Field(min_length=1, max_length=RUBRIC_MAX_CHARS)]


class FileRubric(Strict):
    type: Literal["file"]
    file_id: str


class UserDefineOutcome(Strict):
    type: Literal["user.define_outcome"]
    description: str
    rubric: Annotated[TextRubric | FileRubric, Field(discriminator="type")]
    max_iterations: Annotated[int, Field(ge=1, le=20), WHOLE] | None = None


class SystemMessage(Strict):
    type: Literal["system.message"]
    content: Annotated[list[TextBlock], Field(min_length=1, max_length=1000)]


ClientEvent = (
    UserMessage
    | UserInterrupt
    | UserToolConfirmation
    | UserCustomToolResult
    | UserDefineOutcome
    | UserToolResult
    | SystemMessage
)
EventParam = Annotated[ClientEvent, Field(discriminator="type")]
InitialEvent = Annotated[UserMessage | UserDefineOutcome, Field(discriminator="type")]


class SendEvents(Strict):
    events: Annotated[list[EventParam], Field(min_length=1)]
