"""Metrics (``metrics``: Prometheus, each process its own) and traces (``tracing``: OpenTelemetry, a span per turn).

Both are read-mostly globals of the process, importable from every layer below the composition roots (the
standard library, ``prometheus_client`` and ``opentelemetry`` only); the composition roots switch tracing on
(``tracing.configure``) and serve the metrics (``corral.api`` at ``/metrics``, a worker on its own port).
"""
