"""``/openapi.json`` made faithful to the wire: what FastAPI would document but corral never does is removed.

* Validation failures are 400 in the error shape, never FastAPI's 422 ``HTTPValidationError``.
* Every ``/v1`` route needs an API key, sent as ``Authorization: Bearer`` or ``x-api-key``.
* Errors are JSON whatever the route's media type (FastAPI gives an event stream's errors its media type).
* An event stream documents each of its events (``itemSchema``, as FastAPI documents its own event streams:
  ``event``, and ``data`` holding JSON of the route's 200 model), not its body as one string.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_UNUSED_SCHEMAS = ("HTTPValidationError", "ValidationError")
_SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
}
_JSON = "application/json"
_SSE = "text/event-stream"


def _sse_events(data: dict[str, Any]) -> dict[str, Any]:
    """The media type object of a stream of server-sent events whose ``data`` is JSON matching ``data``."""
    if data.get("type") == "string" and len(data) > 1:  # FastAPI merges the 200 model into "the body is a string"
        data = {key: value for key, value in data.items() if key != "type"}
    properties: dict[str, Any] = {
        "event": {"type": "string"},
        "data": {"type": "string", "contentMediaType": _JSON, "contentSchema": data},
    }
    return {"itemSchema": {"type": "object", "required": ["event", "data"], "properties": properties}}


def _media(status: str, content: dict[str, Any]) -> dict[str, Any]:
    if status.startswith(("4", "5")) and _JSON not in content:
        return {_JSON: next(iter(content.values()))}
    if (stream := content.get(_SSE)) is not None and "schema" in stream:
        return {**content, _SSE: _sse_events(stream["schema"])}
    return content


def _tidy(schema: dict[str, Any]) -> dict[str, Any]:
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses: dict[str, Any] = operation.get("responses", {})
            responses.pop("422", None)
            for status, response in responses.items():
                if "content" in response:
                    response["content"] = _media(status, response["content"])
            if path.startswith("/v1/"):
                operation["security"] = [{"bearer": []}, {"apiKey": []}]
    components = schema.setdefault("components", {})
    for name in _UNUSED_SCHEMAS:
        components.get("schemas", {}).pop(name, None)
    components["securitySchemes"] = _SECURITY_SCHEMES
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _tidy(
                get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi
