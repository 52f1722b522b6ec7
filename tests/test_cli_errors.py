"""The command line's first minutes: mistakes are one clear line and exit status 2, before anything starts."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from corral import __version__
from corral.api.app import create_app
from corral.config import Settings
from corral.db.migrate import migrations


def corral(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral", *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_port_in_use_is_reported_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = corral("serve", "--port", str(port), cwd=tmp_path, env={"CORRAL_DATA_DIR": str(tmp_path / "data")})
    assert done.returncode == 2
    assert done.stderr == f"corral: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    assert not (tmp_path / "data").exists()  # no database, no key: nothing started


def test_keys_create_refuses_a_database_that_does_not_exist(tmp_path: Path) -> None:
    done = corral("keys", "create", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"corral: no corral database at {tmp_path / '.corral' / 'corral.db'}: ")
    assert done.stdout == "" and not (tmp_path / ".corral").exists()


def test_keys_create_works_where_the_server_keeps_its_database(tmp_path: Path) -> None:
    env = {"CORRAL_DATA_DIR": str(tmp_path / "data")}
    assert corral("migrate", cwd=tmp_path, env=env).returncode == 0
    done = corral("keys", "create", "--workspace", "team", cwd=tmp_path, env=env)
    assert done.returncode == 0 and done.stdout.startswith("sk-") and "# workspace wrkspc_" in done.stderr


def test_no_page_loads_assets_from_elsewhere() -> None:
    paths = {getattr(route, "path", "") for route in create_app(Settings()).routes}
    assert "/openapi.json" in paths and not paths & {"/docs", "/redoc", "/docs/oauth2-redirect"}


def test_migrate_says_what_it_applied(tmp_path: Path) -> None:
    env = {"CORRAL_DATA_DIR": str(tmp_path / "data")}
    first = corral("migrate", cwd=tmp_path, env=env)
    every = [f"{m.version:04d}_{m.name}" for m in migrations("sqlite")]
    assert first.returncode == 0 and first.stdout.startswith(f"corral: applied {len(every)} migration(s) to ")
    assert first.stdout.endswith(": " + ", ".join(every) + "\n")
    again = corral("migrate", cwd=tmp_path, env=env)
    assert again.stdout.endswith(" was already up to date\n")


def test_a_sandbox_host_without_the_deployment_token_says_so(tmp_path: Path) -> None:
    done = corral("sandbox-host", cwd=tmp_path, env={"CORRAL_DATA_DIR": str(tmp_path / "data")})
    assert done.returncode == 2
    assert done.stderr == "corral: CORRAL_SANDBOX_HOST_TOKEN is not set: workers and sandbox hosts share it\n"
    assert not (tmp_path / "data").exists()  # nothing started


@pytest.mark.timeout(300)  # connecting is refused at once, but a loaded machine imports slowly
def test_a_database_that_cannot_be_reached_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as closed:  # bound, never listening: connections to it are refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        url = f"postgresql://corral@127.0.0.1:{port}/corral"
        env = {"CORRAL_DATA_DIR": str(tmp_path / "data"), "CORRAL_DATABASE_URL": url}
        done = corral("serve", "--port", "0", cwd=tmp_path, env=env)
    assert done.returncode == 2
    settings, error = done.stderr.splitlines()
    assert settings.startswith(f"corral {__version__}: database 127.0.0.1:{port}/corral, ")
    assert error.startswith("corral: cannot open PostgreSQL database: ") and error.endswith(
        f" (127.0.0.1:{port}/corral)"
    )
