"""A separate OS process that uses the session store, driven by the contract tests (``procs.Child``).

Run as ``python child.py <command> <database url> …``. It reports on stdout, one line per fact, flushed at
once, so the parent can act on each line (e.g. SIGSTOP right after an acknowledgement, kill -9 at a random
moment). Lines:

* ``open``: the database is open (with ``--wait``; the child then waits for a line on stdin);
* ``ready <last_seq>``: subscribed (``subscribe``) or fence taken (``hold``: ``ready <token>``; it then writes
  once per line it reads on stdin);
* ``ack <seq> <event id> <n>``: ``emit_event`` returned for the writer's n-th event (it is committed);
* ``got <seq> <event id> <type>``: a subscriber received an event; ``closed <reason>``: its stream ended;
* ``claimed <session id> <token>``: a lease was taken;
* ``lost``: a fenced write raised ``LeaseLost`` (the process then exits with status 0).
"""

from __future__ import annotations

import argparse
import sys

import anyio
import anyio.to_thread

from corral.db.engines import open_database
from corral.errors import LeaseLost
from corral.session import Closed, Event, Fence, NewEvent, SessionStore


def say(*parts: object) -> None:
    sys.stdout.write(" ".join(str(part) for part in parts) + "\n")
    sys.stdout.flush()


async def append(store: SessionStore, args: argparse.Namespace) -> None:
    """``count`` events from ``tasks`` concurrent tasks, each tagged ``{"tag", "n"}``."""
    numbers = iter(range(args.count))

    async def worker() -> None:
        for n in numbers:
            event = await store.emit_event(args.session, NewEvent("agent.message", {"tag": args.tag, "n": n}))
            say("ack", event.seq, event.id, n)

    async with anyio.create_task_group() as tg:
        for _ in range(args.tasks):
            tg.start_soon(worker)


async def hold(store: SessionStore, args: argparse.Namespace) -> None:
    """Take the session's lease, then write with the fence once per line on stdin, until it is lost."""
    fence = await store.claim_one(args.session, args.owner, args.ttl)
    if fence is None:
        raise SystemExit("could not take the lease")
    say("ready", fence.token)
    await write_fenced(store, fence)


async def write_fenced(store: SessionStore, fence: Fence) -> None:
    n = 0
    while await anyio.to_thread.run_sync(sys.stdin.readline):
        try:
            event = await store.emit_event(
                fence.session_id, NewEvent("agent.message", {"tag": "held", "n": n}), fence=fence
            )
        except LeaseLost:
            say("lost")
            return
        say("ack", event.seq, event.id, n)
        n += 1


async def subscribe(store: SessionStore, args: argparse.Namespace) -> None:
    async with store.subscribe(args.session) as subscriber:
        say("ready", subscriber.after)
        received = 0
        async for item in subscriber.receive:
            if isinstance(item, Closed):
                say("closed", item.reason)
                return
            if isinstance(item, Event):
                say("got", item.seq, item.id, item.type)
                received += 1
                if received == args.count:
                    return


async def claim(store: SessionStore, args: argparse.Namespace) -> None:
    """Claim in rounds until a round finds nothing; never release (the leases are long)."""
    while fences := await store.claim(args.owner, args.ttl, args.limit):
        for fence in fences:
            say("claimed", fence.session_id, fence.token)


COMMANDS = {"append": append, "hold": hold, "subscribe": subscribe, "claim": claim}


async def main(args: argparse.Namespace) -> None:
    db = open_database(args.url)
    await db.open()
    store = SessionStore(db)
    try:
        if args.wait:  # a start line for several processes: "open" now, act on "go"
            say("open")
            await anyio.to_thread.run_sync(sys.stdin.readline)
        await COMMANDS[args.command](store, args)
    finally:
        await store.aclose()
        await db.close()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("url")
    parser.add_argument("--session", default="")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--tasks", type=int, default=1)
    parser.add_argument("--tag", default="child")
    parser.add_argument("--owner", default="child")
    parser.add_argument("--ttl", type=float, default=30.0)
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--wait", action="store_true", help='print "open", then wait for a line on stdin')
    return parser.parse_args(argv)


if __name__ == "__main__":
    anyio.run(main, parse(sys.argv[1:]))
