"""The README's claims that can be checked mechanically."""

from __future__ import annotations

import re
from pathlib import Path

from corral.config import documented

README = Path(__file__).parent.parent / "README.md"


def test_the_configuration_table_lists_exactly_the_declared_settings() -> None:
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([A-Z0-9_]+)` \|", section, flags=re.MULTILINE)
    assert sorted(listed) == sorted([item.env for item in documented()] + ["CORRAL_CONFIG"])


def test_every_test_the_memory_stores_section_cites_exists() -> None:
    section = README.read_text().split("## Memory stores", 1)[1].split("\n## ", 1)[0]
    cited = set(re.findall(r"`(test_[a-z0-9_]+)`", section))
    defined = {
        name
        for path in (Path(__file__).parent / "memory").glob("test_*.py")
        for name in re.findall(r"^(?:async )?def (test_[a-z0-9_]+)", path.read_text(), flags=re.MULTILINE)
    }
    assert len(cited) >= 10 and cited <= defined, sorted(cited - defined)


def test_every_test_the_repositories_section_cites_exists() -> None:
    section = README.read_text().split("## Repositories", 1)[1].split("\n## ", 1)[0]
    cited = set(re.findall(r"`(test_[a-z0-9_]+)`", section))
    defined = {
        name
        for path in (Path(__file__).parent / "github").glob("test_*.py")
        for name in re.findall(r"^(?:async )?def (test_[a-z0-9_]+)", path.read_text(), flags=re.MULTILINE)
    }
    assert len(cited) >= 6 and cited <= defined, sorted(cited - defined)


def test_every_test_the_session_files_section_cites_exists() -> None:
    section = README.read_text().split("### Files in sessions, and session outputs", 1)[1].split("\n## ", 1)[0]
    cited = set(re.findall(r"`(test_[a-z0-9_]+)`", section))
    defined = {
        name
        for path in (Path(__file__).parent / "mounts").glob("test_*.py")
        for name in re.findall(r"^(?:async )?def (test_[a-z0-9_]+)", path.read_text(), flags=re.MULTILINE)
    }
    assert len(cited) >= 7 and cited <= defined, sorted(cited - defined)


def test_every_test_the_session_resources_section_cites_exists() -> None:
    section = README.read_text().split("## Session resources", 1)[1].split("\n## ", 1)[0]
    cited = set(re.findall(r"`(test_[a-z0-9_]+)`", section))
    defined = {
        name
        for path in (Path(__file__).parent / "resources").glob("test_*.py")
        for name in re.findall(r"^(?:async )?def (test_[a-z0-9_]+)", path.read_text(), flags=re.MULTILINE)
    }
    assert len(cited) >= 10 and cited <= defined, sorted(cited - defined)
