"""``python -m tools.conformance``: the SDK's generated tests against a live corral (see ``tools.conformance``).

    python -m tools.conformance fetch                      # download the pinned SDK's tests once (script/setup)
    python -m tools.conformance run [--engine sqlite] …    # run, write PARITY.md, check the baseline
    python -m tools.conformance run --update-baseline      # … and record the run as the new baseline

Exit status of ``run``: 0 when nothing that passed before got worse, 1 otherwise (each regression is printed).
"""

from __future__ import annotations

import argparse
import os
import sys

from tools.conformance.sdk import fetch, installed_version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.conformance", description="the SDK's generated tests against a live corral"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("fetch", help="download the installed SDK version's generated tests (cached)")
    runner = commands.add_parser("run", help="run them against corral on each engine")
    runner.add_argument("--engine", action="append", choices=["sqlite", "postgres"], help="default: both")
    runner.add_argument("--postgres-url", default=os.environ.get("CORRAL_TEST_POSTGRES_URL"))
    runner.add_argument("--update-baseline", action="store_true", help="record this run as the baseline")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(f"conformance: SDK tests in {fetch(installed_version())}")
        return 0
    from tools.conformance.check import run  # heavy (the SDK, the servers): not for `fetch`, run by script/setup

    return run(args.engine or ["sqlite", "postgres"], args.postgres_url, args.update_baseline)


if __name__ == "__main__":
    sys.exit(main())
