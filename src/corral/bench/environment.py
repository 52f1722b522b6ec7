"""The Python environments a run compared: interpreter and every installed distribution, pinned.

Invariants: what is recorded is read from the interpreter itself (``sys``, ``importlib.metadata``), never typed in;
the peer's environment is read by running its own interpreter, so the record is the peer's, not ours; the
distribution list is complete and sorted (``name==version``), so a run can be reproduced with ``pip install``.
"""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import TypedDict, cast

import anyio


class Environment(TypedDict):
    interpreter: str  # the executable's path
    python: str  # version
    implementation: str
    distributions: list[str]  # every installed distribution as name==version, sorted by name


# Runs in the interpreter being described (the peer's may lack everything of ours); prints one JSON line.
_PROBE = """
import importlib.metadata as m, json, platform, sys
found = {(d.metadata["Name"] or "?"): d.version for d in m.distributions()}
print(json.dumps({
    "interpreter": sys.executable,
    "python": platform.python_version(),
    "implementation": platform.python_implementation(),
    "distributions": [f"{n}=={v}" for n, v in sorted(found.items(), key=lambda kv: kv[0].lower())],
}))
"""


def own() -> Environment:
    """This interpreter's environment (corral's side of every comparison); the same record ``_PROBE`` prints."""
    found = {(d.metadata["Name"] or "?"): d.version for d in metadata.distributions()}
    return {
        "interpreter": sys.executable,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "distributions": [f"{n}=={v}" for n, v in sorted(found.items(), key=lambda kv: kv[0].lower())],
    }


async def of_interpreter(python: Path) -> Environment:
    """The environment of another interpreter (a peer's virtualenv), read by running it."""
    done = await anyio.run_process([str(python), "-c", _PROBE], check=True)
    return _parse(done.stdout.decode())


def _parse(line: str) -> Environment:
    return cast(Environment, json.loads(line))  # printed by _PROBE, in the interpreter it describes
