"""The ``scale`` suite: N ``corral serve`` (API only) + M ``corral worker`` processes on one PostgreSQL, turns/s
and CPU per turn as processes are added, and what the database can take (issue 14, item 5).

Arms:

* ``db-floor``: the PostgreSQL server's capacity for the kind of write a turn makes: ``clients`` connections, each
  committing one-row INSERT transactions back to back (commits/s), and one connection alone (latency of a commit).
* ``<N>s<M>w`` for each topology: ``sessions`` sessions spread over the API processes, each running text-only turns
  back to back (closed loop; the scripted model answers at once). After a warm-up, ``windows`` windows of
  ``window_turns`` turns each record turns/s, CPU-milliseconds per turn (every corral process: serve and worker,
  user + system, from ``/proc``), the database server's CPU per turn, commits per turn
  (``pg_stat_database.xact_commit``) and the connections each process holds (``pg_stat_activity``, one
  ``application_name`` per process).
* ``ratios``: turns per CPU-second of the corral processes with two worker processes ÷ with one (the "per core"
  figure: a drop means work added by coordination, not by the turns), and the implied sizing: how many worker
  cores at the measured CPU per turn one such PostgreSQL would sustain at its measured commit capacity.
* ``sse-fanout-2p``: one session's events to ``subscribers`` SSE streams split over two ``corral serve`` processes
  (a ``corral worker`` writes them, so both learn of each through NOTIFY), while other sessions run turns.

Invariants: every process is started with an explicit environment (``corral.bench.procs``) and stopped whatever
happens; sessions are created and driven through the HTTP API only; a window is counted from turns that ended
inside it, so a slow turn is never dropped; the figures are CPU-normalised, so a busy machine slows the run but
biases the per-turn figures only through cache and scheduler effects (the run is marked provisional then).
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx

from corral.bench import pg, stats
from corral.bench.cpu import process_seconds
from corral.bench.measure import add_ratio, add_value, phase
from corral.bench.procs import Child, CorralServe, ModelServer, corral_env
from corral.bench.results import NOT_MEASURED, Arm, Check, Metric, SuiteResult
from corral.bench.suite import Context, Suite
from corral.bench.suites.api.client import client, new_session, send_message, setup_agent, watching
from corral.bench.suites.api.phases import fanout, model_script
from corral.bench.suites.recovery.scenario import wait_running

#: the most connections one process may hold: two pools of 10 (writes, reads) and the LISTEN connection
#: (``corral.db.postgres.database``)
CONNECTION_BOUND = 21
#: sessions running turns back to back while the fan-out is measured
_BACKGROUND = 4
_INSERT = "INSERT INTO floor (session_id, payload) VALUES ($1, $2)"


@dataclass(frozen=True)
class Topology:
    serves: int
    workers: int

    @property
    def name(self) -> str:
        return f"{self.serves}s{self.workers}w"


@dataclass
class Window:
    turns: int
    seconds: float
    corral_cpu: float
    db_cpu: float
    commits: int
    writes: int  # writing transactions (each took a transaction id)

    @property
    def cpu_ms_per_turn(self) -> float:
        return 1000.0 * self.corral_cpu / self.turns

    @property
    def turns_per_cpu_second(self) -> float:
        return self.turns / self.corral_cpu if self.corral_cpu > 0 else 0.0


@dataclass
class Counter:
    """Turns ended so far, and a signal each time one ends."""

    done: int = 0
    errors: list[str] = field(default_factory=lambda: list[str]())
    changed: anyio.Event = field(default_factory=anyio.Event)

    def tick(self) -> None:
        self.done += 1
        self.changed.set()
        self.changed = anyio.Event()

    async def reach(self, count: int) -> None:
        while self.done < count and not self.errors:
            await self.changed.wait()
        if self.errors:
            raise RuntimeError(self.errors[0])


class ApiOnly(CorralServe):
    """A further ``corral serve`` on a database another one created: it prints no key, so it is ready at /healthz."""

    def __init__(self, env: dict[str, str], log: Path, key: str):
        super().__init__(env, log)
        self.key = key

    async def start(self) -> None:
        await Child.start(self)
        async with httpx.AsyncClient() as http:
            with anyio.fail_after(180):
                while True:
                    try:
                        if (await http.get(self.url + "/healthz")).status_code == 200:
                            return
                    except httpx.HTTPError:
                        pass
                    await anyio.sleep(0.1)


async def run(ctx: Context, result: SuiteResult) -> None:
    topologies = [Topology(s, w) for s, w in ctx.pick("scale.topologies", [(1, 1), (1, 2)], [(1, 1), (1, 2), (2, 2)])]
    sessions, windows = ctx.pick("scale.sessions", 6, 24), ctx.pick("scale.windows", 5, 8)
    window_turns, clients = ctx.pick("scale.window_turns", 30, 150), ctx.pick("scale.db_clients", 8, 32)
    result.params.update(
        {
            "topologies": [t.name for t in topologies],
            "sessions": sessions,
            "windows": windows,
            "window_turns": window_turns,
            "db_clients": clients,
        }
    )
    floor = Arm("db-floor", f"one-row INSERT transactions: {clients} connections at once, and one alone")
    arms = {
        t.name: Arm(t.name, f"{t.serves} corral serve + {t.workers} corral worker, {sessions} sessions")
        for t in topologies
    }
    ratios = Arm("ratios", "quotients of medians over windows, with 95% bootstrap intervals")
    subscribers = ctx.pick("scale.subscribers", 20, 200)
    result.params["subscribers"] = subscribers
    fan = Arm(
        "sse-fanout-2p",
        f"{subscribers} SSE subscribers of one session, half on each of 2 corral serve (1 corral worker), while"
        f" {_BACKGROUND} other sessions run turns back to back",
    )
    result.arms += [floor, *arms.values(), ratios, fan]
    if ctx.postgres.unavailable:
        for arm in result.arms:
            arm.status = f"{NOT_MEASURED}: {ctx.postgres.unavailable}"
        return
    with phase(result, "db-floor"):
        await _db_floor(ctx, floor, clients)
    measured: dict[str, list[Window]] = {}
    tick = ctx.progress.task("scale · topologies", len(topologies))
    for topology in topologies:
        with phase(result, topology.name):
            measured[topology.name] = await _topology(
                ctx, arms[topology.name], topology, sessions, windows, window_turns
            )
        tick(1)
    _ratios(ratios, floor, measured)
    _checks(result, arms.values())
    with phase(result, fan.name):
        await _fanout(ctx, fan, subscribers)


async def _fanout(ctx: Context, arm: Arm, subscribers: int) -> None:
    """One session's events to ``subscribers`` streams split over two API processes: each learns of an event
    the worker process wrote from PostgreSQL's NOTIFY, then reads it from the log."""
    async with AsyncExitStack() as stack:
        _, serves, _ = await _deploy(ctx, stack, arm.name, Topology(2, 1))
        clients = [await stack.enter_async_context(client(s.url, serves[0].key, subscribers + 50)) for s in serves]
        ids = await setup_agent(clients[0], "fanout")
        counter = Counter()
        async with anyio.create_task_group() as group:
            for index in range(_BACKGROUND):  # writes continuing meanwhile, through both processes
                group.start_soon(_drive, clients[index % 2], ids, counter)
            await counter.reach(_BACKGROUND)
            await fanout(clients[0], ids, arm, subscribers, ctx.pick("scale.fanout_turns", 2, 5), clients)
            group.cancel_scope.cancel()
    add_value(arm, "background.turns", "turns the other sessions ran meanwhile", float(counter.done), "turns")


def _checks(result: SuiteResult, arms: Iterable[Arm]) -> None:
    names = [arm.name for arm in arms]
    errors = sum(int(_value(result, name, "errors")) for name in names)
    most = max((int(_value(result, name, "connections.max")) for name in names), default=0)
    result.checks.append(Check("every turn of every topology ended, no stream failed", errors == 0, f"{errors} failed"))
    bound = f"no process holds more than {CONNECTION_BOUND} database connections"
    result.checks.append(Check(bound, most <= CONNECTION_BOUND, f"most held by one process: {most}"))


def _value(result: SuiteResult, arm: str, key: str) -> float:
    metric = result.metric(arm, key)
    return 0.0 if metric is None or metric.value is None else metric.value


async def _db_floor(ctx: Context, arm: Arm, clients: int) -> None:
    url = await ctx.postgres.fresh_url()
    setup = await pg.connect(url)
    try:
        await setup.execute("CREATE TABLE floor (id bigserial PRIMARY KEY, session_id text, payload text)")
    finally:
        await setup.close()
    seconds = ctx.pick("scale.db_floor_seconds", 2.0, 10.0)
    commits = [0] * clients
    latencies: list[float] = []

    async def writer(index: int, until: float) -> None:
        connection = await pg.connect(url)
        try:
            while time.perf_counter() < until:
                await connection.execute(_INSERT, "sesn", "{}")
                commits[index] += 1
        finally:
            await connection.close()

    until = time.perf_counter() + seconds
    async with anyio.create_task_group() as group:
        for index in range(clients):
            group.start_soon(writer, index, until)
    add_value(arm, "commits.rate", f"commits/s, {clients} connections at once", sum(commits) / seconds, "commits/s")
    connection = await pg.connect(url)
    try:
        stop = time.perf_counter() + seconds / 2
        while time.perf_counter() < stop:
            began = time.perf_counter()
            await connection.execute(_INSERT, "sesn", "{}")
            latencies.append(time.perf_counter() - began)
    finally:
        await connection.close()
    millis = [s * 1000.0 for s in latencies]
    arm.add(
        Metric.of("commit.p50", "one connection: a commit p50", stats.quantile_ci(millis, 0.5), "ms", n=len(millis))
    )


async def _topology(
    ctx: Context, arm: Arm, topology: Topology, sessions: int, windows: int, window_turns: int
) -> list[Window]:
    async with AsyncExitStack() as stack:
        url, serves, workers = await _deploy(ctx, stack, topology.name, topology)
        counter = Counter()
        found: list[Window] = []
        connections: dict[str, int] = {}
        async with anyio.create_task_group() as group:
            for index in range(sessions):
                serve = serves[index % len(serves)]
                http = await stack.enter_async_context(client(serve.url, serves[0].key, 8))
                if index < len(serves):
                    await setup_agent(http, f"scale-{index}")  # warms each process's catalog path
                ids = await _ids(http)
                group.start_soon(_drive, http, ids, counter)
            pids = [p.pid for p in (*serves, *workers)]
            db_pids = ctx.postgres.server_pids()
            await counter.reach(sessions * 2)  # warm-up: every session has run turns
            found += [await _window(counter, window_turns, pids, db_pids, url) for _ in range(windows)]
            connections.update(await _connections(url))
            group.cancel_scope.cancel()
    _record(arm, found, connections, counter)
    return found


async def _deploy(
    ctx: Context, stack: AsyncExitStack, name: str, topology: Topology
) -> tuple[str, list[CorralServe], list[Child]]:
    """A fresh database, a scripted model answering at once, and the topology's processes, stopped by ``stack``."""
    url = await ctx.postgres.fresh_url()
    scratch = ctx.scratch / name
    scratch.mkdir()
    model = ModelServer(model_script(0.0), scratch)
    stack.push_async_callback(model.aclose)
    await model.start()
    serves, workers = await _start(stack, scratch, model.url, url, topology)
    return url, serves, workers


async def _start(
    stack: AsyncExitStack, scratch: Path, model_url: str, url: str, topology: Topology
) -> tuple[list[CorralServe], list[Child]]:
    def env(name: str, **extra: str) -> dict[str, str]:
        named = f"{url}?application_name=corral-{name}"
        settings = {"CORRAL_DATABASE_URL": named, "CORRAL_WORKERS": "0", **extra}
        return corral_env(scratch / name, model_url, **settings)

    first = CorralServe(env("serve0"), scratch / "serve0.log")
    stack.push_async_callback(first.aclose)
    await first.start()  # it migrates the database and makes the key before anyone else opens it
    serves: list[CorralServe] = [first]
    for index in range(1, topology.serves):
        serve = ApiOnly(env(f"serve{index}"), scratch / f"serve{index}.log", first.key)
        stack.push_async_callback(serve.aclose)
        serves.append(serve)
    workers: list[Child] = []
    for index in range(topology.workers):
        log = scratch / f"worker{index}.log"
        worker = Child([sys.executable, "-m", "corral", "worker"], env(f"worker{index}", CORRAL_WORKERS="1"), log)
        stack.push_async_callback(worker.aclose)
        workers.append(worker)
    async with anyio.create_task_group() as starting:
        for serve in serves[1:]:
            starting.start_soon(serve.start)
        for worker in workers:
            starting.start_soon(_worker_started, worker)
    return serves, workers


async def _worker_started(worker: Child) -> None:
    await worker.start()
    assert worker.log is not None
    await wait_running(worker.log)


async def _ids(http: httpx.AsyncClient) -> tuple[str, str]:
    agents = (await http.get("/v1/agents", params={"limit": 1})).raise_for_status().json()["data"]
    environments = (await http.get("/v1/environments", params={"limit": 1})).raise_for_status().json()["data"]
    return str(agents[0]["id"]), str(environments[0]["id"])


async def _drive(http: httpx.AsyncClient, ids: tuple[str, str], counter: Counter) -> None:
    try:
        session_id = await new_session(http, *ids)
        async with watching(http, session_id, deltas=False) as stream:
            for turn in itertools.count():
                await send_message(http, session_id, f"question {turn}")
                await stream.wait_idles(turn + 1)
                if stream.error:
                    raise RuntimeError(stream.error)
                counter.tick()
    except (httpx.HTTPError, RuntimeError) as exc:
        counter.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        counter.changed.set()


def _cpu(pids: list[int]) -> float:
    """CPU seconds of the processes (their reaped children included), from ``/proc/<pid>/stat``."""
    total = 0.0
    for pid in pids:
        try:
            total += process_seconds(Path(f"/proc/{pid}/stat").read_text())[1]
        except OSError:
            pass
    return total


def _tree(roots: list[int]) -> list[int]:
    """The roots and every live descendant (PostgreSQL's backends are children of the postmaster)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = process_seconds((entry / "stat").read_text())[0]
            except OSError:
                pass
    found, frontier = list(roots), list(roots)
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


async def _counters(url: str) -> tuple[int, int]:
    """Transactions committed (``xact_commit``, read-only ones included; published with a lag) and the next
    transaction id (``xmax`` of a snapshot: only writing transactions take one, and reading it takes none)."""
    connection = await pg.connect(url)
    try:
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        value = await connection.fetchval("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        xid = await connection.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")
    finally:
        await connection.close()
    return int(str(value)), int(str(xid))


async def _window(counter: Counter, turns: int, pids: list[int], db_pids: list[int], url: str) -> Window:
    db_tree = _tree(db_pids)
    start_turns, start_cpu, start_db = counter.done, _cpu(pids), _cpu(db_tree)
    (start_commits, start_xid), began = await _counters(url), time.perf_counter()
    await counter.reach(start_turns + turns)
    seconds = time.perf_counter() - began
    done, cpu, db_cpu = counter.done - start_turns, _cpu(pids) - start_cpu, _cpu(db_tree) - start_db
    # the statistics are published at transaction end, flushed at most every second (PostgreSQL 15): the
    # commit count lags; over windows of seconds the lag is a small, equal error at both ends
    commits, xid = await _counters(url)
    return Window(done, seconds, cpu, db_cpu, commits - start_commits - 3, xid - start_xid)  # 3: our own reads


async def _connections(url: str) -> dict[str, int]:
    connection = await pg.connect(url)
    try:
        rows = await connection.fetchval(
            "SELECT coalesce(json_object_agg(application_name, n), '{}')::text FROM (SELECT application_name,"
            " count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name LIKE 'corral-%' GROUP BY application_name) AS per"
        )
    finally:
        await connection.close()
    found: dict[str, int] = json.loads(str(rows))
    return found


def _record(arm: Arm, windows: list[Window], connections: dict[str, int], counter: Counter) -> None:
    rates = [w.turns / w.seconds for w in windows]
    cpu = [w.cpu_ms_per_turn for w in windows]
    db = [1000.0 * w.db_cpu / w.turns for w in windows]
    commits = [w.commits / w.turns for w in windows]
    writes = [w.writes / w.turns for w in windows]
    arm.add(
        Metric.of("turns.rate", "turns/s (median over windows)", stats.quantile_ci(rates, 0.5), "turns/s", n=len(rates))
    )
    arm.add(
        Metric.of(
            "cpu_per_turn.p50", "CPU per turn, serve + worker processes", stats.quantile_ci(cpu, 0.5), "ms", n=len(cpu)
        )
    )
    arm.add(Metric.of("db_cpu_per_turn.p50", "PostgreSQL CPU per turn", stats.quantile_ci(db, 0.5), "ms", n=len(db)))
    label = "transactions per turn, read-only ones included (statistics published with up to 1 s lag)"
    arm.add(Metric.of("commits_per_turn.p50", label, stats.quantile_ci(commits, 0.5), "", n=len(commits)))
    label = "writing transactions per turn (each one a commit the database makes durable)"
    arm.add(Metric.of("writes_per_turn.p50", label, stats.quantile_ci(writes, 0.5), "", n=len(writes)))
    per_core = [w.turns_per_cpu_second for w in windows]
    arm.add(
        Metric.of(
            "per_core.p50",
            "turns per CPU-second of corral's processes",
            stats.quantile_ci(per_core, 0.5),
            "turns/s",
            n=len(per_core),
        )
    )
    arm.samples["per_core"] = per_core
    arm.samples["cpu_per_turn"] = cpu
    arm.samples["commits_per_turn"] = commits
    for name, count in sorted(connections.items()):
        add_value(arm, f"connections.{name}", f"database connections held by {name}", float(count), "")
    if connections:
        add_value(
            arm,
            "connections.max",
            "most database connections held by one process",
            float(max(connections.values())),
            "",
        )
    add_value(arm, "errors", "failed turns or streams", float(len(counter.errors)), "")


def _ratios(arm: Arm, floor: Arm, measured: dict[str, list[Window]]) -> None:
    one, two = measured.get("1s1w"), measured.get("1s2w")
    if one and two:
        add_ratio(
            arm,
            "per_core.2w.vs_1w",
            "turns per CPU-second: two worker processes ÷ one",
            [w.turns_per_cpu_second for w in two],
            [w.turns_per_cpu_second for w in one],
        )
    capacity = next((m.value for m in floor.metrics if m.key == "commits.rate"), None)
    if one and capacity:
        commits = stats.quantile([w.writes / w.turns for w in one], 0.5)
        cpu_s = stats.quantile([w.corral_cpu / w.turns for w in one], 0.5)
        turns_per_core = 1.0 / cpu_s if cpu_s > 0 else 0.0
        add_value(arm, "core.turns", "turns/s one core sustains (1 ÷ CPU per turn, 1s1w)", turns_per_core, "turns/s")
        if commits > 0 and turns_per_core > 0:
            cores = capacity / (commits * turns_per_core)
            add_value(
                arm,
                "db.worker_cores",
                "worker cores one such PostgreSQL sustains (commits/s ÷ writes per turn ÷ turns/s per core)",
                cores,
                "cores",
            )
            add_value(
                arm,
                "db.share_at_100",
                "share of the measured commit capacity 100 busy worker cores would use",
                100.0 / cores,
                "×",
            )


SUITE = Suite("scale", "N corral serve + M corral worker on one PostgreSQL; the scripted model server", run)
