"""The deployment files (``deploy/systemd``) and ``docs/deployment.md`` name only what exists: every ``CORRAL_*``
variable is a declared setting (``corral.config``), and every command a unit runs is a ``corral`` subcommand
with options it takes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer.main
from typer.core import TyperGroup

from corral.cli import app
from corral.config import documented

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
ENV_FILES = sorted((ROOT / "deploy" / "systemd").glob("*.env.example"))
DOCS = [ROOT / "docs" / "deployment.md", ROOT / "docs" / "kubernetes.md"]
ROLES = {
    "corral-serve.service": "serve",
    "corral-worker.service": "worker",
    "corral-sandbox-host.service": "sandbox-host",
}


def settings() -> set[str]:
    return {item.env for item in documented()} | {"CORRAL_CONFIG"}


def directives(unit: Path) -> list[tuple[str, str]]:
    """``(key, value)`` of every directive, in order (systemd repeats keys such as ``Environment``)."""
    pairs: list[tuple[str, str]] = []
    for line in unit.read_text().splitlines():
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs


def corral_command(name: str):
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    command = group.commands.get(name)
    assert command is not None, f"corral has no command {name!r}"
    return command


def test_there_is_a_unit_for_every_role() -> None:
    assert sorted(unit.name for unit in UNITS) == sorted(ROLES)


@pytest.mark.parametrize("path", [*UNITS, *ENV_FILES, *DOCS], ids=lambda p: p.name)
def test_every_corral_variable_is_a_declared_setting(path: Path) -> None:
    named = set(re.findall(r"\bCORRAL_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    assert named and named <= settings(), sorted(named - settings())


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_every_command_a_unit_runs_is_a_corral_command_with_its_options(unit: Path) -> None:
    commands = [value for key, value in directives(unit) if key.startswith("Exec")]
    assert commands and commands[-1].split()[1] == ROLES[unit.name]  # the role's own command runs last
    for line in commands:
        program, name, *args = shlex.split(line)
        assert program.endswith("/corral"), line
        command = corral_command(name)
        options = {opt for param in command.params for opt in param.opts}
        assert {arg.split("=")[0] for arg in args if arg.startswith("-")} <= options, line


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_every_environment_line_sets_a_declared_setting_or_reads_a_shipped_example(unit: Path) -> None:
    for key, value in directives(unit):
        if key == "Environment":
            assert value.split("=")[0] in settings(), value
        if key == "EnvironmentFile":
            example = Path(value).name.removesuffix(".env") + ".env.example"
            assert (ROOT / "deploy" / "systemd" / example).exists(), value
