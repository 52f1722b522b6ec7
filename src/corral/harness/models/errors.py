"""Provider failures → the documented ``session.error`` types (``corral.errors.ModelError`` family).

Mapping (both wire protocols): 429 or ``rate_limit_error`` → ``ModelRateLimited``; 529, 503 or
``overloaded_error`` → ``ModelOverloaded``; other 5xx, 408, 409, transport failures, malformed streams
and unparsable tool JSON → retryable ``ModelRequestFailed``; any other 4xx → non-retryable
``ModelRequestFailed`` (retrying an invalid request cannot help). ``retry-after-ms`` / ``retry-after``
(seconds) are honoured.

Adapters raise these outside their ``except`` blocks and unchained. A provider SDK's parse error carries a
traceback whose frames hold the SDK's suspended byte-stream generators; chaining it into an error that
the harness keeps (often in a reference cycle) would leave those generators to a later garbage
collection, which closes them after the response's socket is gone and its descriptor possibly reused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from corral._types import JSONObject, json_object
from corral.errors import ModelError, ModelOverloaded, ModelRateLimited, ModelRequestFailed

_RETRYABLE_STATUS = frozenset({408, 409})


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait before retrying, from ``retry-after-ms`` or ``retry-after``; None if absent."""
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            return None  # an HTTP date: fall back to our own backoff
    return None


def from_status(
    status: int, error_type: str | None, message: str, headers: Mapping[str, str] | None = None
) -> ModelError:
    """The ``ModelError`` for an HTTP error answer (or an ``error`` event inside a stream)."""
    wait = retry_after(headers)
    details = {"status": status, "provider_error_type": error_type}
    if status == 429 or error_type == "rate_limit_error":
        return ModelRateLimited(message, retry_after=wait, details=details)
    if status in (503, 529) or error_type == "overloaded_error":
        return ModelOverloaded(message, retry_after=wait, details=details)
    retryable = status >= 500 or status in _RETRYABLE_STATUS or error_type in ("api_error", "server_error")
    return ModelRequestFailed(message, retryable=retryable, retry_after=wait, details=details)


def transport(message: str) -> ModelError:
    """A connection that failed or broke mid-stream."""
    return ModelRequestFailed(f"connection to the model provider failed: {message}", retryable=True)


def malformed(message: str) -> ModelError:
    """A stream that did not parse (bad SSE, bad JSON, bad tool input)."""
    return ModelRequestFailed(f"malformed response from the model provider: {message}", retryable=True)


def parse_tool_input(text: str) -> JSONObject:
    """A tool call's complete input JSON; anything but a JSON object is a malformed response."""
    try:
        value: object = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise malformed(f"tool input is not valid JSON: {exc}") from exc
    parsed = json_object(value)
    if parsed is None:
        raise malformed("tool input is not a JSON object")
    return parsed
