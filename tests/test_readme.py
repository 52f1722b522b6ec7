"""The README's claims that can be checked mechanically."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from corral.config import documented

README = Path(__file__).parent.parent / "README.md"
TESTS = Path(__file__).parent

#: README sections that cite the tests proving their claims: (heading, test packages, fewest citations expected)
CITING_SECTIONS = [
    (
        "## Guarantees",
        (
            "contract",
            "harness",
            "sandbox",
            "hosts",
            "mcp",
            "upgrade",
            "conformance",
            "egress",
            "shutdown",
            "tenancy",
            "chaos",
        ),
        18,
    ),
    ("## Memory stores", ("memory",), 10),
    ("## Repositories", ("github",), 6),
    ("### Files in sessions, and session outputs", ("mounts",), 7),
    ("## Skills", ("skills",), 10),
    ("## Session resources", ("resources",), 10),
    ("## Deployments and webhooks", ("deployments", "webhooks"), 8),
    ("## Where a workspace lives", ("snapshots",), 10),
    ("## Running on several machines", ("hosts", "cluster"), 10),
    ("## Logs, metrics and traces", ("observe",), 12),
    ("## Quick start", ("examples",), 6),
    ("## Commands", ("cli",), 5),
    ("## Console", ("console",), 8),
    ("## Keys and limits", ("tenancy", "sandbox", "hosts"), 10),
    ("## Self-hosted environments", ("work",), 10),
    ("## Fuzzing", ("fuzz",), 2),
    ("### Budgets", ("budgets",), 5),
    ("## Extending corral", ("extensions",), 8),
    ("### Outcomes", ("outcomes", "harness"), 5),
    ("### Chaos", ("chaos",), 2),
]


def section(heading: str) -> str:
    """The text under ``heading`` up to the next heading of its level or above (a ``##`` section holds its ``###``s)."""
    text = README.read_text().split(heading + "\n", 1)[1].split("\n## ", 1)[0]
    return text.split("\n### ", 1)[0] if heading.startswith("### ") else text


def defined_tests(packages: tuple[str, ...]) -> set[str]:
    return {
        name
        for package in packages
        for path in (TESTS / package).glob("test_*.py")
        for name in re.findall(r"^(?:async )?def (test_[a-z0-9_]+)", path.read_text(), flags=re.MULTILINE)
    }


def test_the_configuration_table_lists_exactly_the_declared_settings() -> None:
    listed = re.findall(r"^\| `([A-Z0-9_]+)` \|", section("## Configuration"), flags=re.MULTILINE)
    assert sorted(listed) == sorted([item.env for item in documented()] + ["CORRAL_CONFIG"])


@pytest.mark.parametrize(("heading", "packages", "fewest"), CITING_SECTIONS, ids=[h for h, _, _ in CITING_SECTIONS])
def test_every_test_a_section_cites_exists(heading: str, packages: tuple[str, ...], fewest: int) -> None:
    cited = set(re.findall(r"`(test_[a-z0-9_]+)`", section(heading)))
    assert len(cited) >= fewest and cited <= defined_tests(packages), sorted(cited - defined_tests(packages))


def test_every_test_the_api_surface_cites_exists() -> None:
    cited = set(re.findall(r"`(test_[a-z0-9_]+)`", section("## API surface")))
    assert cited <= defined_tests(("conformance", "api")), sorted(cited - defined_tests(("conformance", "api")))
