"""The SDK's own generated tests, taken from the pinned ``anthropic`` source distribution.

Invariants:

* The tests are fetched by package name from the registry (``pip download``), never vendored in this repository,
  and they always come from the same version as the SDK installed in ``.venv`` (a test file of another version
  would exercise parameters the installed client does not send).
* The cache (``.cache/conformance/anthropic-<version>/tests``) is filled atomically: a directory that exists is
  complete, so fetching is idempotent and a second call costs nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "conformance"


def installed_version() -> str:
    """The version of the ``anthropic`` package this interpreter imports."""
    return version("anthropic")


def sdk_root(sdk_version: str, cache: Path = CACHE) -> Path:
    """Where the extracted tests of ``sdk_version`` live (``<root>/tests/api_resources/beta``)."""
    return cache / f"anthropic-{sdk_version}"


def fetch(sdk_version: str, cache: Path = CACHE, pip: Path | None = None) -> Path:
    """Download ``anthropic==sdk_version``'s sdist once and keep its ``tests/`` tree; returns the root."""
    root = sdk_root(sdk_version, cache)
    if root.is_dir():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as scratch:
        tarball = _download(sdk_version, Path(scratch), pip)
        staged = Path(scratch) / "staged"
        _extract_tests(tarball, staged)
        staged.rename(root)
    return root


def _pip_command(pip: Path | None) -> list[str]:
    if pip is not None:
        return [str(pip)]
    bootstrap = REPO / ".tools" / "bin" / "pip"  # script/setup's bootstrap venv; uv's .venv has no pip
    return [str(bootstrap)] if bootstrap.exists() else [sys.executable, "-m", "pip"]


def _download(sdk_version: str, into: Path, pip: Path | None) -> Path:
    # --no-binary for anthropic only: its build backend (hatchling) may come as a wheel to prepare the metadata.
    command = [*_pip_command(pip), "download", "--quiet", "--disable-pip-version-check", "--no-deps"]
    command += ["--no-binary", "anthropic", "--dest", str(into), f"anthropic=={sdk_version}"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    found = sorted(into.glob(f"anthropic-{sdk_version}.tar.gz"))
    if not found:
        raise RuntimeError(f"pip download left no source distribution of anthropic {sdk_version} in {into}")
    return found[0]


def _extract_tests(tarball: Path, into: Path) -> None:
    """Only ``<top>/tests/**`` is kept, laid out as ``into/tests/**``."""
    into.mkdir()
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            top, _, rest = member.name.partition("/")
            if not (rest == "tests" or rest.startswith("tests/")) or not top.startswith("anthropic-"):
                continue
            member.name = rest
            archive.extract(member, into, filter="data")
    if not (into / "tests" / "api_resources" / "beta").is_dir():
        shutil.rmtree(into)
        raise RuntimeError(f"{tarball.name} has no tests/api_resources/beta")
