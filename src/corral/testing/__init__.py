"""Test doubles corral ships: real loopback servers that speak each model provider's wire protocol.

``ScriptedModelServer`` (in-process, background thread) and ``ScriptedModelProcess`` (a child process)
answer ``POST /v1/messages`` (Anthropic) and ``POST /v1/chat/completions`` (OpenAI-compatible) from a
``Script``: scripted replies chosen deterministically from each request, injectable failures, a seeded
latency model, and a record of every request. ``ScriptedSearchServer`` answers like a SearXNG instance's JSON
API (the web_search backend). Never imported by production code.
"""

from corral.testing.process import ScriptedModelProcess
from corral.testing.script import (
    Fault,
    Latency,
    Reply,
    ReplyJSON,
    Rule,
    Script,
    ScriptJSON,
    reply,
    text,
    thinking,
    tool_use,
)
from corral.testing.search import ScriptedSearchServer
from corral.testing.server import RecordedRequest, ScriptedModelServer

__all__ = [
    "Fault",
    "Latency",
    "RecordedRequest",
    "Reply",
    "ReplyJSON",
    "Rule",
    "Script",
    "ScriptJSON",
    "ScriptedModelProcess",
    "ScriptedModelServer",
    "ScriptedSearchServer",
    "reply",
    "text",
    "thinking",
    "tool_use",
]
