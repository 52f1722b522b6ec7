"""Opening the systems the ``log`` suite compares; a system that cannot run becomes an unavailable arm."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import anyio.to_thread

from corral.bench import environment
from corral.bench.results import Arm, SuiteResult
from corral.bench.suite import Context
from corral.bench.suites.log import peer as peers
from corral.bench.suites.log.systems import CorralLog, PostgresFloor, SqliteFloor

PEER = "openhands-sdk"


@dataclass
class Systems:
    corral: dict[str, CorralLog] = field(default_factory=lambda: dict[str, CorralLog]())
    floors: dict[str, SqliteFloor | PostgresFloor] = field(
        default_factory=lambda: dict[str, SqliteFloor | PostgresFloor]()
    )
    peer: peers.PeerProcess | None = None


def _arm(result: SuiteResult, name: str, description: str) -> Arm:
    arm = Arm(name, description)
    result.arms.append(arm)
    return arm


async def _open_sqlite(ctx: Context, result: SuiteResult, stack: AsyncExitStack, systems: Systems) -> None:
    for suffix, sync, why in (
        ("", "NORMAL", "corral's default: survives kill -9, not a power cut"),
        ("-full", "FULL", "fsync at every commit: survives a power cut"),
    ):
        corral = CorralLog(f"corral/sqlite{suffix}", f"sqlite:///{ctx.scratch / f'corral{suffix}.db'}", sync)
        _arm(result, corral.name, f"SessionStore on SQLite, WAL, synchronous={sync} ({why})")
        await corral.open()
        stack.push_async_callback(corral.aclose)
        systems.corral[corral.name] = corral
        floor = SqliteFloor(f"floor/sqlite{suffix}", ctx.scratch / f"floor{suffix}.db", sync)
        _arm(result, floor.name, f"bare sqlite3: BEGIN; one INSERT of the same row; COMMIT (WAL, synchronous={sync})")
        await floor.open()
        stack.push_async_callback(floor.aclose)
        systems.floors[floor.name] = floor


async def _open_postgres(ctx: Context, result: SuiteResult, stack: AsyncExitStack, systems: Systems) -> None:
    pg = ctx.postgres
    settings = ", ".join(f"{k}={v}" for k, v in pg.settings.items() if k != "version")
    corral_arm = _arm(
        result, "corral/postgres", f"SessionStore on PostgreSQL {pg.settings.get('version', '?')} ({settings})"
    )
    floor_arm = _arm(result, "floor/postgres", "bare asyncpg autocommit INSERT of the same row, same server")
    if pg.unavailable:
        corral_arm.not_measured(pg.unavailable)
        floor_arm.not_measured(pg.unavailable)
        return
    corral = CorralLog(corral_arm.name, await pg.fresh_url())
    await corral.open()
    stack.push_async_callback(corral.aclose)
    floor = PostgresFloor(floor_arm.name, await pg.fresh_url())
    await floor.open()
    stack.push_async_callback(floor.aclose)
    systems.corral[corral.name], systems.floors[floor.name] = corral, floor


async def _open_peer(ctx: Context, result: SuiteResult, stack: AsyncExitStack, systems: Systems) -> None:
    arm = _arm(result, PEER, f"{peers.PACKAGE} {peers.VERSION}, driven through its public classes in a subprocess")
    if ctx.quick and not ctx.overrides.get("log.peer"):
        arm.not_measured("skipped by --quick (importing openhands-sdk alone takes 10-30 s); --set log.peer=true")
        return
    try:
        python = await anyio.to_thread.run_sync(peers.find_python, ctx.peer_python)
        venv_python = await peers.ensure_venv(ctx.data_dir, python, build=ctx.build_peers)
        process = peers.PeerProcess(venv_python, ctx.scratch / "peer", ctx.scratch / "peer.log")
        stack.push_async_callback(process.aclose)
        await process.start()
        result.environments[PEER] = found = await environment.of_interpreter(venv_python)
        result.params["peer_lock"] = {"file": peers.LOCK.name, "sha256_12": peers.lock_digest()}
        if off := peers.unpinned(found["distributions"]):
            result.notes.append(f"openhands-sdk's environment differs from {peers.LOCK.name}: {', '.join(off)}")
    except (peers.PeerUnavailable, OSError, TimeoutError) as exc:
        arm.not_measured(str(exc))
        return
    systems.peer = process
    version = process.versions or {"openhands_sdk": "?", "python": "?"}
    arm.description += (
        f" (openhands-sdk {version['openhands_sdk']} on Python {version['python']}; LocalFileStore:"
        " one file per event, atomic write + fsync)"
    )


async def open_systems(ctx: Context, result: SuiteResult, stack: AsyncExitStack) -> Systems:
    systems = Systems()
    await _open_sqlite(ctx, result, stack, systems)
    await _open_postgres(ctx, result, stack, systems)
    await _open_peer(ctx, result, stack, systems)
    return systems
