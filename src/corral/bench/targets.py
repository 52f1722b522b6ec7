"""The targets BENCHMARKS.md judges, each tied to one figure ``(suite, arm, metric key)`` of a run.

Invariants: a target is "met" or "not met" only from a measured figure of the results files; with no figure
it is "not measured" and says why (the arm's status); a figure whose 95% interval crosses the bound is
"uncertain", whichever side the figure itself fell on; a figure shown ``beside`` a target is context, never
judged. Targets never appear in tests.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

from corral.bench.results import NOT_MEASURED, Metric, SuiteResult

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "≤": operator.le,
    ">": operator.gt,
    "≥": operator.ge,
    "=": operator.eq,
}


@dataclass(frozen=True)
class Target:
    text: str
    suite: str
    arm: str
    key: str
    op: str
    bound: float
    unit: str = ""
    #: a figure of the same arm shown beside the judged one, never judged: (metric key, what it is)
    beside: tuple[str, str] | None = None


TARGETS = [
    Target(
        "corral emit_event ≤ 0.2× openhands-sdk EventLog.append at equal durability (SQLite synchronous=FULL, an fsync"
        " per commit, as the peer fsyncs per append; p50, same run)",
        "log",
        "ratios",
        "emit_full.vs_peer",
        "≤",
        0.2,
        "×",
        beside=("emit.vs_peer", "at corral's default synchronous=NORMAL"),
    ),
    *(
        Target(
            f"corral emit_event ≤ 2× the raw {floor} at the same durability (p50)", "log", "ratios", key, "≤", 2.0, "×"
        )
        for floor, key in (
            ("SQLite floor, synchronous=NORMAL", "emit.vs_floor"),
            ("SQLite floor, synchronous=FULL", "emit_full.vs_floor"),
            ("PostgreSQL floor (autocommit INSERT)", "emit_pg.vs_floor"),
        )
    ),
    Target(
        "recovery of 1,500 events ≤ 0.05× openhands-sdk ConversationState.create (p50)",
        "log",
        "ratios",
        "recovery@1500.vs_peer",
        "≤",
        0.05,
        "×",
    ),
    Target("SQLite emit_event median < 0.17 ms in-process", "log", "corral/sqlite", "emit.p50", "<", 0.17, "ms"),
    *(
        Target(
            f"get_events 100-event slice of a {n:,}-event session < 1 ms ({engine}, p50, equal payloads)",
            "log",
            arm,
            f"slice@{n}.p50",
            "<",
            1.0,
            "ms",
        )
        for engine, arm in (("SQLite", "corral/sqlite"), ("PostgreSQL", "corral/postgres"))
        for n in (1000, 100_000, 1_000_000)
    ),
    *(
        Target(
            f"100-event slice of a 1,000,000-event session ≤ 1.2× that of a 1,000-event one ({engine}, p50)",
            "log",
            "ratios",
            f"slice{tag}@1000000.vs_slice@1000",
            "≤",
            1.2,
            "×",
        )
        for engine, tag in (("SQLite", ""), ("PostgreSQL", "_pg"))
    ),
    Target(
        "turn 1,000 of a session ≤ 1.2× turn 10 (same work; platform time per turn, p50, corral's default warm logs)",
        "log",
        "turns",
        "warm.turn@1000.vs_turn@10",
        "≤",
        1.2,
        "×",
        beside=("cold.turn@1000.vs_turn@10", "with warm logs off: every wake reads the whole log"),
    ),
    Target(
        "lazy vs eager TTFT p50 ≤ 0.4× (median over seeds)", "ttft", "ratios", "lazy.ttft.p50.vs_eager", "≤", 0.4, "×"
    ),
    Target(
        "lazy vs eager TTFT p95 ≤ 0.1× (median over seeds)", "ttft", "ratios", "lazy.ttft.p95.vs_eager", "≤", 0.1, "×"
    ),
    Target(
        "stretch: speculative + warm pool vs eager TTFT p95 ≤ 0.05× (median over seeds)",
        "ttft",
        "ratios",
        "speculative-pool.ttft.p95.vs_eager",
        "≤",
        0.05,
        "×",
    ),
    Target("platform TTFT overhead, 1 session, p50 ≤ 3 ms", "api", "overhead@1", "overhead.p50", "≤", 3.0, "ms"),
    Target("platform TTFT overhead, 1 session, p99 ≤ 10 ms", "api", "overhead@1", "overhead.p99", "≤", 10.0, "ms"),
    Target(
        "platform TTFT overhead, 50 sessions at 25 new turns/s (open loop), p50 ≤ 5 ms",
        "api",
        "open@50",
        "overhead.p50",
        "≤",
        5.0,
        "ms",
    ),
    Target(
        "platform TTFT overhead, 50 sessions at 25 new turns/s (open loop), p99 ≤ 25 ms",
        "api",
        "open@50",
        "overhead.p99",
        "≤",
        25.0,
        "ms",
    ),
    Target("500 concurrent active sessions with zero errors", "api", "overhead@500", "errors", "=", 0.0),
    Target(
        "≥ 5,000 stored events/s through the HTTP API with 50 concurrent sessions (live previews not counted)",
        "api",
        "http-throughput",
        "stored_events.rate",
        "≥",
        5000.0,
        "events/s",
    ),
    Target(
        "stored events/s via events.send, 50 concurrent clients ≥ 0.5× a bare Starlette route at the same concurrency",
        "api",
        "http-ingest",
        "ingest.vs_floor",
        "≥",
        0.5,
        "×",
    ),
    Target(
        "SSE fan-out to 200 subscribers, one process: p99 lag < 20 ms", "api", "sse-fanout", "lag.p99", "<", 20.0, "ms"
    ),
    Target(
        "SSE fan-out to 200 subscribers across two corral serve on PostgreSQL, writes continuing: p99 lag < 50 ms",
        "scale",
        "sse-fanout-2p",
        "lag.p99",
        "<",
        50.0,
        "ms",
    ),
    Target(
        "recovery after kill -9 < 1 s + lease TTL (worst kill)",
        "recovery",
        "kill-9",
        "resume_beyond_ttl.max",
        "<",
        1000.0,
        "ms",
    ),
    Target("zero events lost after kill -9", "recovery", "kill-9", "lost_events", "=", 0.0),
    Target("zero tool calls executed twice after kill -9", "recovery", "kill-9", "double_executions", "=", 0.0),
    Target(
        "cold sandbox start to the first command's result p50 < 50 ms",
        "sandbox",
        "local",
        "cold_first_result.p50",
        "<",
        50.0,
        "ms",
    ),
    Target(
        "warm-pool sandbox claim to the first command's result p50 < 50 ms",
        "sandbox",
        "local",
        "warm_first_result.p50",
        "<",
        50.0,
        "ms",
    ),
    Target("warm-pool claim p50 < 5 ms", "sandbox", "local", "warm_claim.p50", "<", 5.0, "ms"),
    Target("`bash true` round trip p50 < 5 ms", "sandbox", "local", "bash_true.p50", "<", 5.0, "ms"),
    Target(
        "MCP tool call overhead beyond the MCP server's own time p50 < 3 ms",
        "credentials",
        "mcp",
        "overhead.p50",
        "<",
        3.0,
        "ms",
    ),
    Target(
        "HTTPS through the injecting proxy vs without injection, after the first connection: p50 added < 2 ms",
        "credentials",
        "injection",
        "overhead.p50",
        "<",
        2.0,
        "ms",
    ),
    Target(
        "remote `bash true` through a sandbox host: p50 added over the local provider ≤ 1 ms",
        "sandbox",
        "remote",
        "bash_true.p50_added",
        "≤",
        1.0,
        "ms",
    ),
    Target(
        "cold start on a sandbox host within 10 ms of a local one (p50)",
        "sandbox",
        "remote",
        "cold_start.p50_added",
        "≤",
        10.0,
        "ms",
    ),
    Target(
        "mounting 8 memory stores and 3 files adds < 20 ms to a sandbox start (p50)",
        "sandbox",
        "mounts",
        "added.p50",
        "<",
        20.0,
        "ms",
    ),
    Target(
        "upload of a 100 MiB file ≥ 0.5× the throughput of a same-disk copy",
        "files",
        "throughput",
        "upload.vs_copy",
        "≥",
        0.5,
        "×",
    ),
    Target(
        "download of a 100 MiB file ≥ 0.5× the throughput of a same-disk copy",
        "files",
        "throughput",
        "download.vs_copy",
        "≥",
        0.5,
        "×",
    ),
    Target(
        "a memory write from the sandbox is a stored version in < 50 ms p50",
        "memory",
        "write-back",
        "stored.p50",
        "<",
        50.0,
        "ms",
    ),
    Target(
        "a work item reaches a polling worker < 50 ms p50 after its session needs it",
        "work",
        "long-poll",
        "delivered.p50",
        "<",
        50.0,
        "ms",
    ),
    Target(
        "a snapshot of a 1 GiB workspace (one file) after a 1 MiB change < 1 s (p50)",
        "snapshots",
        "snapshot",
        "one-file.p50",
        "<",
        1000.0,
        "ms",
    ),
    Target(
        "a restore of a 100 MiB workspace on a host without it < 2 s (p50)",
        "snapshots",
        "restore",
        "restore.p50",
        "<",
        2000.0,
        "ms",
    ),
    Target(
        "1,000 deployments due at once start their sessions within 10 s, each once, with two schedulers racing",
        "deployments",
        "scheduler",
        "all_started",
        "≤",
        10.0,
        "s",
    ),
    Target(
        "webhook delivery from the change to the receiver's 2xx < 100 ms (p50, 1,000 in flight)",
        "deployments",
        "webhooks",
        "delivery.p50",
        "<",
        100.0,
        "ms",
    ),
    Target(
        "CPU per simple turn (one model call, no tools), serve + worker ≤ 3 ms (median over windows)",
        "scale",
        "1s1w",
        "cpu_per_turn.p50",
        "≤",
        3.0,
        "ms",
    ),
    Target(
        "turns/s per core, 1 → 2 worker processes on PostgreSQL: drops ≤ 15 %",
        "scale",
        "ratios",
        "per_core.2w.vs_1w",
        "≥",
        0.85,
        "×",
    ),
]


@dataclass(frozen=True)
class Verdict:
    target: Target
    metric: Metric | None
    verdict: str  # "met" | "not met" | "uncertain" (the 95% interval crosses the bound) | "not measured"
    why: str = ""


def judge(target: Target, results: dict[str, SuiteResult]) -> Verdict:
    result = results.get(target.suite)
    if result is None:
        return Verdict(target, None, "not measured", f"no `{target.suite}` results yet")
    arm = result.arm(target.arm)
    if arm is None:
        kind = "--quick " if result.quick else ""
        return Verdict(target, None, "not measured", f"the latest {kind}`{target.suite}` run has no `{target.arm}` arm")
    metric = arm.metric(target.key)
    if metric is None or metric.value is None:
        why = arm.status if not arm.ok else (result.status if result.status != "ok" else "figure missing")
        return Verdict(target, None, "not measured", why.removeprefix(NOT_MEASURED))
    verdict = decide(target.op, target.bound, metric.value, metric.low, metric.high)
    if verdict == "uncertain":  # neither verdict can be told from this run: say which side the figure fell on
        met = _OPS[target.op](metric.value, target.bound)
        return Verdict(target, metric, verdict, f"the figure is on the {'met' if met else 'not-met'} side")
    return Verdict(target, metric, verdict)


def decide(op: str, bound: float, value: float, low: float | None, high: float | None) -> str:
    """The rule: with a 95% interval, "met" only when the whole interval is on the good side of the bound,
    "not met" only when it is wholly on the bad side, "uncertain" when it crosses the bound (an inclusive bound it
    touches is on its good side), wherever the figure itself fell. A figure without an interval (an exact count,
    or too few samples to resample) is judged on the figure alone."""
    check = _OPS[op]
    if low is None or high is None:
        return "met" if check(value, bound) else "not met"
    sides = {check(low, bound), check(high, bound), check(value, bound)}
    if sides == {True}:
        return "met"
    if sides == {False}:
        return "not met"
    return "uncertain"
