"""The ``log`` suite: corral's session log against openhands-sdk's event log and the raw database floors.

Measured in one run, interleaved round by round: ``emit_event`` latency and throughput (SQLite at
``synchronous=NORMAL`` and ``FULL``, PostgreSQL), the same append through openhands-sdk's
``EventLog.append`` and ``ConversationState.append_event``, a bare one-row INSERT transaction on each
engine; the sync calls one append makes on each side of the peer ratio (strace, untimed); 100-event slices of big
sessions and the bytes on disk per event; whole-session recovery (read everything and rebuild the context, see
``corral.bench.context``) against openhands-sdk's ``ConversationState.create``; a turn's cost at turn 1,000 of a
session against turn 10, with the harness's warm logs on and off (``turns``).

Needs: SQLite (always), a PostgreSQL server (``--postgres-url`` or local binaries), a Python >= 3.12 for
the peer. Without a PostgreSQL server or the peer, their arms are "not measured" (and say why); the SQLite
arms are always measured.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from corral.bench.measure import phase
from corral.bench.results import SuiteResult
from corral.bench.suite import Context, Suite
from corral.bench.suites.log import phases, replay, turns
from corral.bench.suites.log.setup import open_systems


async def run(ctx: Context, result: SuiteResult) -> None:
    result.notes.append(
        "Recovery: corral's figure is the wake-up path of its harness (get_session, get_events, the log fold "
        "SessionLog and build_messages); openhands-sdk's is ConversationState.create followed by the same "
        "neutral message rebuild (corral.bench.context) that both systems' digests are checked with."
    )
    result.notes.append(
        "openhands-sdk runs in its own Python 3.12 virtualenv, in a subprocess driven over pipes, so its "
        "rounds interleave with corral's. Its big conversations are written in its own file format "
        "(one model_dump_json file per event, chained parent_id) without per-event fsync to keep setup short; "
        "its append figures use the real EventLog.append / ConversationState.append_event."
    )
    raw: phases.Raw = {}
    async with AsyncExitStack() as stack:
        with phase(result, "open"):
            systems = await open_systems(ctx, result, stack)
        if ctx.postgres.settings:
            result.params["postgres"] = dict(ctx.postgres.settings)
        with phase(result, "emit"):
            await phases.emit(ctx, result, systems, raw)
        with phase(result, "fsyncs"):
            await phases.fsyncs(ctx, result, systems)
        with phase(result, "concurrent"):
            await phases.concurrent(ctx, result, systems)
        fills = phases.Fills(ctx, systems)
        with phase(result, "slices"):
            await phases.slices(ctx, result, systems, fills, raw)
        with phase(result, "recovery"):
            await replay.recovery(ctx, result, systems, fills, raw)
        with phase(result, "turns"):
            await turns.turns(ctx, result)
    replay.ratios(result, raw)


SUITE = Suite(
    "log",
    "SQLite; PostgreSQL; Python >= 3.12 for the openhands-sdk peer",
    run,
)
