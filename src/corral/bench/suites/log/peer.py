"""The openhands-sdk peer: its own virtualenv (Python 3.12+) and a client for ``openhands_peer.py``.

Invariants:

* The peer runs in a separate process with its own interpreter; we talk to it over pipes, one JSON line
  per request and reply, so its measurements can be interleaved with ours round by round.
* The virtualenv lives under the data directory (never in git) and counts as built only once the
  install finished (a marker file); it is installed from ``openhands-sdk.lock`` (every dependency pinned), and its
  directory is named after the lock's digest, so a changed lock never reuses an environment built from another;
  a missing interpreter or a failed install makes the peer "not measured: <why>", never a crash.
* Building the virtualenv (network: PyPI) happens only when the caller allows it (not in ``--quick``).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, TypedDict, cast

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from corral.vocab.tools import BASH

PACKAGE = "openhands-sdk"
VERSION = "1.58.2"
SCRIPT = Path(__file__).with_name("openhands_peer.py")
#: the peer and every dependency, pinned: installed as constraints, so every distribution the install pulls in has
#: the version the lock names (a new lock builds a new virtualenv: its digest is in the directory's name)
LOCK = Path(__file__).with_name("openhands-sdk.lock")
_MARKER = ".corral-complete"
_PREFIX = b"@@peer "


class PeerUnavailable(Exception):
    """The peer cannot be measured here; the message says why."""


# The replies of ``openhands_peer.py`` (one JSON line each), by request.
class Versions(TypedDict):
    openhands_sdk: str
    python: str


class Samples(TypedDict):
    samples: list[float]


class Recovered(TypedDict):
    seconds: float
    events: int
    digest: str


def find_python(explicit: Path | None = None) -> Path | None:
    """An interpreter new enough for openhands-sdk (3.12+): ``explicit``, on PATH, or under pyenv."""
    candidates: list[Path] = [explicit] if explicit else []
    for name in ("python3.12", "python3.13", "python3.14"):
        if found := shutil.which(name):
            candidates.append(Path(found))
    pyenv = Path.home() / ".pyenv" / "versions"
    if pyenv.is_dir():
        for version in sorted(pyenv.iterdir(), reverse=True):
            if re.match(r"^3\.(1[2-9])\.\d+$", version.name):
                candidates.extend(sorted(version.glob("bin/python3.1[2-9]")))
    for candidate in candidates:
        if candidate.is_file() and _version_ok(candidate):
            return candidate
    return None


def _version_ok(python: Path) -> bool:
    try:
        out = subprocess.run(
            [str(python), "-c", "import sys; print(sys.version_info[:2] >= (3, 12))"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip() == "True"


def lock_digest() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()[:12]


def pinned() -> dict[str, str]:
    """The lock's pins: normalised distribution name → version."""
    found: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==", 1)
            found[_normal(name)] = version.strip()
    return found


def unpinned(distributions: list[str]) -> list[str]:
    """Installed distributions (``name==version``) whose version differs from the lock's, or that it does not
    name (pip's own tools excepted): empty when the peer's environment is the pinned one."""
    pins, tools = pinned(), {"pip", "setuptools", "wheel"}
    found: list[str] = []
    for item in distributions:
        name, _, version = item.partition("==")
        if _normal(name) not in tools and pins.get(_normal(name)) != version:
            found.append(item)
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def venv_dir(data_dir: Path) -> Path:
    return data_dir / "bench" / "peers" / f"{PACKAGE}-{VERSION}-{lock_digest()}"


async def ensure_venv(data_dir: Path, python: Path | None, *, build: bool) -> Path:
    """The peer's interpreter, building its virtualenv first when allowed. Raises ``PeerUnavailable``."""
    venv = venv_dir(data_dir)
    if (venv / _MARKER).exists():
        return venv / "bin" / "python"
    if python is None:
        raise PeerUnavailable(f"{PACKAGE} needs Python >= 3.12 and no such interpreter was found")
    if not build:
        raise PeerUnavailable("its virtualenv is not built yet (run `corral bench log` once, without --quick)")
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    for command in (
        [str(python), "-m", "venv", str(venv)],
        [
            str(venv / "bin" / "pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
            "--constraint",
            str(LOCK),
            f"{PACKAGE}=={VERSION}",
        ],
    ):
        result = await anyio.run_process(command, check=False)
        if result.returncode != 0:
            tail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise PeerUnavailable(f"installing {PACKAGE}=={VERSION} failed: {tail[0][:200]}")
    (venv / _MARKER).write_text(f"{PACKAGE}=={VERSION}\n")
    return venv / "bin" / "python"


class PeerProcess:
    """A running ``openhands_peer.py``; one method per request it serves."""

    def __init__(self, python: Path, workdir: Path, log: Path):
        self.python, self.workdir, self.log = python, workdir, log
        self._process: Process | None = None
        self._stdout: BufferedByteReceiveStream | None = None
        self.versions: Versions | None = None

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as errors:
            command = [str(self.python), str(SCRIPT), str(self.workdir), BASH]
            self._process = await anyio.open_process(command, stderr=errors)
        assert self._process.stdout is not None
        self._stdout = BufferedByteReceiveStream(self._process.stdout)
        with anyio.fail_after(180):
            self.versions = cast(Versions, await self._call("hello"))

    async def start_append(self, system: str, seed: int, n: int) -> None:
        await self._call("start_append", system=system, seed=seed, n=n)

    async def append(self, system: str, count: int) -> list[float]:
        return cast(Samples, await self._call("append", system=system, count=count))["samples"]

    async def fill(self, name: str, seed: int, n: int, scale: float) -> None:
        await self._call("fill", name=name, seed=seed, n=n, scale=scale)

    async def slice(self, name: str, starts: list[int], count: int) -> list[float]:
        return cast(Samples, await self._call("slice", name=name, starts=starts, count=count))["samples"]

    async def recover(self, name: str) -> Recovered:
        return cast(Recovered, await self._call("recover", name=name))

    async def _call(self, op: str, **fields: object) -> dict[str, Any]:
        """Send one request, return its reply: a JSON line from the peer's interpreter, taken as documented."""
        process, stdout = self._process, self._stdout
        assert process is not None and process.stdin is not None and stdout is not None
        await process.stdin.send((json.dumps({"op": op, **fields}) + "\n").encode())
        while True:
            try:
                line = await stdout.receive_until(b"\n", 64 * 1024 * 1024)
            except (anyio.EndOfStream, anyio.IncompleteRead) as exc:
                raise PeerUnavailable(f"the peer process exited (see {self.log})") from exc
            if line.startswith(_PREFIX):
                reply: dict[str, Any] = json.loads(line[len(_PREFIX) :])
                if not reply.pop("ok"):
                    raise RuntimeError(f"peer {op} failed: {reply.get('error')}")
                return reply

    async def aclose(self) -> None:
        if self._process is None:
            return
        if self._process.stdin is not None:
            await self._process.stdin.aclose()
        with anyio.move_on_after(10):
            await self._process.wait()
        if self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        await self._process.aclose()
        self._process = None


class PeerLog:
    """One openhands-sdk write path (``eventlog``: ``EventLog.append``; ``state``: ``append_event``)."""

    def __init__(self, name: str, process: PeerProcess, system: str):
        self.name, self.process, self.system = name, process, system

    async def start_append(self, seed: int, n: int) -> None:
        await self.process.start_append(self.system, seed, n)

    async def append(self, count: int) -> list[float]:
        return await self.process.append(self.system, count)
