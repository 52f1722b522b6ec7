"""Test doubles corral ships: real loopback servers that speak each model provider's wire protocol.

``ScriptedModelServer`` (in-process, background thread) and ``ScriptedModelProcess`` (a child process)
answer ``POST /v1/messages`` (Anthropic) and ``POST /v1/chat/completions`` (OpenAI-compatible) from a
``Script``: scripted replies chosen deterministically from each request, injectable failures, a seeded
latency model, and a record of every request. ``ScriptedSearchServer`` answers like a SearXNG instance's JSON
API (the web_search backend). ``ScriptedMcpServer`` is a real MCP server over streamable HTTP (the official ``mcp``
SDK) that wants a bearer token and records its calls. ``OtlpCollector`` receives OTLP/HTTP traces (an OpenTelemetry
collector's stand-in). Never imported by production code.
"""

from corral.testing.mcp import McpCall, ScriptedMcpServer
from corral.testing.otlp import OtlpCollector, ReceivedSpan
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
    "McpCall",
    "OtlpCollector",
    "ReceivedSpan",
    "RecordedRequest",
    "Reply",
    "ReplyJSON",
    "Rule",
    "Script",
    "ScriptJSON",
    "ScriptedMcpServer",
    "ScriptedModelProcess",
    "ScriptedModelServer",
    "ScriptedSearchServer",
    "reply",
    "text",
    "thinking",
    "tool_use",
]
