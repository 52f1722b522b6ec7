"""BENCHMARKS.md, generated from the results files: ``corral bench report``.

Invariants: every figure in the file comes from ``benchmarks/results/*.json`` (never typed by hand); the
method text comes from ``method.md`` next to this module; a target without a figure says why.
"""

from __future__ import annotations

from pathlib import Path

from corral.bench import cpu
from corral.bench.environment import Environment
from corral.bench.machine import Disk
from corral.bench.results import Arm, SuiteResult, load_all
from corral.bench.targets import TARGETS, Target, Verdict, judge

ORDER = ("log", "ttft", "api", "recovery", "sandbox", "credentials")
_METHOD = Path(__file__).with_name("method.md")


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def _ci(low: float | None, high: float | None) -> str:
    return f"{fmt(low)} – {fmt(high)}" if low is not None and high is not None else ""


def _verdict_row(v: Verdict, beside: str = "") -> str:
    t = v.target
    if v.metric is None:
        return f"| {t.text} | {t.op} {fmt(t.bound)} {t.unit} | —{beside} | | **not measured**: {v.why} |"
    m = v.metric
    mark = {"met": "✅ met", "uncertain": "❔ uncertain: the 95% CI crosses the bound"}.get(v.verdict, "❌ not met")
    extra = f" ({v.why})" if v.why else ""
    value = f"{fmt(m.value)} {m.unit}{beside}"
    return f"| {t.text} | {t.op} {fmt(t.bound)} {t.unit} | {value} | {_ci(m.low, m.high)} | {mark}{extra} |"


def beside_text(target: Target, results: dict[str, SuiteResult]) -> str:
    """The figure a target shows beside its own (context, not judged), or nothing."""
    result = results.get(target.suite)
    if target.beside is None or result is None:
        return ""
    key, what = target.beside
    metric = result.metric(target.arm, key)
    if metric is None or metric.value is None:
        return ""
    interval = f", 95% CI {_ci(metric.low, metric.high)}" if metric.low is not None else ""
    return f" (beside it, {what}: {fmt(metric.value)} {metric.unit}{interval}; not judged)"


def targets_section(results: dict[str, SuiteResult]) -> list[str]:
    lines = ["## Targets", "", "| target | bound | measured | 95% CI | verdict |", "|---|---|---|---|---|"]
    lines += [_verdict_row(judge(t, results), beside_text(t, results)) for t in TARGETS]
    return [*lines, ""]


def _machine(results: dict[str, SuiteResult]) -> list[str]:
    first = results.get("log") or next(iter(results.values()))
    m = first.machine
    disk: Disk = m.get("disk") or {}
    rows = [
        ("CPU", f"{m.get('cpu_model')} — {m.get('cpus_usable')} usable of {m.get('cpus_online')} online"),
        ("memory", f"{m.get('memory_gib')} GiB"),
        ("kernel / virtualisation", f"{m.get('kernel')} / {m.get('virtualisation')}"),
        ("disk", f"{disk.get('device', '?')} (rotational: {disk.get('rotational')})"),
        ("Python / SQLite", f"{m.get('python')} / {m.get('sqlite')}"),
        (f"PostgreSQL (`{first.suite}`)", ", ".join(f"{k} {v}" for k, v in (m.get("postgres") or {}).items()) or "—"),
    ]
    for suite in results.values():
        kind = "quick" if suite.quick else "full"
        rows.append((f"load average during `{suite.suite}` ({kind}, {suite.started_at[:16]})", _load(suite)))
        rows.append((f"CPU used by other processes during `{suite.suite}`", _other_cpu(suite)))
    lines = ["## Machine", "", "Read from the machine at run time.", "", "| | |", "|---|---|"]
    return [*lines, *(f"| {k} | {v} |" for k, v in rows), ""]


def environments_section(results: dict[str, SuiteResult]) -> list[str]:
    """The Python environments of the runs (corral's and its peers'): interpreter and every distribution, pinned;
    an environment shared by several suites is listed once, naming them."""
    lines = ["## Python environments", "", "Read from each interpreter at run time (`corral.bench.environment`).", ""]
    shared: dict[str, tuple[str, Environment, list[str]]] = {}
    for name, suite in results.items():
        if not suite.environments:
            lines += [f"* `{name}`: not recorded (the run predates the record)"]
        for who, env in suite.environments.items():
            shared.setdefault(f"{who} {env}", (who, env, []))[2].append(f"`{name}`")
    for who, env, suites in shared.values():
        lines += [
            f"* {who} ({', '.join(suites)}): {env['implementation']} {env['python']} at `{env['interpreter']}`, "
            f"{len(env['distributions'])} distributions",
            f"  <details><summary>pinned</summary>{' '.join(env['distributions'])}</details>",
        ]
    return [*lines, ""]


def _load(suite: SuiteResult) -> str:
    start = suite.machine.get("load_average_at_start") or ["?"]
    end = suite.machine.get("load_average_at_end") or ["?"]
    return f"{start[0]} at start, {end[0]} at end (1-minute)"


def _other_cpu(suite: SuiteResult) -> str:
    other = suite.machine.get("other_cpu")
    if other is None:
        return "not recorded"
    return f"{other['seconds']:.0f} CPU-s ({other['share']:.0%} of {other['cpus']} CPUs over the suite)"


def busy_suites(results: dict[str, SuiteResult]) -> list[str]:
    """The suites during which other processes used more CPU than ``cpu.PROVISIONAL_SHARE`` of the machine's
    capacity, or for which that was not recorded: their figures are provisional (``corral.bench.cpu``)."""
    return [name for name, suite in results.items() if cpu.provisional(suite.machine.get("other_cpu"))]


def _arm_rows(arm: Arm) -> list[str]:
    if not arm.ok:
        return [f"| {arm.name} | *{arm.status}* | | | |"]
    return [
        f"| {arm.name} | {m.label} | {fmt(m.value)} {m.unit} | {_ci(m.low, m.high)} | {m.n or ''} |"
        for m in arm.metrics
    ]


def suite_section(result: SuiteResult, plots_dir: str) -> list[str]:
    kind = "quick" if result.quick else "full"
    lines = [
        f"### `{result.suite}`",
        "",
        f"Run {result.started_at} ({kind}, {result.seconds:.0f} s): **{result.status}**.",
        "",
    ]
    described = [a for a in result.arms if a.description]
    lines += [f"* **{a.name}**: {a.description}" for a in described]
    lines += ["", "| arm | metric | value | 95% CI | n |", "|---|---|---|---|---|"]
    for arm in result.arms:
        lines += _arm_rows(arm)
    if result.checks:
        lines += ["", "Hard invariants:", ""]
        lines += [f"* {'✅' if c.ok else '❌ BROKEN'} {c.name} — {c.detail}" for c in result.checks]
    if result.notes:
        lines += ["", "Notes:", ""] + [f"* {n}" for n in result.notes]
    params = {k: v for k, v in result.params.items() if k not in {"needs", "postgres"}}
    if params:
        lines += ["", "Parameters: " + ", ".join(f"`{k}={v}`" for k, v in params.items())]
    lines += [""] + [f"![{p}]({plots_dir}/{p})" for p in result.plots]
    return [*lines, ""]


HEADER = """# Benchmarks

> Generated by `corral bench report` from `{results}/*.json`; do not edit by hand. `corral bench` runs every suite
> (sized for under 20 minutes on a quiet 2-core machine; each suite's duration is listed below) and regenerates
> this file. The JSON results and plots of the run behind this file are committed beside it, in `{results}/`
> (`--quick` runs go to `{results}/quick/`, which is not committed).
"""

PROVISIONAL = """> **Provisional figures.** A suite is provisional when processes other than the run's own used more
> than {threshold:.0%} of the machine's CPU time while it ran (`/proc/stat` minus the run's process trees; a suite
> that did not record it counts as provisional), or when it ran at `--quick` sizes. Ratios within one run are
> meaningful; absolute figures are not final until regenerated on a quiet machine.
>
> Provisional here: {why}.
"""


def provisional_note(results: dict[str, SuiteResult]) -> str | None:
    """The "provisional" banner, naming the suites it is for (None: every suite ran full-size on a quiet machine)."""
    busy = busy_suites(results)
    quick = [name for name, suite in results.items() if suite.quick]
    why = [f"other processes' CPU over the threshold or not recorded: {', '.join(busy)}"] if busy else []
    why += [f"--quick sizes: {', '.join(quick)}"] if quick else []
    if not why:
        return None
    return PROVISIONAL.format(why="; ".join(why), threshold=cpu.PROVISIONAL_SHARE)


REPRODUCE = """## How to reproduce

```bash
script/setup                     # the project venv (with matplotlib); PostgreSQL 15 binaries via apt
corral bench                     # all suites, full sizes; JSON + PNG in benchmarks/results/, then BENCHMARKS.md
corral bench log --quick         # one suite, smoke-run sizes (results in benchmarks/results/quick/)
corral bench report              # regenerate BENCHMARKS.md from benchmarks/results/*.json
python -m corral.bench --help    # the same command without the corral entry point
```

Plots need matplotlib, the `bench` extra (`pip install 'corral[bench]'`; a checkout's dev environment has it);
without it `corral bench` writes the JSON results and says it drew no plots.
The openhands-sdk peer needs a Python ≥ 3.12 (found on PATH or under pyenv, or `--peer-python`); the first full
`corral bench log` builds its virtualenv under `.corral/bench/peers/` (about 500 MB, one minute, from PyPI).
PostgreSQL: a throwaway cluster with production durability settings is started from the local binaries, or pass
`--postgres-url`.
"""


def render(results_dir: Path) -> str:
    results = load_all(results_dir)
    out = [HEADER.format(results=results_dir)]
    if not results:
        return "\n".join([*out, "No results yet: run `corral bench`.", "", REPRODUCE])
    if note := provisional_note(results):
        out.append(note)
    out += targets_section(results)
    out += _machine(results)
    out += environments_section(results)
    out += ["## Results", ""]
    for name in [n for n in ORDER if n in results] + [n for n in results if n not in ORDER]:
        out += suite_section(results[name], str(results_dir))
    out += [_METHOD.read_text(), REPRODUCE]
    return "\n".join(out)


def write_report(results_dir: Path, report_file: Path) -> None:
    report_file.write_text(render(results_dir).rstrip() + "\n")
