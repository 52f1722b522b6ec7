"""Recovery (read a whole session and rebuild its context) and the corral/peer, corral/floor ratios.

Invariant: recovery figures count only if every system read all ``n`` events and rebuilt a context with
the same digest; that is checked and recorded as a hard invariant (a lost or garbled event fails it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from corral.bench.measure import add_latency, add_ratio, interleave
from corral.bench.results import Arm, Check, SuiteResult
from corral.bench.suite import Context
from corral.bench.suites.log.phases import SLICE, Fills, Raw
from corral.bench.suites.log.setup import PEER, Systems

Seen = dict[str, set[tuple[int, str]]]


def _recoverer(systems: Systems, name: str, target: str, reps: int, seen: Seen) -> Callable[[], Awaitable[list[float]]]:
    async def call() -> list[float]:
        samples: list[float] = []
        for _ in range(reps):
            if name == PEER:
                assert systems.peer is not None
                reply = await systems.peer.recover(target)
                seconds, events, digest = reply["seconds"], reply["events"], reply["digest"]
            else:
                seconds, events, digest = await systems.corral[name].recover(target)
            seen.setdefault(name, set()).add((events, digest))
            samples.append(seconds)
        return samples

    return call


async def recovery(ctx: Context, result: SuiteResult, systems: Systems, fills: Fills, raw: Raw) -> None:
    sizes = ctx.pick("log.recovery", [82, 1500], [82, 1500, 100_000])
    result.params["recovery_sizes"] = sizes
    for n in sizes:
        targets = await fills.ensure(n, 1.0, peer=True)
        rounds = ctx.pick("log.rounds", 2, 10) if n <= 10_000 else ctx.pick("log.big_rounds", 1, 1)
        reps = ctx.pick("log.recovery_reps", 1, 3) if n <= 10_000 else 1
        seen: Seen = {}
        calls = {name: _recoverer(systems, name, target, reps, seen) for name, target in targets.items()}
        samples, failed = await interleave(ctx, f"log · recover {n:,}-event sessions", calls, rounds)
        for name in targets:
            if name in failed:
                arm = result.arm(name)
                if arm is not None and arm.ok:
                    arm.status = f"failed: {failed[name]}"
            elif (arm := result.arm(name)) is not None:
                raw[(name, f"recovery@{n}")] = samples[name]
                label = "read all events + rebuild context" if name != PEER else "ConversationState.create + rebuild"
                add_latency(
                    arm, f"recovery@{n}", f"{label}, {n:,} events", samples[name], ((0.5, "p50"), (0.95, "p95"))
                )
        result.checks.append(_same_context(n, seen))


def _same_context(n: int, seen: Seen) -> Check:
    outcomes = {(events, digest) for found in seen.values() for events, digest in found}
    counts = sorted({events for events, _ in outcomes})
    ok = len(outcomes) == 1 and counts == [n]
    detail = f"{len(seen)} systems, events read {counts}, {len({d for _, d in outcomes})} distinct context digest(s)"
    return Check(f"recovery of {n:,} events: every system read all events and rebuilt the same context", ok, detail)


RATIOS = [
    ("emit.vs_peer", "corral/sqlite emit_event ÷ openhands-sdk EventLog.append (p50)", "corral/sqlite", PEER, "emit"),
    (
        "emit_full.vs_peer",
        "corral/sqlite-full emit_event ÷ openhands-sdk EventLog.append (p50, both fsync)",
        "corral/sqlite-full",
        PEER,
        "emit",
    ),
    (
        "emit_pg.vs_peer",
        "corral/postgres emit_event ÷ openhands-sdk EventLog.append (p50)",
        "corral/postgres",
        PEER,
        "emit",
    ),
    (
        "emit.vs_floor",
        "corral/sqlite emit_event ÷ bare SQLite INSERT transaction (p50, synchronous=NORMAL)",
        "corral/sqlite",
        "floor/sqlite",
        "emit",
    ),
    (
        "emit_full.vs_floor",
        "corral/sqlite-full emit_event ÷ bare SQLite INSERT transaction (p50, synchronous=FULL)",
        "corral/sqlite-full",
        "floor/sqlite-full",
        "emit",
    ),
    (
        "emit_pg.vs_floor",
        "corral/postgres emit_event ÷ bare PostgreSQL autocommit INSERT (p50)",
        "corral/postgres",
        "floor/postgres",
        "emit",
    ),
]


#: corral's arms on each engine, and the tag each one's ratio keys carry
_ENGINES = (("corral/sqlite", ""), ("corral/postgres", "_pg"))


def ratios(result: SuiteResult, raw: Raw) -> None:
    arm = Arm("ratios", "quotients of medians measured in this run, with 95% bootstrap intervals")
    for key, label, top, bottom, metric in RATIOS:
        add_ratio(arm, key, label, raw.get((top, metric), []), raw.get((bottom, metric), []))
    for n in result.params.get("recovery_sizes", []):
        for top, tag in _ENGINES:
            add_ratio(
                arm,
                f"recovery{tag}@{n}.vs_peer",
                f"{top} recovery of {n:,} events ÷ openhands-sdk ConversationState.create + rebuild (p50)",
                raw.get((top, f"recovery@{n}"), []),
                raw.get((PEER, f"recovery@{n}"), []),
            )
    sizes = [int(n) for n in result.params.get("slice_sizes", [])]
    for top, tag in _ENGINES:
        for n in sizes[1:]:
            # the same payload sizes at every size (log.slice_scale), so the quotient is the log's growth alone
            add_ratio(
                arm,
                f"slice{tag}@{n}.vs_slice@{sizes[0]}",
                f"{top} {SLICE}-event slice p50 of a {n:,}-event session ÷ of a {sizes[0]:,}-event one",
                raw.get((top, f"slice@{n}"), []),
                raw.get((top, f"slice@{sizes[0]}"), []),
            )
    if not arm.metrics:
        arm.not_measured("no pair of arms to compare was measured")
    result.arms.append(arm)
