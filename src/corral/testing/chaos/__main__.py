"""``python -m corral.testing.chaos``: what ``corral chaos`` runs (``corral.cli.chaos``).

Exit status: 0 when every invariant held, 1 when one broke (the seed and the replay command are printed), 2 when
the run was refused (a fault this machine cannot do, not root, no bubblewrap).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import time
from pathlib import Path

from corral.testing.chaos import FAULTS, Options, refusals, run
from corral.testing.chaos.deployment import ENGINES


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="corral chaos", description=__doc__)
    parser.add_argument("--engine", choices=ENGINES, default="sqlite")
    parser.add_argument("--seed", type=int, default=None, help="the plan's seed (default: a fresh one, printed)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of turns (default 4; a soak: no limit)")
    parser.add_argument("--sessions", type=int, default=2, help="sessions taking a turn each round")
    parser.add_argument("--faults", default=None, help=f"comma-separated, among {', '.join(FAULTS)} (default: all)")
    parser.add_argument("--soak", action="store_true", help="run rounds until --duration has passed")
    parser.add_argument("--duration", type=float, default=1800.0, help="a soak's length in seconds (default 1800)")
    parser.add_argument("--root", type=Path, default=None, help="where the run's files go (default: a temp dir)")
    args = parser.parse_args(argv)
    faults = None if args.faults is None else [f.strip() for f in str(args.faults).split(",") if f.strip()]
    unknown = [f for f in faults or [] if f not in FAULTS]
    if unknown:
        parser.error(f"unknown fault(s) {', '.join(unknown)}; choose among {', '.join(FAULTS)}")
    seed = args.seed if args.seed is not None else secrets.randbelow(1 << 31)
    rounds = args.rounds if args.rounds is not None else (1 << 30 if args.soak else 4)
    duration = args.duration if args.soak else None
    return Options(args.engine, seed, rounds, args.sessions, faults, duration, args.root)


def machine_refusals() -> list[str]:
    found: list[str] = []
    if os.geteuid() != 0:
        found.append("the sandboxes and the disk faults need root")
    if shutil.which("bwrap") is None:
        found.append("the sandboxes need bubblewrap (apt-get install bubblewrap)")
    return found


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    refused = machine_refusals() + refusals(options)
    if refused:
        for why in refused:
            print(f"corral chaos: refused: {why}", file=sys.stderr)
        print("corral chaos: choose the faults this machine can do with --faults", file=sys.stderr)
        return 2
    began = time.monotonic()
    report = run(options, lambda line: print(f"[{time.monotonic() - began:7.1f}s] {line}", flush=True))
    for struck in report.struck:
        print(f"  struck {struck}")
    if report.ok:
        done = f"seed {options.seed}, {report.rounds} rounds, {len(report.struck)} faults"
        print(f"corral chaos: every invariant held ({done})")
        return 0
    for violation in report.violations:
        print(f"  VIOLATED {violation}")
    print(f"corral chaos: FAILED with seed {options.seed}; replay: {report.replay()}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
