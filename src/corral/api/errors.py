"""Every failure becomes one error shape: ``{"type":"error","error":{"type","message","details"?},"request_id"}``.

Invariants:

* The HTTP status, ``error.type`` and ``details.error_code`` come from the ``CorralError`` class and code
  (``corral.errors``); deterministic refusals carry ``x-should-retry: false`` so the SDK does not retry them.
* Bad input is never a 500: body/query validation failures are 400, unknown routes 404, wrong methods 405.
* Only a bug is a 500 (``api_error``), logged with its traceback; its message reveals nothing internal.
* A full database disk is a 503 with ``retry-after`` (``StorageFull``): nothing was written, a retry will do.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Send

from corral.errors import (
    CorralError,
    ErrorCode,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    RateLimited,
    RequestError,
    RequestTooLarge,
    ServerError,
    StorageFull,
)

log = logging.getLogger("corral.api")
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_MAX_LISTED = 20


def request_id_of(scope: Any) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


def body_of(error: CorralError, request_id: str) -> bytes:
    detail: dict[str, Any] = {"type": error.wire_type, "message": error.message}
    if (details := error.wire_details()) is not None:
        detail["details"] = details
    return _dumps({"type": "error", "error": detail, "request_id": request_id}).encode()


def headers_of(error: CorralError) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    retry = getattr(error, "should_retry", None)
    if retry is not None:
        headers["x-should-retry"] = "true" if retry else "false"
    if isinstance(error, MethodNotAllowed) and "allow" in error.details:
        headers["allow"] = ", ".join(error.details["allow"])
    if isinstance(error, (RateLimited, StorageFull)):
        headers["retry-after"] = str(max(1, math.ceil(error.retry_after)))  # whole seconds (RFC 9110)
        headers["retry-after-ms"] = str(max(1, math.ceil(error.retry_after * 1000)))  # the SDK reads this first
    return headers


def status_of(error: CorralError) -> int:
    return error.status if isinstance(error, (RequestError, ServerError)) else 500


def response_of(error: CorralError, request_id: str) -> Response:
    return Response(body_of(error, request_id), status_code=status_of(error), headers=headers_of(error))


async def send_error(send: Send, error: CorralError, request_id: str) -> None:
    """Answer with ``error`` from pure ASGI code (middleware, streaming responses)."""
    body = body_of(error, request_id)
    headers = [(k.encode(), v.encode()) for k, v in headers_of(error).items()]
    headers += [(b"content-length", str(len(body)).encode()), (b"request-id", request_id.encode())]
    await send({"type": "http.response.start", "status": status_of(error), "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body",)) or "body"


def validation_error(exc: RequestValidationError) -> InvalidRequest:
    errors: list[dict[str, Any]] = [dict(error) for error in exc.errors()]
    listed = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg")), "type": e.get("type")} for e in errors
    ]
    first: dict[str, Any] = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return InvalidRequest("request body is not valid JSON", code=ErrorCode.INVALID_BODY)
    message = f"{_where(tuple(first.get('loc', ())))}: {first.get('msg', 'invalid')}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    # a bad metadata bag has its own documented code, whichever layer notices it
    in_metadata = any("metadata" in e.get("loc", ()) for e in errors)
    code = ErrorCode.INVALID_METADATA if in_metadata else ErrorCode.INVALID_BODY
    return InvalidRequest(message, code=code, details={"errors": listed[:_MAX_LISTED]})


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path (the router itself reports only the first route's)."""
    table: list[tuple[re.Pattern[str], set[str]]] = getattr(request.app.state, "route_methods", [])
    path = request.url.path
    methods = {method for pattern, served in table if pattern.match(path) for method in served}
    return sorted(methods - {"HEAD"})


def route_methods(routers: list[APIRouter]) -> list[tuple[re.Pattern[str], set[str]]]:
    """``(path pattern, methods)`` of every route of ``routers``, for the ``Allow`` header of 405s."""
    return [
        (route.path_regex, set(route.methods or ()))
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
    ]


def http_error(exc: StarletteHTTPException, request: Request) -> CorralError:
    if isinstance(exc.__cause__, CorralError):  # e.g. the body limit tripping while FastAPI read the body
        return exc.__cause__
    if exc.status_code == 404:
        return NotFound(f"no route {request.method} {request.url.path}")
    if exc.status_code == 405:
        allow = _allowed_methods(request)
        return MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}", details={"allow": allow})
    if exc.status_code == 413:
        return RequestTooLarge("request body is too large")
    if exc.status_code < 500:
        return InvalidRequest(str(exc.detail))
    return ServerError("internal server error")


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the error shape."""

    async def on_corral(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CorralError)
        if not isinstance(exc, (RequestError, StorageFull)):
            log.error("request %s failed: %s", request_id_of(request.scope), exc, exc_info=exc)
            exc = ServerError("internal server error")
        return response_of(exc, request_id_of(request.scope))

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return response_of(validation_error(exc), request_id_of(request.scope))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return response_of(http_error(exc, request), request_id_of(request.scope))

    app.add_exception_handler(CorralError, on_corral)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
