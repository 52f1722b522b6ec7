"""A live ``corral serve`` for one conformance run, on an empty database of either engine.

Invariants:

* The server runs API-only (``CORRAL_WORKERS=0``): no model is called, so a session changes only through what the
  tests send, and the run needs nothing but loopback.
* Its environment is scrubbed of ``CORRAL_*``, ``ANTHROPIC_*``, ``OPENAI_*`` and proxy variables: what it sees is
  set here. The tests use a key of their own workspace (``corral keys create --workspace conformance``), so the
  workspace header is checked against a workspace that is not the default one.
* Leaving ``serve`` stops the process (SIGTERM, then SIGKILL) and drops a PostgreSQL database it created.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

_SCRUBBED_PREFIXES = ("CORRAL_", "ANTHROPIC_", "OPENAI_")
_PROXIES = {"http_proxy", "https_proxy", "all_proxy"}
_START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Live:
    base_url: str
    api_key: str
    workspace_id: str
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(db_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES) and k.lower() not in _PROXIES}
    env.update(NO_PROXY="127.0.0.1,localhost", PYTHONUNBUFFERED="1", CORRAL_WORKERS="0")
    # the SDK's tests make hundreds of creates a minute on one key: request rates are tenancy's tests' subject
    env.update(CORRAL_RATE_WRITES_PER_MINUTE="0", CORRAL_RATE_READS_PER_MINUTE="0")
    env.update(CORRAL_DATABASE_URL=db_url, CORRAL_DATA_DIR=str(data_dir))
    env["CORRAL_API_KEY"] = "sk-corral-conformance-" + secrets.token_urlsafe(24)  # no key printed at first start
    return env


def _create_key(env: dict[str, str]) -> tuple[str, str]:
    """``corral keys create --workspace conformance``: ``(secret, workspace_id)``."""
    command = [sys.executable, "-m", "corral", "keys", "create", "--workspace", "conformance", "--name", "sdk-tests"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=60)
    # "# workspace <id>, key <id>": the workspace's id is the word after "workspace"
    said = next(line for line in done.stderr.splitlines() if line.startswith("# workspace "))
    workspace = said.split()[2].rstrip(",")
    return done.stdout.strip().splitlines()[-1], workspace


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    with httpx.Client(timeout=2.0, trust_env=False) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"corral serve exited during start-up; see {log}")
            try:
                if http.get(f"{base_url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # noqa: TID251 - a synchronous runner polling another process
    raise RuntimeError(f"corral serve was not ready after {_START_TIMEOUT:.0f}s; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def serve(db_url: str, scratch: Path) -> Generator[Live]:
    """Run ``corral serve`` on ``db_url`` (data and log under ``scratch``) until the block ends."""
    env = _environment(db_url, scratch / "data")
    port = _free_port()
    log = scratch / "server.log"
    command = [sys.executable, "-m", "corral", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_ready(process, base_url, log)
        secret, workspace_id = _create_key(env)  # the server made the database: keys create needs one
        yield Live(base_url, secret, workspace_id, log)
    finally:
        _stop(process)


def _psql(url: str, statement: str) -> None:
    command = ["psql", url, "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c", statement]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=60)


@contextmanager
def postgres_database(server_url: str) -> Generator[str]:
    """A fresh database on the PostgreSQL server at ``server_url``, dropped afterwards."""
    name = "conformance_" + secrets.token_hex(6)
    _psql(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        _psql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
