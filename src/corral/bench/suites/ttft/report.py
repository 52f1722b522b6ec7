"""Turning the ``ttft`` outcomes into metrics: per-arm quantiles and costs, ratios against eager-coupled per seed
and their median over seeds, and the sensitivity table over start-time distributions.

Invariants:

* A ratio pairs sessions by their draw index within one seed (same arrival, same model latency, same sandbox
  start), using only sessions measured in both arms, so the comparison is on common random numbers.
* A headline ratio is the median of the per-seed ratios with a bootstrap interval over seeds (the seeds are the
  sample); its spread (lowest and highest seed) is reported beside it and every per-seed value is kept in
  ``params["per_seed"]``.
* Arm quantiles and costs come from the assumed start-time distribution only; the sensitivity runs feed the
  sensitivity table alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from corral.bench import stats
from corral.bench.measure import QUANTILES, add_latency, add_value
from corral.bench.results import Arm, Check, Metric, SuiteResult
from corral.bench.suites.ttft.arms import Outcome
from corral.bench.suites.ttft.draws import ASSUMED, VARIANTS, Params, SessionDraw, assumed_ratio

BASELINE = "eager-coupled"
HEADLINE = (0.5, "p50"), (0.95, "p95")


@dataclass
class SeedRun:
    variant: str  # ``ASSUMED`` or a key of ``VARIANTS``
    seed: int
    draws: list[SessionDraw]
    outcomes: dict[str, list[Outcome]] = field(default_factory=lambda: dict[str, list[Outcome]]())
    costs: dict[str, list[float]] = field(default_factory=lambda: dict[str, list[float]]())  # provisions, cold, s


def _times(outcomes: list[Outcome], point: str) -> dict[int, float]:
    found = {o.index: o.ttft if point == "ttft" else o.first_tool_result for o in outcomes}
    return {index: at for index, at in found.items() if at is not None}


def seed_ratio(run: SeedRun, arm: str, q: float, point: str = "ttft") -> float | None:
    """``arm`` ÷ the baseline ``q``-quantile of ``point`` (``ttft`` or ``first_tool_result``) on one seed, over the
    sessions measured in both."""
    base, other = _times(run.outcomes.get(BASELINE, []), point), _times(run.outcomes.get(arm, []), point)
    both = sorted(set(base) & set(other))
    if not both:
        return None
    bottom = stats.quantile([base[i] for i in both], q)
    return stats.quantile([other[i] for i in both], q) / bottom if bottom > 0 else None


def record(result: SuiteResult, params: Params, runs: list[SeedRun]) -> None:
    main = [r for r in runs if r.variant == ASSUMED]
    for arm in result.arms:
        found = [o for r in main for o in r.outcomes.get(arm.name, [])]
        if arm.ok and found:
            _arm_metrics(arm, main, found)
    per_seed: dict[str, list[float]] = {}
    ratios = Arm("ratios", f"each arm ÷ {BASELINE}, paired by session within a seed; median over seeds, 95% bootstrap")
    for arm in result.arms[:]:
        if arm.name == BASELINE:
            continue
        for q, label in HEADLINE:
            key = f"{arm.name}.ttft.{label}.vs_eager"
            values = [v for r in main if (v := seed_ratio(r, arm.name, q)) is not None]
            per_seed[key] = values
            _median_over_seeds(ratios, key, f"{arm.name} ÷ {BASELINE}: TTFT {label}", values)
        tools = [v for r in main if (v := seed_ratio(r, arm.name, 0.5, "first_tool_result")) is not None]
        label = f"{arm.name} ÷ {BASELINE}: time to first tool result p50"
        _median_over_seeds(ratios, f"{arm.name}.first_tool_result.p50.vs_eager", label, tools)
    if not ratios.metrics:
        ratios.not_measured("no pair of arms was measured")
    result.arms.append(ratios)
    result.arms.append(_sensitivity(params, runs, per_seed))
    result.params["per_seed"] = {k: [round(v, 4) for v in vs] for k, vs in per_seed.items()}
    errors = sum(1 for r in runs for found in r.outcomes.values() for o in found if o.done is None)
    result.checks.append(Check("every session of every arm finished its turn", errors == 0, f"{errors} unfinished"))


def _median_over_seeds(arm: Arm, key: str, label: str, values: list[float]) -> None:
    if not values:
        return
    seeds = f"median over {len(values)} seeds"
    arm.add(Metric.of(key, f"{label} ({seeds})", stats.quantile_ci(values, 0.5), "×", n=len(values)))
    add_value(arm, f"{key}.min", f"{label}: the lowest seed", min(values), "×", n=len(values))
    add_value(arm, f"{key}.max", f"{label}: the highest seed", max(values), "×", n=len(values))


def _sensitivity(params: Params, runs: list[SeedRun], per_seed: dict[str, list[float]]) -> Arm:
    arm = Arm(
        "sensitivity",
        f"lazy ÷ {BASELINE} TTFT under other assumed sandbox start-time distributions (same seeds, arrivals and model"
        " latencies), beside what each distribution predicts with no corral in it (`assumed.*`)",
    )
    for variant in [ASSUMED, *VARIANTS]:
        varied = params if variant == ASSUMED else VARIANTS[variant](params)
        found = [r for r in runs if r.variant == variant]
        if not found:
            continue
        for q, label in HEADLINE:
            values = [v for r in found if (v := seed_ratio(r, "lazy", q)) is not None]
            _median_over_seeds(
                arm, f"{variant}.lazy.ttft.{label}.vs_eager", f"{variant}: lazy ÷ {BASELINE} {label}", values
            )
            add_value(
                arm,
                f"{variant}.assumed.{label}",
                f"{variant}: model ÷ (start + model) {label} from the distributions alone (no corral)",
                assumed_ratio(varied, q),
                "×",
            )
    if not arm.metrics:
        arm.not_measured("no lazy and eager-coupled arms were measured")
    return arm


def _arm_metrics(arm: Arm, runs: list[SeedRun], found: list[Outcome]) -> None:
    add_latency(arm, "ttft", "time to first token", [o.ttft for o in found if o.ttft is not None])
    hands = [
        o.first_tool_result
        for r in runs
        for o in r.outcomes.get(arm.name, [])
        if r.draws[o.index].needs_hands and o.first_tool_result is not None
    ]
    add_latency(arm, "first_tool_result", "time to first tool result (sessions with a tool call)", hands, QUANTILES[:2])
    add_latency(
        arm, "done", "time to the end of the turn", [o.done for o in found if o.done is not None], QUANTILES[:2]
    )
    provisions, cold, seconds = (sum(r.costs.get(arm.name, [0.0, 0.0, 0.0])[i] for r in runs) for i in range(3))
    label = "provisions started per 100 sessions (eager ones are cut short when the turn ends first)"
    add_value(arm, "provisions_per_100", label, 100 * provisions / len(found), "")
    add_value(arm, "cold_per_100", "of which cold (no live or warm sandbox)", 100 * cold / len(found), "")
    add_value(arm, "sandbox_seconds", "sandbox-seconds per session (cost proxy)", seconds / len(found), "s")
    add_value(arm, "errors", "sessions that did not finish", float(sum(1 for o in found if o.done is None)), "")
