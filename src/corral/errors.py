"""The one exception tree of corral, with stable error codes.

Every failure that crosses a boundary is a ``CorralError``. The same object becomes, depending on where it
surfaces:

* an HTTP error body ``{"type": "error", "error": {"type", "message", "details"?}, "request_id"}``
  (``status``, ``wire_type`` and, when the SDK knows it, ``details.error_code``);
* a ``session.error`` event (``session_error_type`` and ``retry_status``);
* an ``is_error`` tool result (``ToolError`` and its subclasses).

::

    CorralError
    ├── RequestError                      4xx answers to API callers; nothing was written
    │   ├── InvalidRequest          400   invalid_request_error
    │   ├── AuthenticationFailed    401   authentication_error
    │   ├── PermissionDenied        403   permission_error
    │   ├── NotFound                404   not_found_error
    │   ├── MethodNotAllowed        405   invalid_request_error
    │   ├── Conflict                409   invalid_request_error (x-should-retry: false)
    │   │   ├── MemoryPathConflict          memory_path_conflict_error: a memory path is taken
    │   │   └── MemoryPreconditionFailed    memory_precondition_failed_error: content_sha256 mismatch
    │   ├── PreconditionFailed      412   invalid_request_error: a work item's heartbeat lost the lease
    │   ├── RequestTooLarge         413   request_too_large
    │   │   └── BlobTooLarge        413   blob_too_large: a blob stream passed its size limit (nothing kept)
    │   └── RateLimited             429   rate_limit_error (``retry-after``: the SDK waits and retries)
    ├── ServerError                 500   api_error
    │   └── StorageError            500   the database failed
    │       └── StorageFull         503   its disk is full: nothing written, ``retry-after`` (the SDK retries)
    ├── ConfigError                       the configuration is not valid (start-up stops)
    ├── LeaseLost                         a fenced write by a worker that no longer owns the session
    ├── ModelError                        the model provider failed (→ session.error)
    │   ├── ModelOverloaded               retryable
    │   ├── ModelRateLimited              retryable
    │   └── ModelRequestFailed            retryable or not, see ``retryable``
    └── ToolError                         a tool call failed (→ tool_result with is_error)
        ├── SandboxError                  the sandbox died or could not be provisioned
        └── McpServerError                an MCP server failed a call (→ session.error too, with its name)
            ├── McpConnectionFailed       mcp_connection_failed_error: unreachable, or not answering as MCP
            └── McpAuthenticationFailed   mcp_authentication_failed_error: no credential, or refused (401/403)

Invariant: ``code`` values are stable strings; clients and tests may match on them, never on ``message``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    """Stable machine-readable codes. Never rename a member; add new ones."""

    INVALID_REQUEST = "invalid_request"
    INVALID_BODY = "invalid_body"
    INVALID_ID = "invalid_id"
    INVALID_CURSOR = "invalid_cursor"
    INVALID_METADATA = "invalid_metadata"
    INVALID_EVENT = "invalid_event"
    INVALID_CONFIG_TYPE_CHANGE = "invalid_config_type_change"
    ENVIRONMENT_ARCHIVED = "environment_archived"
    AGENT_ARCHIVED = "agent_archived"
    AGENT_MODEL_REQUIRED = "agent_model_required"
    SESSION_NOT_IDLE = "session_not_idle"
    UNKNOWN_TOOL_USE = "unknown_tool_use"
    AUTHENTICATION_FAILED = "authentication_failed"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    ENVIRONMENT_NOT_FOUND = "environment_not_found"
    AGENT_VERSION_CONFLICT = "agent_version_conflict"
    DUPLICATE_NAME = "duplicate_name"
    SESSION_TERMINATED = "session_terminated"
    ENVIRONMENT_IN_USE = "environment_in_use"
    REQUEST_TOO_LARGE = "request_too_large"
    INTERNAL = "internal_error"
    STORAGE = "storage_error"
    STORAGE_FULL = "storage_full"
    LEASE_LOST = "lease_lost"
    MODEL_OVERLOADED = "model_overloaded"
    MODEL_RATE_LIMITED = "model_rate_limited"
    MODEL_REQUEST_FAILED = "model_request_failed"
    MODEL_NOT_FOUND = "model_not_found"
    TOOL_FAILED = "tool_failed"
    SANDBOX_DIED = "sandbox_died"
    SANDBOX_PROVISION_FAILED = "sandbox_provision_failed"
    WORKSPACE_MISSING = "workspace_missing"
    WORKSPACE_SNAPSHOT_FAILED = "workspace_snapshot_failed"
    NOT_SUPPORTED = "not_supported"
    SELF_HOSTED_RESOURCES_UNSUPPORTED = "self_hosted_resources_unsupported"
    MODEL_NOT_BUDGETABLE = "model_not_budgetable"
    BUDGET_CREATE_ONLY = "budget_create_only"
    BUDGET_NOT_RAISED = "budget_not_raised"
    BUDGET_REACHED = "budget_reached"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFIG_INVALID = "config_invalid"
    VAULT_ARCHIVED = "vault_archived"
    CREDENTIAL_ARCHIVED = "credential_archived"
    DUPLICATE_CREDENTIAL = "duplicate_credential"
    CREDENTIAL_LIMIT = "credential_limit"
    MCP_CONNECTION_FAILED = "mcp_connection_failed"
    MCP_AUTHENTICATION_FAILED = "mcp_authentication_failed"
    BLOB_TOO_LARGE = "blob_too_large"
    BLOB_NOT_FOUND = "blob_not_found"
    FILE_NOT_DOWNLOADABLE = "file_not_downloadable"
    FILE_EXPIRED = "file_expired"
    MEMORY_STORE_ARCHIVED = "memory_store_archived"
    INVALID_MEMORY_PATH = "invalid_memory_path"
    MEMORY_PATH_CONFLICT = "memory_path_conflict"
    MEMORY_PRECONDITION_FAILED = "memory_precondition_failed"
    SKILL_NAME_TAKEN = "skill_name_taken"
    SKILL_INVALID = "skill_invalid"
    RATE_LIMITED = "rate_limited"
    ADMIN_KEY_REQUIRED = "admin_key_required"
    API_KEY_REVOKED = "api_key_revoked"
    HEARTBEAT_PRECONDITION_FAILED = "heartbeat_precondition_failed"
    QUOTA_EXCEEDED = "quota_exceeded"


class CorralError(Exception):
    """Base of every corral error. ``details`` is extra, wire-safe context (never a secret)."""

    status: ClassVar[int] = 500
    wire_type: ClassVar[str] = "api_error"
    default_code: ClassVar[ErrorCode] = ErrorCode.INTERNAL
    #: ``details.error_code`` values the SDK maps to specific exception classes; others are not sent.
    sdk_error_codes: ClassVar[frozenset[str]] = frozenset(
        {
            "environment_archived",
            "invalid_config_type_change",
            "invalid_metadata",
            "environment_not_found",
            "environment_create_disabled",
            "environment_update_disabled",
            "agent_model_required",
            "file_not_downloadable",
            "file_expired",
            "heartbeat_precondition_failed",
        }
    )

    def __init__(self, message: str, *, code: ErrorCode | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details or {}

    def wire_details(self) -> dict[str, Any] | None:
        """The ``error.details`` object for the HTTP body, or None when there is nothing to say."""
        details = dict(self.details)
        if self.code.value in self.sdk_error_codes:
            details["error_code"] = self.code.value
        return details or None


class RequestError(CorralError):
    """An API request that was refused; the server wrote nothing."""

    status = 400
    wire_type = "invalid_request_error"
    default_code = ErrorCode.INVALID_REQUEST
    #: whether the SDK should retry (``x-should-retry``); None leaves the SDK's own rule.
    should_retry: ClassVar[bool | None] = None


class InvalidRequest(RequestError):
    status = 400
    should_retry = False


class AuthenticationFailed(RequestError):
    status = 401
    wire_type = "authentication_error"
    default_code = ErrorCode.AUTHENTICATION_FAILED


class PermissionDenied(RequestError):
    status = 403
    wire_type = "permission_error"
    default_code = ErrorCode.PERMISSION_DENIED


class NotFound(RequestError):
    status = 404
    wire_type = "not_found_error"
    default_code = ErrorCode.NOT_FOUND


class Conflict(RequestError):
    status = 409
    default_code = ErrorCode.INVALID_REQUEST
    should_retry = False


class MemoryPathConflict(Conflict):
    """A memory's path is taken by another memory (``details.conflicting_memory_id`` names it)."""

    wire_type = "memory_path_conflict_error"
    default_code = ErrorCode.MEMORY_PATH_CONFLICT


class MemoryPreconditionFailed(Conflict):
    """A memory's stored ``content_sha256`` is not the one the request expected; nothing was written."""

    wire_type = "memory_precondition_failed_error"
    default_code = ErrorCode.MEMORY_PRECONDITION_FAILED


class PreconditionFailed(RequestError):
    """A conditional write whose condition no longer holds (a work item's ``expected_last_heartbeat``)."""

    status = 412
    should_retry = False


class MethodNotAllowed(RequestError):
    status = 405
    default_code = ErrorCode.METHOD_NOT_ALLOWED
    should_retry = False


class RequestTooLarge(RequestError):
    status = 413
    wire_type = "request_too_large"
    default_code = ErrorCode.REQUEST_TOO_LARGE
    should_retry = False


class BlobTooLarge(RequestTooLarge):
    """A blob's bytes went past the size limit while streaming in; the blob store kept nothing of them."""

    default_code = ErrorCode.BLOB_TOO_LARGE


class RateLimited(RequestError):
    """A workspace's request rate (or a key's open streams) is over its limit; ``retry_after`` seconds from now
    the request would pass."""

    status = 429
    wire_type = "rate_limit_error"
    default_code = ErrorCode.RATE_LIMITED
    should_retry = True

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerError(CorralError):
    status = 500
    wire_type = "api_error"
    default_code = ErrorCode.INTERNAL


class StorageError(ServerError):
    default_code = ErrorCode.STORAGE


class StorageFull(StorageError):
    """The database's disk is full: nothing was written, and the same request succeeds once space is freed."""

    status = 503
    default_code = ErrorCode.STORAGE_FULL
    should_retry = True
    retry_after = 5.0


class LeaseLost(CorralError):
    """A worker tried a fenced write after another worker took the session (or its lease ran out)."""

    default_code = ErrorCode.LEASE_LOST


class ModelError(CorralError):
    """The model provider failed. ``session_error_type`` is the documented ``session.error`` type."""

    session_error_type: ClassVar[str] = "model_request_failed_error"
    default_code = ErrorCode.MODEL_REQUEST_FAILED

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
        code: ErrorCode | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message, code=code, details=details)
        self.retryable = retryable
        self.retry_after = retry_after


class ModelOverloaded(ModelError):
    session_error_type = "model_overloaded_error"
    default_code = ErrorCode.MODEL_OVERLOADED


class ModelRateLimited(ModelError):
    session_error_type = "model_rate_limited_error"
    default_code = ErrorCode.MODEL_RATE_LIMITED


class ModelRequestFailed(ModelError):
    session_error_type = "model_request_failed_error"


class ToolError(CorralError):
    """A tool call failed; the model reads ``message`` as an ``is_error`` tool result."""

    default_code = ErrorCode.TOOL_FAILED


class SandboxError(ToolError):
    """The sandbox died mid-call or could not be provisioned. The next call gets a fresh sandbox."""

    default_code = ErrorCode.SANDBOX_DIED


class McpServerError(ToolError):
    """An MCP server the agent declares failed: the call gets an error result and the session a ``session.error``
    naming the server (``mcp_server_name``); the session goes on. ``message`` never holds a credential."""

    session_error_type: ClassVar[str] = "mcp_connection_failed_error"
    default_code = ErrorCode.MCP_CONNECTION_FAILED

    def __init__(self, message: str, *, server_name: str):
        super().__init__(message, details={"mcp_server_name": server_name})
        self.server_name = server_name


class McpConnectionFailed(McpServerError):
    """The server could not be reached, or did not answer as an MCP server."""


class McpAuthenticationFailed(McpServerError):
    """The session has no credential for the server's URL, or the server refused the one it has (401/403)."""

    session_error_type = "mcp_authentication_failed_error"
    default_code = ErrorCode.MCP_AUTHENTICATION_FAILED


class ConfigError(CorralError):
    """The configuration (environment variables, the ``CORRAL_CONFIG`` file) is not valid; nothing started."""

    default_code = ErrorCode.CONFIG_INVALID
