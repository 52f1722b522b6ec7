"""The process's Prometheus metrics, each declared once here and updated where its event happens.

Invariants: label values come from small fixed sets (route templates, never raw paths; provider names; built-in
tool names, with ``mcp`` and ``custom`` for the open-ended ones), so a series cannot multiply without bound; every
process (``corral serve``, each ``corral worker``) counts its own and serves its own (``render``).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

_MODEL_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)

http_requests = Counter("corral_http_requests", "HTTP requests answered", ["method", "route", "status"])
http_latency = Histogram(
    "corral_http_request_duration_seconds", "time to answer an HTTP request", ["method", "route", "status"]
)
active_sessions = Gauge("corral_active_sessions", "sessions this process's workers are driving now")
turns = Counter("corral_turns", "turns ended, by how", ["outcome"])
tool_calls = Counter("corral_tool_calls", "tool calls executed", ["tool"])
sandbox_starts = Counter("corral_sandbox_starts", "sandboxes provisioned")
sandbox_deaths = Counter("corral_sandbox_deaths", "sandboxes that died under a call")
oom_kills = Counter("corral_sandbox_oom_kills", "processes in sandboxes killed for exceeding the memory limit")
pool_size = Gauge("corral_sandbox_pool_size", "warm sandboxes waiting in an environment's pool", ["environment"])
model_latency = Histogram(
    "corral_model_request_duration_seconds", "a model request, first byte to last", ["provider"], buckets=_MODEL_BUCKETS
)
model_tokens = Counter("corral_model_tokens", "tokens of model requests", ["provider", "kind"])
model_failures = Counter("corral_model_failures", "model requests that failed", ["provider"])
lease_takeovers = Counter("corral_lease_takeovers", "sessions resumed from a turn another worker left unfinished")
egress_refusals = Counter("corral_egress_refusals", "connections or fetches the egress refused")


def tool_label(name: str, builtin: frozenset[str]) -> str:
    return name if name in builtin else "other"


def render() -> tuple[bytes, str]:
    """The exposition text of every metric of this process, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
