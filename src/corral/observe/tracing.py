"""OpenTelemetry traces: a span per turn, a child span per model call and per tool call (GenAI conventions).

Exported over OTLP/HTTP (protobuf) to ``<endpoint>/v1/traces`` when an endpoint is configured
(``OTEL_EXPORTER_OTLP_ENDPOINT``); otherwise ``tracer()`` is None and every span helper returns at once.

Invariants: spans carry ids, model and tool names, token counts and outcomes, never a message, a tool's input or
output, nor a credential; export runs on the SDK's batch thread, never on the event loop; ``shutdown`` flushes
what is pending (a process stopping gracefully loses no span).
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer

from corral import __version__

_provider: TracerProvider | None = None
_tracer: Tracer | None = None


def configure(endpoint: str | None, service: str = "corral") -> None:
    """Export this process's spans to the OTLP/HTTP collector at ``endpoint`` (None or empty: no tracing)."""
    global _provider, _tracer
    shutdown()
    if not endpoint:
        return
    resource = Resource.create({"service.name": service, "service.version": __version__})
    _provider = TracerProvider(resource=resource)
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces", timeout=10)
    _provider.add_span_processor(BatchSpanProcessor(exporter))
    _tracer = _provider.get_tracer("corral", __version__)


def tracer() -> Tracer | None:
    return _tracer


def shutdown() -> None:
    """Flush the pending spans and stop exporting (blocking: call it off the event loop)."""
    global _provider, _tracer
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()
