"""One chaos run: start the deployment, drive rounds of turns while the plan's faults strike, heal everything,
check the invariants, stop, check nothing is left behind.

Invariants:

* The run's randomness is its seed alone (``plan.make_plan``); the report names the seed and the rounds run, and
  ``replay`` is the command that runs the same plan again.
* Every wait is for a signal (a step's marker file, an event, a lease changing hands), bounded by ``WAIT``; a wait
  that runs out is a finding (a session stuck ``running`` …), reported with the seed, never retried away.
* Whatever happens, the deployment is stopped and its disks unmounted before ``run`` returns.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from corral.testing.chaos import invariants
from corral.testing.chaos.client import Client, Unanswered
from corral.testing.chaos.deployment import TURNS_PER_SESSION, Deployment
from corral.testing.chaos.faults import WAIT, Faults, Finding, Heal, Refused, unavailable
from corral.testing.chaos.plan import Strike, faults_for, strike_at
from corral.testing.disks import drain
from corral.testing.steps import release, started

Say = Callable[[str], None]


@dataclass
class Options:
    engine: str = "sqlite"
    seed: int = 0
    rounds: int = 4
    sessions: int = 2
    #: the faults to do (None: every fault the engine has)
    faults: list[str] | None = None
    #: a soak: run rounds until this many seconds have passed (``rounds`` is then a ceiling)
    duration: float | None = None
    root: Path | None = None


@dataclass
class Report:
    options: Options
    rounds: int = 0
    struck: list[str] = field(default_factory=lambda: list[str]())
    violations: list[str] = field(default_factory=lambda: list[str]())

    @property
    def ok(self) -> bool:
        return not self.violations

    def replay(self) -> str:
        o = self.options
        chosen = f" --faults {','.join(o.faults)}" if o.faults else ""
        return (
            f"corral chaos --engine {o.engine} --seed {o.seed} --rounds {self.rounds} --sessions {o.sessions}{chosen}"
        )


def refusals(options: Options) -> list[str]:
    """Why the run cannot do what it is asked (empty: it can)."""
    wanted = options.faults if options.faults is not None else faults_for(options.engine)
    return [f"{fault}: {why}" for fault in wanted if (why := unavailable(fault, options.engine)) is not None]


def run(options: Options, say: Say) -> Report:
    report = Report(options)
    with tempfile.TemporaryDirectory(prefix="corral-chaos-", dir=options.root) as scratch:
        deployment = Deployment(options.engine, Path(scratch))
        say(f"corral chaos: seed {options.seed}, engine {options.engine}, in {scratch}")
        try:
            deployment.start()
            client = Client(lambda: deployment.api_urls, deployment.api_key)
            try:
                _drive(deployment, client, options, report, say)
            finally:
                client.close()
        except (Finding, Unanswered, Refused) as exc:
            report.violations.append(f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # the harness itself failed (a restart that did not come up …): said with the seed
            report.violations.append(f"the run broke off: {type(exc).__name__}: {exc}")
        finally:
            deployment.stop()
        report.violations += invariants.leftovers(deployment)
    return report


@dataclass
class _Round:
    number: int
    turn: int
    sessions: list[str]
    sent: dict[str, str] = field(default_factory=lambda: dict[str, str]())


def _drive(deployment: Deployment, client: Client, options: Options, report: Report, say: Say) -> None:
    wanted = options.faults if options.faults is not None else faults_for(options.engine)
    every: list[str] = []
    current: list[str] = []
    faults = Faults(deployment, client, lambda: list(current), say)
    pending: list[Heal] = []
    ends = None if options.duration is None else time.monotonic() + options.duration
    for number in range(options.rounds):
        if ends is not None and time.monotonic() > ends:
            break
        turn = number % TURNS_PER_SESSION + 1
        if turn == 1:
            current[:] = [client.new_session(f"chaos-{number}-{i}") for i in range(options.sessions)]
            every += current
        report.rounds = number + 1
        this = _Round(number, turn, list(current))
        pending = _round(deployment, client, faults, this, strike_at(options.seed, number, wanted), pending, report)
        say(f"round {number} done ({len(every)} sessions so far)")
    for heal in pending:
        heal()
    deployment.restart_dead()
    _check(deployment, client, every, faults, report)


def _round(
    deployment: Deployment,
    client: Client,
    faults: Faults,
    this: _Round,
    strike: Strike | None,
    pending: list[Heal],
    report: Report,
) -> list[Heal]:
    """Send the round's turn, strike mid-flight or after it as planned; the heals still due after it."""
    for session_id in this.sessions:
        this.sent[session_id] = client.send(session_id, f"[chaos turn {this.turn} of {session_id}]")
    for session_id in this.sessions:
        _until(
            lambda s=session_id: started(deployment.workspace(s), this.turn) or _idle_after(client, s, this.sent[s]),
            f"step {this.turn} of {session_id} started",
        )
    heals: list[Heal] = []
    if strike is not None and strike.moment == "in_flight":
        heals += _strike(faults, strike, report)
    for session_id in this.sessions:
        _release(deployment, session_id, this.turn)
    if heals:  # the calls return into the damage; undone once they have
        for session_id in this.sessions:
            done = functools.partial(_returned, deployment, client, session_id, this)
            _until(done, f"step {this.turn} of {session_id} returned")
        for heal in heals:
            heal()
    for session_id in this.sessions:
        _until(lambda s=session_id: _idle_after(client, s, this.sent[s]), f"{session_id} idle after turn {this.turn}")
    for heal in pending:
        heal()
    return _strike(faults, strike, report) if strike is not None and strike.moment == "between" else []


def _returned(deployment: Deployment, client: Client, session_id: str, this: _Round) -> bool:
    """Whether the step's command has finished in its sandbox (or its turn ended without it)."""
    kept = deployment.workspace(session_id) / f"kept-{this.turn}.txt"
    return kept.exists() or _idle_after(client, session_id, this.sent[session_id])


def _strike(faults: Faults, strike: Strike, report: Report) -> list[Heal]:
    report.struck.append(strike.describe())
    heal = faults.strike(strike)
    return [] if heal is None else [heal]


def _release(deployment: Deployment, session_id: str, turn: int) -> None:
    try:
        release(deployment.workspace(session_id), turn)
    except OSError:  # the shared sandbox disk is full even for an empty file: free it, the fault has made its point
        drain(deployment.sandbox_disk)
        release(deployment.workspace(session_id), turn)


def _idle_after(client: Client, session_id: str, after: str) -> bool:
    events = client.events(session_id)
    ids = [str(e["id"]) for e in events]
    if after not in ids:
        return False
    return any(
        e.get("type") in ("session.status_idle", "session.status_terminated") for e in events[ids.index(after) :]
    )


def _until(probe: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    polls = 0
    while time.monotonic() < deadline:
        if probe():
            return
        polls += 1
        time.sleep(min(0.02 * polls, 0.25))  # noqa: TID251 - polling other processes' state
    raise Finding(f"never happened within {WAIT:.0f} s: {what}")


def _check(deployment: Deployment, client: Client, sessions: list[str], faults: Faults, report: Report) -> None:
    for session_id in sessions:
        report.violations += invariants.settled(client, session_id)
        report.violations += invariants.events_intact(client, session_id)
        report.violations += invariants.ran_once(deployment, client.events(session_id), session_id)
    for agent_id in faults.acked_agents:
        if client.call("GET", f"/v1/agents/{agent_id}").status_code != 200:
            report.violations.append(f"acknowledged agent {agent_id} is not stored")
    report.violations += [f"a 5xx that is no outage: {error}" for error in client.errors]
