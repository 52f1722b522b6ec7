"""``/openapi.json`` made faithful to the wire: what FastAPI would document but corral never does is removed.

* Validation failures are 400 in the error shape, never FastAPI's 422 ``HTTPValidationError``.
* Every ``/v1`` route needs an API key, sent as ``Authorization: Bearer`` or ``x-api-key``.
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


def _tidy(schema: dict[str, Any]) -> dict[str, Any]:
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
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
