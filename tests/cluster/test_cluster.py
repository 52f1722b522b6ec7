"""corral as a cluster of processes (``corral.testing.cluster``): sessions with tools keep their workspace whichever
worker and sandbox host run their turns, and survive a worker, a sandbox host and an API process each killed
(SIGKILL) while one of their tool calls is in flight: every session finishes, no file written in a finished turn
is lost, and no tool call runs twice."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from corral.testing.cluster import Cluster
from tests.cluster.conftest import (
    Turns,
    bash_outputs,
    executions,
    in_flight,
    lease_holder,
    listed,
    release,
    tool_results,
)

pytestmark = pytest.mark.timeout(900)  # the cluster starts in the first test: six processes on a busy machine


def test_two_turn_sessions_on_two_workers_keep_their_files(cluster: Cluster) -> None:
    """The scenario that lost files with a sandbox on each worker's own disk (2 of 4 sessions)."""
    turns = Turns(cluster)
    sessions = [turns.new_session() for _ in range(4)]
    outputs: dict[str, list[str]] = {sid: [] for sid in sessions}
    for n in (1, 2):
        sent = {sid: turns.send(sid, f"turn {n}", api=i % 2) for i, sid in enumerate(sessions)}
        for sid in sessions:  # all in flight at once, spread over both workers and both hosts
            host = in_flight(cluster, sid, n, lambda: False)
            assert host is not None
            release(cluster, host, sid, n)
        for i, sid in enumerate(sessions):
            outputs[sid] += bash_outputs(turns.until_idle(sid, sent[sid], api=i % 2))
    for sid in sessions:
        first, second = outputs[sid]
        assert listed(first, "kept-1.txt") == []
        assert listed(second, "kept-1.txt") == ["1"], second
        assert len(listed(second, "runs-1.log")) == 1, second
        assert all(len(executions(cluster, sid, n)) == 1 for n in (1, 2))


def test_sessions_survive_a_worker_a_host_and_an_api_process_killed_mid_call(cluster: Cluster) -> None:
    """One fault per turn, each while every session has a call in flight: turn 2 loses the worker that holds the
    first session, turn 3 the host that runs the second, turn 4 the API process the clients used (each stays dead:
    this test is the module's last); turns 5 and 6 read everything back. A host's death is a tool error, and so is
    the first call of a worker that still held a sandbox there (README: the next call gets a fresh sandbox
    elsewhere): such a turn runs no step."""
    turns = Turns(cluster)
    sessions = [turns.new_session() for _ in range(3)]
    results: dict[str, list[tuple[str, bool]]] = {sid: [] for sid in sessions}

    def turn(n: int, api: int, fault: Callable[[dict[str, int | None]], object] = lambda _: None) -> None:
        sent = {sid: turns.send(sid, f"turn {n}", api=api) for sid in sessions}
        running_on = {
            sid: in_flight(cluster, sid, n, functools.partial(turns.idle_after, sid, sent[sid])) for sid in sessions
        }
        fault(running_on)
        for sid, host in running_on.items():
            if host is not None:
                release(cluster, host, sid, n)
        for sid in sessions:
            events = turns.until_idle(sid, sent[sid], api=api)
            assert events[-1]["stop_reason"]["type"] == "end_turn", [e["type"] for e in events]
            (result,) = tool_results(events)
            results[sid].append(result)
            assert running_on[sid] is not None or (result[1] and "its host" in result[0]), result

    def kill_host(running_on: dict[str, int | None]) -> None:
        host = running_on[sessions[1]]
        assert host is not None
        cluster.hosts[host].kill()

    turn(1, api=0)
    turn(2, api=0, fault=lambda _: lease_holder(cluster, sessions[0]).kill())  # the other worker takes over
    turn(3, api=0, fault=kill_host)
    turn(4, api=0, fault=lambda _: cluster.serves[0].kill())  # the streams resume on the other API process
    turn(5, api=1)
    turn(6, api=1)

    with turns.client(1) as client:
        assert {client.beta.sessions.retrieve(sid).status for sid in sessions} == {"idle"}  # none stuck running
    for sid in sessions:
        read_back, failed = results[sid][-1]
        assert not failed, read_back
        for n, (_, failed) in enumerate(results[sid][:-1], start=1):
            ran = executions(cluster, sid, n)
            assert len(ran) <= 1 and len(listed(read_back, f"runs-{n}.log")) <= 1, (sid, n)  # never twice
            if not failed:  # a call that finished: it ran once, and its file is there in every later turn
                assert len(ran) == 1 and listed(read_back, f"kept-{n}.txt") == [str(n)], (sid, n, read_back)
