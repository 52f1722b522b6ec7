"""``corral bench``: benchmarks a skeptic would accept, run against real processes on this machine.

Suites (``corral.bench.suites``): ``log`` (session log vs openhands-sdk and the raw database floors),
``ttft`` (lazy vs eager sandbox provisioning on common random numbers), ``api`` (platform overhead,
SSE fan-out, HTTP throughput, memory per session), ``recovery`` (kill -9 of a worker), ``sandbox``
(cold start, warm claim, round trip, egress overhead).

Invariants: figures come only from measurements of this run (JSON in ``benchmarks/results/``);
BENCHMARKS.md is generated from that JSON; targets are judged there, never asserted in tests. The suites
import corral's modules directly (a missing one is an ImportError, never a silently skipped arm); only an arm
that needs an optional component from outside corral (the openhands-sdk peer, a PostgreSQL server, what the
local sandboxes need) may say "not measured: <why>".
"""
