"""What must hold after a chaos run, each check returning its violations (an empty list: it holds).

* ``events_intact``: every acknowledged ``user.message`` is stored exactly once, in acknowledgement order; no
  event id appears twice; every API process lists the same events.
* ``settled``: every session ends ``idle`` or ``terminated``, none stuck ``running`` or ``rescheduling``.
* ``ran_once``: no step ran twice (the ledger in the workspace, ``corral.testing.steps``), no tool call has two
  results, and a step whose result says it finished ran exactly once.
* ``leftovers``: once the deployment is stopped, no process, mount, loop device or cgroup of it is left.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

from corral._types import JSONObject, json_object
from corral.sandbox.local.cgroups import CONTROLLERS
from corral.sandbox.local.cgroups import ROOT as CGROUPS
from corral.sandbox.runtime import runtime_dir
from corral.testing.chaos.client import Client
from corral.testing.chaos.deployment import Deployment
from corral.testing.steps import executions

_STEP = re.compile(r"runs-(\d+)\.log")


def events_intact(client: Client, session_id: str) -> list[str]:
    lists = [_events_from(client, url, session_id) for url in client.urls()]
    events = lists[0]
    problems = [f"{session_id}: API processes list different events" for other in lists[1:] if other != events]
    ids = [str(e["id"]) for e in events]
    twice = [i for i, count in Counter(ids).items() if count > 1]
    if twice:
        problems.append(f"{session_id}: event ids stored twice: {twice}")
    acked = client.acked.get(session_id, [])
    for event_id in acked:
        if ids.count(event_id) != 1:
            problems.append(f"{session_id}: acknowledged {event_id} stored {ids.count(event_id)} times")
    stored_order = [i for i in ids if i in acked]
    if stored_order != [i for i in acked if i in ids]:
        problems.append(f"{session_id}: acknowledged messages stored out of order")
    return problems


def _events_from(client: Client, url: str, session_id: str) -> list[JSONObject]:
    one = Client(lambda: [url], client.api_key)
    try:
        return one.events(session_id)
    finally:
        one.close()


def settled(client: Client, session_id: str) -> list[str]:
    status = client.status(session_id)
    return [] if status in ("idle", "terminated") else [f"{session_id}: ended {status}"]


def ran_once(deployment: Deployment, events: list[JSONObject], session_id: str) -> list[str]:
    problems: list[str] = []
    steps: dict[str, int] = {}
    results: Counter[str] = Counter()
    finished: set[int] = set()
    for event in events:
        if event.get("type") == "agent.tool_use":
            command = str((json_object(event.get("input")) or {}).get("command", ""))
            if found := _STEP.search(command):
                steps[str(event["id"])] = int(found.group(1))
        elif event.get("type") == "agent.tool_result":
            use = str(event.get("tool_use_id"))
            results[use] += 1
            n = steps.get(use)
            if n is not None and not event.get("is_error") and f"step {n} done" in str(event.get("content")):
                finished.add(n)
    problems += [f"{session_id}: tool call {use} has {count} results" for use, count in results.items() if count > 1]
    workspace = [deployment.workspace(session_id)]
    for n in sorted(set(steps.values())):
        ran = len(executions(workspace, n))
        if ran > 1:
            problems.append(f"{session_id}: step {n} ran {ran} times")
        if n in finished and ran != 1:
            problems.append(f"{session_id}: step {n} finished but its ledger counts {ran} runs")
    return problems


def leftovers(deployment: Deployment) -> list[str]:
    roots = [*(str(r) for r in deployment.roots()), *(str(runtime_dir(d)) for d in deployment.data_dirs())]
    return [*_processes(deployment, roots), *_mounts(roots), *_loops(deployment.root), *_cgroups(deployment.pids)]


def _processes(deployment: Deployment, roots: list[str]) -> list[str]:
    found: list[str] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state == "Z":
            continue  # exited; PID 1 reaps it when it gets to it
        if int(entry.name) in deployment.pids or any(root in command for root in roots):
            found.append(f"process {entry.name} left running: {command[:200]}")
    return found


def _mounts(roots: list[str]) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [f"mount left: {p}" for p in points if any(p == r or p.startswith(r + "/") for r in roots)]


def _loops(root: Path) -> list[str]:
    listed = subprocess.run(
        ["losetup", "-l", "-n", "-O", "NAME,BACK-FILE"], capture_output=True, text=True, check=False
    )
    return [f"loop device left: {line.strip()}" for line in listed.stdout.splitlines() if str(root) in line]


def _cgroups(pids: set[int]) -> list[str]:
    found: list[str] = []
    for controller in CONTROLLERS:
        base = CGROUPS / controller / "corral"
        if base.is_dir():
            for owner in base.iterdir():
                pid = owner.name.rsplit("-", 1)[-1]
                if pid.isdigit() and int(pid) in pids:
                    found.append(f"cgroup left: {owner}")
    return found
