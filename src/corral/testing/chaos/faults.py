"""The faults of a chaos run (``plan``), each done for real to the deployment's processes and disks.

``strike`` does one fault and returns what undoes it, if anything is left to undo: a fault struck in flight is
undone once the round's calls have returned (so that the workers meet the damage as they record the results), one
struck between rounds at the end of the next round.
Every wait here is for a signal from the system (a lease changing hands, an answer from the API), bounded by
``WAIT``; a fault whose expected reaction never comes is a finding (``Finding``), never a silent pass.

Invariant: ``unavailable(fault, engine)`` says why a fault cannot be done on this machine or engine; the run
refuses such a fault before it starts rather than pretend to have done it.
"""

from __future__ import annotations

import functools
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from corral._types import JSONObject
from corral.sandbox.local.disk import mounted
from corral.testing.chaos.client import Client
from corral.testing.chaos.deployment import Deployment
from corral.testing.chaos.plan import ENGINE_ONLY, Strike
from corral.testing.disks import LoopFilesystem, drain, fill
from corral.testing.postgres import unavailable as postgres_unavailable
from corral.testing.processes import CorralProcess

WAIT = 120.0
Heal = Callable[[], None]


class Finding(AssertionError):
    """The system did not react to a fault as it must."""


class Refused(RuntimeError):
    """A fault this machine cannot do (said, never pretended)."""


@dataclass
class Faults:
    deployment: Deployment
    client: Client
    sessions: Callable[[], list[str]]
    log: Callable[[str], None]
    #: agents acknowledged while a disk was being filled (each must be stored)
    acked_agents: list[str] = field(default_factory=lambda: list[str]())

    def strike(self, strike: Strike) -> Heal | None:
        match strike.fault:
            case "kill_api":
                api = self.deployment.apis[strike.pick % len(self.deployment.apis)]
                self._restarted(api, "API process")
            case "kill_worker":
                self._restarted(self._holder(strike.pick), "worker")
            case "pause_worker":
                return self._pause_past_lease(strike.pick)
            case "kill_postgres":
                assert self.deployment.postgres is not None
                self.deployment.postgres.kill()
                self.log("killed PostgreSQL (-9, every server process)")
                self.deployment.postgres.start()
            case "fill_sqlite_disk":
                return self._fill_sqlite_disk(keep_full=strike.moment == "in_flight")
            case "fill_sandbox_disk":
                if not mounted(self.deployment.sandbox_disk):  # filling it would fill the host's disk
                    raise Refused("the sandboxes' workspaces are not on a filesystem of their own (no btrfs)")
                taken = fill(self.deployment.sandbox_disk)
                self.log(f"filled the shared sandbox disk ({taken >> 20} MiB preallocated)")
                return lambda: drain(self.deployment.sandbox_disk)
            case _:
                raise ValueError(f"unknown fault {strike.fault}")
        return None

    def _restarted(self, process: CorralProcess, what: str) -> None:
        pid = process.pid
        process.kill()
        self.log(f"killed {what} {pid} (-9)")
        self.deployment.launch(process)

    def _holder(self, pick: int) -> CorralProcess:
        """A worker holding a lease now (the picked one when none does)."""
        owners = self.deployment.lease_owners() or {}
        holders = [w for w in (self.deployment.worker_of(o) for o in sorted(owners.values())) if w is not None]
        candidates = holders or [w for w in self.deployment.workers if w.alive]
        return candidates[pick % len(candidates)]

    def _pause_past_lease(self, pick: int) -> Heal | None:
        """Pause a lease holder until its sessions are taken over; one holding none stays paused until healed."""
        worker = self._holder(pick)
        held = {sid for sid, owner in (self.deployment.lease_owners() or {}).items() if self._is(worker, owner)}
        process = worker.process
        assert process is not None
        process.send_signal(signal.SIGSTOP)
        self.deployment.paused.add(worker.pid)
        self.log(f"paused worker {worker.pid} (SIGSTOP) holding {len(held)} session(s)")
        if not held:
            return functools.partial(self._continue, worker)
        try:
            deadline = time.monotonic() + WAIT
            while held and time.monotonic() < deadline:
                owners = self.deployment.lease_owners()
                if owners is not None:
                    held = {sid for sid in held if self._is(worker, owners.get(sid))}
                _pause()
            if held:
                raise Finding(f"no other worker took over {sorted(held)} from a paused worker")
        finally:
            self._continue(worker)
        return None

    def _continue(self, worker: CorralProcess) -> None:
        if worker.process is not None and worker.alive:
            worker.process.send_signal(signal.SIGCONT)
        self.deployment.paused.discard(worker.pid)
        self.log(f"continued worker {worker.pid} (SIGCONT)")

    @staticmethod
    def _is(worker: CorralProcess, owner: str | None) -> bool:
        return owner is not None and owner.split(":")[1] == str(worker.pid)

    def _fill_sqlite_disk(self, *, keep_full: bool) -> Heal | None:
        """Fill, write until refused (a 503 with retry-after, never a 500), read; free it at once, or once the
        round's calls have returned (``keep_full``: the workers record their results on a full disk)."""
        assert self.deployment.dbfs is not None
        mount = self.deployment.dbfs.mount
        taken = fill(mount, slack=0)
        self.log(f"filled the SQLite filesystem ({taken >> 10} KiB preallocated)")
        try:
            refused = self._write_until_refused()
            if refused is None:
                raise Finding("writes were still acknowledged with the SQLite disk full (after 400 agents)")
            self.log(f"a write on the full disk: {refused}")
            for session_id in self.sessions():
                self.client.status(session_id)  # reads go on
        except BaseException:
            drain(mount)
            raise
        if keep_full:
            return self._free_sqlite_disk
        self._free_sqlite_disk()
        return None

    def _free_sqlite_disk(self) -> None:
        assert self.deployment.dbfs is not None
        drain(self.deployment.dbfs.mount)
        self.log("freed the SQLite filesystem")
        self.acked_agents.append(str(self.client.ok("POST", "/v1/agents", _agent("after-full"))["id"]))

    def _write_until_refused(self) -> str | None:
        for i in range(400):
            response = self.client.attempt("POST", "/v1/agents", _agent(f"filler-{i}"))
            if response is None:
                continue
            if response.status_code < 300:
                self.acked_agents.append(str(response.json()["id"]))
                continue
            retry_after = response.headers.get("retry-after")
            if response.status_code != 503 or retry_after is None:
                raise Finding(f"a write on a full disk got {response.status_code}: {response.text[:300]}")
            return f"503, retry-after {retry_after}: {response.json()['error']['message']}"
        return None


def _agent(name: str) -> JSONObject:
    return {"name": name, "model": "claude-sonnet-4-6", "system": "x" * 60_000}


def unavailable(fault: str, engine: str) -> str | None:
    """Why ``fault`` cannot be done in a run on ``engine`` here (None: it can)."""
    only = ENGINE_ONLY.get(fault)
    if only is not None and only != engine:
        return f"{fault} needs the {only} engine"
    if fault == "kill_postgres":
        return postgres_unavailable()
    if fault == "fill_sqlite_disk":
        return LoopFilesystem.unavailable()
    if fault == "fill_sandbox_disk" and not (shutil.which("mkfs.btrfs") and shutil.which("btrfs")):
        return "the shared sandbox disk is a filesystem of its own only with btrfs (apt-get install btrfs-progs)"
    return None


def _pause() -> None:
    time.sleep(0.05)  # noqa: TID251 - polling other processes' state
