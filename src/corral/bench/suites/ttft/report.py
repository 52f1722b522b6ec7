"""Turning the ``ttft`` outcomes into metrics: per-arm quantiles, costs, and paired ratios against eager.

Invariant: ratios pair sessions by their draw index (same arrival, same model latency, same sandbox start),
using only sessions measured in both arms, so the comparison is on common random numbers.
"""

from __future__ import annotations

from corral.bench.measure import QUANTILES, add_latency, add_ratio, add_value
from corral.bench.results import Arm, Check, SuiteResult
from corral.bench.suites.ttft.arms import Outcome
from corral.bench.suites.ttft.draws import SessionDraw

BASELINE = "eager-coupled"


def record(
    result: SuiteResult, draws: list[SessionDraw], outcomes: dict[str, list[Outcome]], costs: dict[str, list[float]]
) -> None:
    hands = {d.index for d in draws if d.needs_hands}
    for name, found in outcomes.items():
        arm = result.arm(name)
        if arm is None or not arm.ok or not found:
            continue
        _arm_metrics(arm, found, hands, costs[name])
    ratios = Arm("ratios", f"each arm ÷ {BASELINE}, paired by session (common random numbers), 95% bootstrap")
    base = {o.index: o for o in outcomes.get(BASELINE, [])}
    for name, found in outcomes.items():
        if name != BASELINE and found and base:
            _pair(ratios, name, base, {o.index: o for o in found})
    if not ratios.metrics:
        ratios.not_measured("no pair of arms was measured")
    result.arms.append(ratios)
    errors = sum(1 for found in outcomes.values() for o in found if o.done is None)
    result.checks.append(Check("every session of every arm finished its turn", errors == 0, f"{errors} unfinished"))


def _arm_metrics(arm: Arm, found: list[Outcome], hands: set[int], cost: list[float]) -> None:
    add_latency(arm, "ttft", "time to first token", [o.ttft for o in found if o.ttft is not None])
    tools = [o.first_tool_result for o in found if o.index in hands and o.first_tool_result is not None]
    add_latency(arm, "first_tool_result", "time to first tool result (sessions with a tool call)", tools, QUANTILES[:2])
    add_latency(
        arm, "done", "time to the end of the turn", [o.done for o in found if o.done is not None], QUANTILES[:2]
    )
    provisions, cold, seconds = cost
    label = "provisions started per 100 sessions (eager ones are cut short when the turn ends first)"
    add_value(arm, "provisions_per_100", label, 100 * provisions / len(found), "")
    add_value(arm, "cold_per_100", "of which cold (no live or warm sandbox)", 100 * cold / len(found), "")
    add_value(arm, "sandbox_seconds", "sandbox-seconds per session (cost proxy)", seconds / len(found), "s")
    add_value(arm, "errors", "sessions that did not finish", float(sum(1 for o in found if o.done is None)), "")


def _pair(ratios: Arm, name: str, base: dict[int, Outcome], other: dict[int, Outcome]) -> None:
    both = sorted(i for i in set(base) & set(other) if base[i].ttft is not None and other[i].ttft is not None)
    top = [other[i].ttft or 0.0 for i in both]
    bottom = [base[i].ttft or 0.0 for i in both]
    for q, label in QUANTILES:
        add_ratio(
            ratios, f"{name}.ttft.{label}.vs_eager", f"{name} ÷ {BASELINE}: TTFT {label}", top, bottom, q=q, paired=True
        )
    tools = [i for i in both if other[i].first_tool_result is not None and base[i].first_tool_result is not None]
    add_ratio(
        ratios,
        f"{name}.first_tool_result.p50.vs_eager",
        f"{name} ÷ {BASELINE}: time to first tool result p50",
        [other[i].first_tool_result or 0.0 for i in tools],
        [base[i].first_tool_result or 0.0 for i in tools],
        paired=True,
    )
