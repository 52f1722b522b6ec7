"""The environments a run records: read from the interpreter itself, the same way for corral and for a peer."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

from corral.bench import environment
from corral.bench.report import environments_section
from corral.bench.results import SuiteResult


def test_own_environment_pins_every_installed_distribution() -> None:
    own = environment.own()
    assert own["interpreter"] == sys.executable
    assert f"anyio=={metadata.version('anyio')}" in own["distributions"]
    assert len(own["distributions"]) == len({d.metadata["Name"] for d in metadata.distributions()})


@pytest.mark.anyio
async def test_a_peer_interpreter_is_probed_by_running_it_and_means_the_same_record() -> None:
    probed = await environment.of_interpreter(Path(sys.executable))
    assert probed == environment.own()


def test_the_report_lists_each_environment_of_a_comparison_and_says_when_none_was_recorded() -> None:
    env: environment.Environment = {
        "interpreter": "/peer/bin/python",
        "python": "3.12.7",
        "implementation": "CPython",
        "distributions": ["openhands-sdk==1.0.0", "pydantic==2.9.0"],
    }
    recorded = SuiteResult("log", False, "2026-12-07T00:00:00Z", environments={"openhands-sdk": env})
    lines = "\n".join(environments_section({"log": recorded, "old": SuiteResult("old", False, "x")}))
    assert (
        "openhands-sdk (`log`)" in lines
        and "/peer/bin/python" in lines
        and "3.12.7" in lines
        and "openhands-sdk==1.0.0 pydantic==2.9.0" in lines
    )
    assert "`old`: not recorded" in lines
