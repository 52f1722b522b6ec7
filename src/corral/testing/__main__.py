"""``python -m corral.testing --script script.json [--host 127.0.0.1] [--port 0]``: a scripted model server.

Prints ``listening http://HOST:PORT`` on stdout once it accepts connections, then serves until SIGTERM or
SIGINT. The script format is described in ``corral.testing.script``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

import anyio

from corral.testing.http import serve
from corral.testing.script import Script
from corral.testing.server import ScriptedApp


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m corral.testing", description="A scripted model server.")
    parser.add_argument("--script", required=True, type=Path, help="the script, as JSON")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default=0, type=int)
    args = parser.parse_args(argv)
    app = ScriptedApp(Script.from_json(json.loads(args.script.read_text())))

    async def run() -> None:
        stop = anyio.Event()

        def ready(port: int) -> None:
            print(f"listening http://{args.host}:{port}", flush=True)

        async with anyio.create_task_group() as group:
            group.start_soon(serve, app, args.host, args.port, ready, stop)
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    stop.set()
                    break

    anyio.run(run)
    sys.exit(0)


if __name__ == "__main__":
    main()
