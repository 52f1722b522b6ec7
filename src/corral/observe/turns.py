"""What a turn reports as it runs: its trace (a span per turn, per model call, per tool call), its metrics, and
the ids its log lines carry (``turn_id``, ``tool_call_id``).

The harness holds one ``TurnTrace`` per ``Turn`` and calls it at the turn's boundaries; with tracing off the span
helpers return at once and only counters move. GenAI semantic conventions: the turn is ``invoke_agent``
(``gen_ai.conversation.id`` = the session), a model call is ``chat {model}`` (``gen_ai.system``,
``gen_ai.request.model``, ``gen_ai.usage.*_tokens``), a tool call is ``execute_tool {name}``.

Invariants: nothing here raises into the turn; no message text, tool input or output is recorded.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode

from corral import logs
from corral.observe import metrics, tracing


def new_turn_id() -> str:
    return "turn_" + secrets.token_hex(8)


@dataclass
class ModelCallReport:
    """Filled in by the model step once the response is known."""

    input_tokens: int = 0
    output_tokens: int = 0
    finish_reason: str | None = None
    failed: bool = False

    def finished(self, input_tokens: int, output_tokens: int, reason: str | None) -> None:
        self.input_tokens, self.output_tokens, self.finish_reason = input_tokens, output_tokens, reason


@dataclass
class TurnTrace:
    session_id: str
    turn_id: str | None = None
    _span: Span | None = None
    _context: Context | None = None

    def begin(self, turn_id: str, model: str, *, resumed: bool) -> None:
        """A turn (or what is left of one, ``resumed``) starts on this worker."""
        self.turn_id = turn_id
        tracer = tracing.tracer()
        if tracer is None:
            return
        self._span = tracer.start_span(
            "invoke_agent",
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.conversation.id": self.session_id,
                "gen_ai.request.model": model,
                "corral.turn.id": turn_id,
                "corral.turn.resumed": resumed,
            },
        )
        self._context = trace.set_span_in_context(self._span)

    def end(self, outcome: str) -> None:
        if self.turn_id is None:
            return
        metrics.turns.labels(outcome).inc()
        if self._span is not None:
            self._span.set_attribute("corral.turn.outcome", outcome)
            self._span.end()
        self.turn_id, self._span, self._context = None, None, None

    @contextmanager
    def ids(self) -> Generator[None]:
        with logs.bind(session_id=self.session_id, turn_id=self.turn_id):
            yield

    @contextmanager
    def model_call(self, provider: str, model: str) -> Generator[ModelCallReport]:
        report = ModelCallReport()
        span = self._child(
            f"chat {model}",
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.system": provider,
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": model,
            },
        )
        started = time.monotonic()
        try:
            yield report
        finally:
            metrics.model_latency.labels(provider).observe(time.monotonic() - started)
            metrics.model_tokens.labels(provider, "input").inc(report.input_tokens)
            metrics.model_tokens.labels(provider, "output").inc(report.output_tokens)
            if report.failed:
                metrics.model_failures.labels(provider).inc()
            if span is not None:
                span.set_attribute("gen_ai.usage.input_tokens", report.input_tokens)
                span.set_attribute("gen_ai.usage.output_tokens", report.output_tokens)
                if report.finish_reason:
                    span.set_attribute("gen_ai.response.finish_reasons", [report.finish_reason])
                if report.failed:
                    span.set_status(Status(StatusCode.ERROR))
                span.end()

    @contextmanager
    def tool_call(self, name: str, call_id: str, label: str) -> Generator[None]:
        """``label``: the tool's metric label (its name if built in, else ``other``)."""
        metrics.tool_calls.labels(label).inc()
        span = self._child(
            f"execute_tool {name}",
            {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, "gen_ai.tool.call.id": call_id},
        )
        try:
            with logs.bind(tool_call_id=call_id):
                yield
        finally:
            if span is not None:
                span.end()

    def _child(self, name: str, attributes: dict[str, str]) -> Span | None:
        tracer = tracing.tracer()
        if tracer is None:
            return None
        return tracer.start_span(name, context=self._context, attributes=attributes)
