"""``corral bench``: benchmarks a skeptic would accept, run against real processes on this machine.

Suites (``corral.bench.suites``): ``log`` (session log vs openhands-sdk and the raw database floors),
``ttft`` (lazy vs eager sandbox provisioning on common random numbers), ``api`` (platform overhead,
SSE fan-out, HTTP throughput, memory per session), ``recovery`` (kill -9 of a worker), ``sandbox``
(cold start, warm claim, round trip, egress overhead).

Invariants: figures come only from measurements of this run (JSON in ``benchmarks/results/``);
BENCHMARKS.md is generated from that JSON; targets are judged there, never asserted in tests; arms
whose component does not exist yet say "not available: <why>" instead of failing.
"""
