"""What a failed model request writes: the retry policy of a turn, in one place.

A retryable ``ModelError`` with retries left closes the span with ``is_error``, writes ``session.error``
(``retry_status: retrying``) and ``session.status_rescheduled``, then waits (exponential backoff,
``retry-after`` honoured); the turn's next decision asks again (``session.status_running`` first). When
retries run out, or the error is not retryable: ``session.error`` (``exhausted``) and idle
``retries_exhausted``. Never a stuck ``running``.
"""

from __future__ import annotations

from collections.abc import Iterable

import anyio

from corral.errors import ModelError
from corral.harness import emits
from corral.harness.harness import TurnLimits
from corral.harness.models.registry import ResolvedModel
from corral.harness.writer import Writer
from corral.secrets import redact
from corral.session import NewEvent


def named(err: ModelError, resolved: ResolvedModel, secrets: Iterable[str] = ()) -> ModelError:
    """``err`` with its message naming the provider and the URL the request went to, and without any of
    ``secrets`` (a provider's error text can quote the key it was sent)."""
    return type(err)(
        redact(f"{resolved.describe()}: {err.message}", secrets),
        retryable=err.retryable,
        retry_after=err.retry_after,
        code=err.code,
        details=err.details,
    )


async def model_failed(writer: Writer, limits: TurnLimits, span_id: str, err: ModelError) -> None:
    """The request of span ``span_id`` failed with ``err``: record it, then back off or give up."""
    attempt = writer.state.errors_in_row
    closing = emits.span_end(span_id, is_error=True)
    if not err.retryable or not limits.retries_left(attempt):
        await give_up(writer, [closing], err.session_error_type, err.message)
        return
    error = emits.session_error(err.session_error_type, err.message, "retrying")
    await writer.emit([closing, error, NewEvent("session.status_rescheduled")])
    await anyio.sleep(limits.backoff(attempt, err.retry_after))


async def give_up(writer: Writer, events: list[NewEvent], error_type: str, message: str) -> None:
    """End the turn: ``events``, then ``session.error`` (exhausted) and idle ``retries_exhausted``."""
    await writer.settle([*events, *emits.exhausted(error_type, message)])
