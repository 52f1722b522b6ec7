"""``OtlpCollector``: a real loopback stand-in for an OpenTelemetry collector's OTLP/HTTP traces receiver.

``POST /v1/traces`` with an ``ExportTraceServiceRequest`` (protobuf, as ``opentelemetry-exporter-otlp-proto-http``
sends it) is decoded with the ``opentelemetry-proto`` package and kept as ``ReceivedSpan``s (name, ids, parent,
attributes as plain values, whether its status is an error, its resource's attributes). ``wait_for(predicate)``
blocks until the spans received satisfy it, woken by each arrival (never by polling the clock). Anything else is
a 404; a body that does not decode is a 400.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from corral.testing.http import Request, Responder, ThreadedServer

Value = str | bool | int | float | list[str]


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    #: ``""`` for a root span
    parent_span_id: str
    attributes: dict[str, Value]
    error: bool
    resource: dict[str, Value]


def _value(value: AnyValue) -> Value:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [str(_value(item)) for item in value.array_value.values]
    if kind in ("string_value", "bool_value", "int_value", "double_value"):
        scalar: str | bool | int | float = getattr(value, kind)
        return scalar
    return str(value)


def _attributes(pairs: list[KeyValue]) -> dict[str, Value]:
    return {pair.key: _value(pair.value) for pair in pairs}


def decode(body: bytes) -> list[ReceivedSpan]:
    """The spans of one OTLP/HTTP export request (``DecodeError`` if it is not one)."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(list(resource_spans.resource.attributes))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                error = span.status.code == Status.StatusCode.STATUS_CODE_ERROR
                spans.append(
                    ReceivedSpan(
                        span.name,
                        span.trace_id.hex(),
                        span.span_id.hex(),
                        span.parent_span_id.hex(),
                        _attributes(list(span.attributes)),
                        error,
                        resource,
                    )
                )
    return spans


class OtlpCollector(ThreadedServer):
    name = "otlp-collector"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0):
        self._spans: list[ReceivedSpan] = []
        self._arrived = threading.Condition()
        super().__init__(self._answer, host=host, port=port)

    @property
    def spans(self) -> list[ReceivedSpan]:
        with self._arrived:
            return list(self._spans)

    def wait_for(self, predicate: Callable[[list[ReceivedSpan]], bool], timeout: float = 30.0) -> list[ReceivedSpan]:
        """The spans received, once ``predicate`` holds of them; ``TimeoutError`` if it does not within
        ``timeout`` (a safety net, not the synchronisation: each arrival wakes the wait)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: predicate(self._spans), timeout):
                raise TimeoutError(f"the collector received {len(self._spans)} spans, not what was awaited")
            return list(self._spans)

    async def _answer(self, request: Request, responder: Responder) -> None:
        if (request.method, request.path) != ("POST", "/v1/traces"):
            await responder.json(404, {"error": "not found"})
            return
        try:
            spans = decode(request.body)
        except DecodeError:
            await responder.json(400, {"error": "not an ExportTraceServiceRequest"})
            return
        with self._arrived:
            self._spans.extend(spans)
            self._arrived.notify_all()
        await responder.send(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")
