"""The machine-readable results of a benchmark run, and their JSON form.

Invariants:

* Every figure that BENCHMARKS.md shows comes from a ``SuiteResult`` file written by a run; nothing is
  typed by hand. A figure is identified by ``(suite, arm, metric key)``.
* An arm is either measured (``status == "ok"``) or carries a reason: ``"not measured: …"`` when an optional
  component from outside corral is missing on this machine (the openhands-sdk peer, a PostgreSQL server, what
  the local sandboxes need), ``"failed: …"`` for a run that broke. A suite that raised is ``"crashed: …"``.
* ``checks`` are hard invariants (no lost event, no double execution); they are never timings.
* Latencies are stored in milliseconds.
* Every result records corral's Python environment, and every peer it was compared with records its own
  (``environments``): interpreter path and version, every installed distribution pinned.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NotRequired, TypedDict, cast

from corral._types import JSONObject
from corral.bench.environment import Environment
from corral.bench.machine import Machine
from corral.bench.stats import Estimate

OK = "ok"
NOT_MEASURED = "not measured: "


class MetricJSON(TypedDict):
    key: str
    label: str
    value: float | None
    unit: str
    low: float | None
    high: float | None
    n: int | None
    note: str


class CheckJSON(TypedDict):
    name: str
    ok: bool
    detail: str


class ArmJSON(TypedDict):
    name: str
    description: str
    status: str
    metrics: list[MetricJSON]
    samples: dict[str, list[float]]


class SuiteResultJSON(TypedDict):
    """A results file (``<suite>.json``): ``asdict`` of a ``SuiteResult``."""

    suite: str
    quick: bool
    started_at: str
    seconds: float
    status: str
    params: JSONObject
    notes: list[str]
    machine: Machine
    arms: list[ArmJSON]
    checks: list[CheckJSON]
    plots: list[str]
    environments: NotRequired[dict[str, Environment]]  # absent from files written before it was recorded


@dataclass
class Metric:
    key: str
    label: str
    value: float | None
    unit: str
    low: float | None = None
    high: float | None = None
    n: int | None = None
    note: str = ""

    @classmethod
    def of(cls, key: str, label: str, estimate: Estimate, unit: str, *, n: int | None = None) -> Metric:
        return cls(key, label, estimate.value, unit, estimate.low, estimate.high, n)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Arm:
    name: str
    description: str = ""
    status: str = OK
    metrics: list[Metric] = field(default_factory=lambda: list[Metric]())
    samples: dict[str, list[float]] = field(default_factory=lambda: dict[str, list[float]]())

    @property
    def ok(self) -> bool:
        return self.status == OK

    def add(self, metric: Metric) -> Metric:
        self.metrics.append(metric)
        return metric

    def metric(self, key: str) -> Metric | None:
        return next((m for m in self.metrics if m.key == key), None)

    def not_measured(self, why: str) -> None:
        """Nothing to measure here: an optional external component is missing (``why`` names it)."""
        self.status = NOT_MEASURED + why


@dataclass
class SuiteResult:
    suite: str
    quick: bool
    started_at: str
    seconds: float = 0.0
    status: str = OK
    params: JSONObject = field(default_factory=lambda: JSONObject())
    notes: list[str] = field(default_factory=lambda: list[str]())
    machine: Machine = field(default_factory=lambda: Machine())
    arms: list[Arm] = field(default_factory=lambda: list[Arm]())
    checks: list[Check] = field(default_factory=lambda: list[Check]())
    plots: list[str] = field(default_factory=lambda: list[str]())
    # "corral" and every peer compared with it: interpreter and pinned distributions (``corral.bench.environment``)
    environments: dict[str, Environment] = field(default_factory=lambda: dict[str, Environment]())

    def arm(self, name: str) -> Arm | None:
        return next((a for a in self.arms if a.name == name), None)

    def metric(self, arm: str, key: str) -> Metric | None:
        found = self.arm(arm)
        return None if found is None else found.metric(key)

    @property
    def broken(self) -> list[str]:
        """Why this result should fail a smoke run: a crash, a failed arm, a violated invariant (never a timing)."""
        reasons = [f"{self.suite}: {self.status}"] if self.status != OK else []
        reasons += [f"{self.suite}: {a.name}: {a.status}" for a in self.arms if a.status.startswith("failed")]
        reasons += [f"{self.suite}: invariant broken: {c.name} ({c.detail})" for c in self.checks if not c.ok]
        return reasons

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=False)

    @classmethod
    def from_dict(cls, raw: SuiteResultJSON) -> SuiteResult:
        arms = [
            Arm(a["name"], a["description"], a["status"], [Metric(**m) for m in a["metrics"]], a["samples"])
            for a in raw["arms"]
        ]
        checks = [Check(**c) for c in raw["checks"]]
        return cls(
            raw["suite"],
            raw["quick"],
            raw["started_at"],
            raw["seconds"],
            raw["status"],
            raw["params"],
            raw["notes"],
            raw["machine"],
            arms,
            checks,
            raw["plots"],
            raw.get("environments", {}),
        )


def write(result: SuiteResult, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{result.suite}.json"
    path.write_text(result.to_json() + "\n")
    return path


def load_all(directory: Path) -> dict[str, SuiteResult]:
    """The latest result of every suite found in ``directory``."""
    found: dict[str, SuiteResult] = {}
    for path in sorted(directory.glob("*.json")):
        raw = json.loads(path.read_text())
        if isinstance(raw, dict) and "suite" in raw:
            result = SuiteResult.from_dict(cast(SuiteResultJSON, raw))  # a file of ours, from an earlier run
            found[result.suite] = result
    return found
