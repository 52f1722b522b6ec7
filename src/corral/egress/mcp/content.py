"""MCP results and tool definitions in corral's terms: content blocks of an ``agent.mcp_tool_result`` (``text``,
``image``, ``document``; api.md §6.3) and the definitions the model is offered.

Invariants: every MCP content block becomes a block the model can read, or a text saying what was left out
(audio, binary resources that are neither images nor PDFs), never nothing; a result with no content but
structured content shows that as JSON text; text beyond ``MAX_TEXT`` characters is cut with a note saying so.
"""

from __future__ import annotations

import json

import mcp.types as types

from corral._types import JSONObject
from corral.egress.mcp.terms import McpToolDefinition

MAX_TEXT = 100 * 1024
PDF = "application/pdf"


def definition(tool: types.Tool) -> McpToolDefinition:
    return McpToolDefinition(tool.name, tool.description or tool.title or "", dict(tool.input_schema))


def result_content(result: types.CallToolResult) -> list[JSONObject]:
    blocks = [_block(item) for item in result.content]
    if not blocks and result.structured_content is not None:
        blocks.append(_text(json.dumps(result.structured_content, ensure_ascii=False)))
    return blocks


def _block(item: types.ContentBlock) -> JSONObject:
    match item:
        case types.TextContent():
            return _text(item.text)
        case types.ImageContent():
            return _media("image", item.mime_type, item.data)
        case types.AudioContent():
            return _text(f"[{item.mime_type} audio left out: the model cannot read audio]")
        case types.ResourceLink():
            described = f" ({item.description})" if item.description else ""
            return _text(f"resource {item.name}: {item.uri}{described}")
        case types.EmbeddedResource():
            return _resource(item.resource)


def _resource(resource: types.TextResourceContents | types.BlobResourceContents) -> JSONObject:
    if isinstance(resource, types.TextResourceContents):
        return _text(f"resource {resource.uri}:\n{resource.text}")
    mime = resource.mime_type or "application/octet-stream"
    if mime.startswith("image/"):
        return _media("image", mime, resource.blob)
    if mime == PDF:
        return _media("document", mime, resource.blob)
    return _text(f"[resource {resource.uri} ({mime}) left out: binary content the model cannot read]")


def _text(text: str) -> JSONObject:
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + f"\n[cut: the tool returned {len(text)} characters, the first {MAX_TEXT} are shown]"
    return {"type": "text", "text": text}


def _media(kind: str, mime: str, data: str) -> JSONObject:
    return {"type": kind, "source": {"type": "base64", "media_type": mime, "data": data}}
