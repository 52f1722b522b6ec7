"""The ``sandbox``: placeholder while the components land."""

from __future__ import annotations

from corral.bench.results import SuiteResult, unavailable
from corral.bench.suite import Context, Suite


async def run(ctx: Context, result: SuiteResult) -> None:
    result.arms.append(unavailable("sandbox", "not built yet"))


SUITE = Suite("sandbox", "sandbox", "?", run)
