"""Model providers behind one small interface: ``ModelClient.stream(ModelRequest) -> AsyncIterator[ModelEvent]``.

Adapters: ``AnthropicClient`` (Messages API) and ``OpenAIClient`` (any OpenAI-compatible Chat Completions
endpoint). ``ModelRegistry`` maps model ids (``claude-*``, ``anthropic:…``, ``openai:…``, ``<name>:…``)
to them. Content travels in the neutral format of ``models.content``.
"""

from corral.harness.models.anthropic import AnthropicClient
from corral.harness.models.base import (
    BlockFinished,
    BlockStarted,
    ModelClient,
    ModelEvent,
    ModelRequest,
    ResponseFinished,
    TextDelta,
    ToolSpec,
    Usage,
)
from corral.harness.models.openai import OpenAIClient
from corral.harness.models.registry import ModelRegistry, ResolvedModel

__all__ = [
    "AnthropicClient",
    "BlockFinished",
    "BlockStarted",
    "ModelClient",
    "ModelEvent",
    "ModelRegistry",
    "ModelRequest",
    "OpenAIClient",
    "ResolvedModel",
    "ResponseFinished",
    "TextDelta",
    "ToolSpec",
    "Usage",
]
