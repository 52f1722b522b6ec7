"""The gate every HTTP request passes, as one pure-ASGI middleware (no per-request task or body copy).

In order: a ``request-id: req_…`` for the response (errors included), the body-size limit (413, from
``Content-Length`` up front and from the bytes actually received; a file or skill upload's is the blob limit plus
room for the form around it, the route refusing the files themselves as they stream past the blob limit), the
optional strict
``anthropic-beta`` check, authentication (``Authorization: Bearer <key>`` or ``x-api-key``) that pins the
request to the key's workspace (``scope["state"]["principal"]``), the operator routes (stats, keys: a
workspace key gets 403 ``permission_error``; only an admin key passes) and the workspace's request rate (429 with
``retry-after``, ``corral.api.limits``); a key that is no API key may be a self-hosted worker's credential
(``work_auth``), which opens only its own environment's work and sessions.

Invariants: a request that fails here never reaches a route (nothing is read or written); a bug anywhere
below becomes a 500 in the error shape, with the request id, as long as the response has not started.
"""

from __future__ import annotations

import logging
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from corral.api.errors import send_error
from corral.api.limits import RateLimits
from corral.api.shared_rates import SharedWindows
from corral.api.work_auth import admit_worker
from corral.catalog import Catalog
from corral.compose.services import Services
from corral.config import Settings
from corral.errors import (
    AuthenticationFailed,
    CorralError,
    ErrorCode,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RequestTooLarge,
    ServerError,
    StorageFull,
)
from corral.ids import new_id

log = logging.getLogger("corral.api")

PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json"})
ADMIN_PATHS = ("/v1/corral/stats", "/v1/corral/keys", "/metrics")  # the operator's (webhooks are a workspace's)
BETA = "managed-agents-2026-04-01"
MEMORY_BETA = "agent-memory-2026-07-22"  # what the SDK sends for /v1/memory_stores (api.md §12): accepted there too
MEMORY_PATH = "/v1/memory_stores"
#: the SDK's Files and Skills calls carry no beta header (api.md §21): strict mode asks none of them
UNGATED_PATHS = ("/v1/files", "/v1/skills")
UPLOAD_PATH = "/v1/files"
FORM_OVERHEAD_BYTES = 64 * 1024  # an upload's multipart headers and small fields, beside the file's bytes
SKILL_UPLOAD = re.compile(r"/v1/skills(/[^/]+/versions)?")
SKILL_FORM_OVERHEAD_BYTES = 1024 * 1024  # the headers of up to 1000 files[] parts, beside their bytes


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def betas_opening(path: str) -> frozenset[str]:
    """The ``anthropic-beta`` values any one of which opens ``path`` in strict mode (none: it is never gated)."""
    if any(_under(path, prefix) for prefix in UNGATED_PATHS):
        return frozenset()
    return frozenset({BETA, MEMORY_BETA}) if _under(path, MEMORY_PATH) else frozenset({BETA})


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers", ())}


def _presented_key(headers: dict[bytes, bytes]) -> str | None:
    auth = headers.get(b"authorization")
    if auth is not None:
        scheme, _, token = auth.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return key or None


class Gate:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_bytes = settings.max_request_bytes
        self.max_upload_bytes = settings.blob_max_bytes + FORM_OVERHEAD_BYTES
        self.max_skill_bytes = settings.blob_max_bytes + SKILL_FORM_OVERHEAD_BYTES
        self.strict_beta = settings.strict_beta_header
        self.rates = RateLimits(settings)
        self._rates_placed = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id("request")
        scope.setdefault("state", {})["request_id"] = request_id
        stamp = (b"request-id", request_id.encode())
        started = False

        async def send_stamped(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), stamp]
            await send(message)

        try:
            refusal = await self._admit(scope)
            if refusal is not None:
                await send_error(send, refusal, request_id)
                return
            await self.app(scope, self._limited(receive, self._limit(scope)), send_stamped)
        except StorageFull as exc:  # e.g. authentication recording a key's use on a full disk: a 503, not a bug
            if started:
                raise
            await send_error(send, exc, request_id)
        except Exception:
            log.exception("request %s failed", request_id)
            if started:
                raise
            await send_error(send, ServerError("internal server error"), request_id)

    def _limit(self, scope: Scope) -> int:
        """Uploads may carry up to the blob limit (which the stores enforce again as the bytes stream in)."""
        if scope.get("method") != "POST":
            return self.max_bytes
        path: str = scope.get("path", "")
        if path == UPLOAD_PATH:
            return self.max_upload_bytes
        return self.max_skill_bytes if SKILL_UPLOAD.fullmatch(path) else self.max_bytes

    async def _admit(self, scope: Scope) -> CorralError | None:
        headers = _headers(scope)
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                return InvalidRequest("Content-Length is not a number")
            if int(length) > self._limit(scope):
                return RequestTooLarge(f"request body is larger than {self._limit(scope)} bytes")
        path: str = scope.get("path", "")
        if path in PUBLIC_PATHS:
            return None
        if self.strict_beta and path.startswith("/v1/"):
            betas = {part.strip() for part in headers.get(b"anthropic-beta", b"").decode("latin-1").split(",")}
            opening = betas_opening(path)
            if opening and not opening & betas:
                return NotFound(f"no route {scope.get('method')} {path} without anthropic-beta: {BETA}")
        return await self._authenticate(scope, headers)

    async def _authenticate(self, scope: Scope, headers: dict[bytes, bytes]) -> CorralError | None:
        key = _presented_key(headers)
        if key is None:
            return AuthenticationFailed("missing API key: send Authorization: Bearer <key> or x-api-key: <key>")
        catalog = _catalog(scope)
        principal = await catalog.authenticate(key)
        if principal is None:  # a self-hosted worker's environment key or sessions token, or nothing
            refusal = await admit_worker(scope, key)
            return refusal or await self._rates(scope).check(scope["state"]["principal"], scope.get("method", "GET"))
        wanted = headers.get(b"anthropic-workspace-id")
        if wanted is not None and wanted.decode("latin-1") != principal.workspace_id:
            return PermissionDenied("this API key does not belong to the workspace named in anthropic-workspace-id")
        if any(_under(scope.get("path", ""), prefix) for prefix in ADMIN_PATHS) and not principal.admin:
            return PermissionDenied(
                "this route is the operator's: it needs an admin key (`corral keys create --admin`)",
                code=ErrorCode.ADMIN_KEY_REQUIRED,
            )
        scope["state"]["principal"] = principal
        return await self._rates(scope).check(principal, scope.get("method", "GET"), scope.get("path", ""))

    def _rates(self, scope: Scope) -> RateLimits:
        """The rates, counted in the database once it is PostgreSQL's (shared by every API process)."""
        if not self._rates_placed:
            self._rates_placed = True
            db = _services(scope).db
            if db.dialect == "postgres":
                self.rates.share(SharedWindows(db))
        return self.rates

    def _limited(self, receive: Receive, limit: int) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise RequestTooLarge(f"request body is larger than {limit} bytes")
            return message

        return limited


def _services(scope: Scope) -> Services:
    services: Services | None = getattr(scope["app"].state, "services", None)
    if services is None:
        raise ServerError("the server is not ready")
    return services


def _catalog(scope: Scope) -> Catalog:
    return _services(scope).catalog
