"""From raw test records to verdicts: per test, then per method.

A test's verdict:

* ``passed``: it reached corral and passed (strict response validation included);
* ``refused``: corral answered with a refusal listed in ``refusals.REFUSALS``;
* ``missing``: a request went to a route corral does not serve (not in its ``/openapi.json``);
* ``failed``: anything else (another error answer, a response that fails validation, a set-up error);
* ``client``: it never reached a server and passed (the SDK's own checks of path parameters);
* ``mocked``: it mocks the HTTP layer (deselected by the plugin, listed here).

A method's status, from its tests' verdicts: ``fails`` if any failed; else ``missing`` if any hit no route; else
``passes`` if any passed; else ``refused as documented`` if any was refused; else ``not exercised`` (its tests
never reach a server). ``passes`` therefore means every test that reached corral passed or was refused as
documented.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal

from tools.conformance.refusals import documented_refusal
from tools.conformance.surface import Method, method_of, resource_of
from tools.conformance.transport import Exchange

Verdict = Literal["passed", "refused", "missing", "failed", "client", "mocked"]
Status = Literal["passes", "refused as documented", "missing", "fails", "not exercised"]
RANK: dict[Status, int] = {"passes": 2, "refused as documented": 1, "missing": 0, "fails": 0, "not exercised": 0}


@dataclass(frozen=True)
class TestVerdict:
    nodeid: str
    method: Method | None
    verdict: Verdict
    detail: str = ""


@dataclass
class MethodResult:
    status: Status = "not exercised"
    passed: int = 0
    reached: int = 0  # tests that sent at least one request to corral
    refused: Counter[str] = field(default_factory=lambda: Counter[str]())
    mocked: int = 0
    failures: list[TestVerdict] = field(default_factory=lambda: list[TestVerdict]())


class Routes:
    """The routes corral serves, from its ``/openapi.json`` path templates."""

    def __init__(self, routes: frozenset[tuple[str, str]]) -> None:
        self.patterns = [
            (method, re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", path) + "$")) for method, path in routes
        ]

    def serves(self, method: str, path: str) -> bool:
        return any(method == served and pattern.match(path) for served, pattern in self.patterns)


def _method_of(nodeid: str, methods: frozenset[Method]) -> Method | None:
    path, _, rest = nodeid.partition("::")
    resource = resource_of(PurePosixPath(path))
    test_name = rest.rsplit("::", 1)[-1].split("[", 1)[0]
    return method_of(resource, test_name, methods) if resource else None


def _refusal_verdict(exchange: Exchange, routes: Routes) -> tuple[Verdict, str]:
    if not routes.serves(exchange.method, exchange.path):
        return "missing", f"no route {exchange.method} {exchange.path}"
    if (refusal := documented_refusal(exchange)) is not None:
        return "refused", refusal.label
    error = exchange.error or {}
    return "failed", f"{exchange.status} {error.get('type', '?')}: {error.get('message', '(no error body)')}"


def verdict_of(record: dict[str, Any], routes: Routes, methods: frozenset[Method]) -> TestVerdict:
    nodeid = str(record["nodeid"])
    method = _method_of(nodeid, methods)
    exchanges = [Exchange.from_json(doc) for doc in record.get("exchanges", [])]
    if record["outcome"] == "mocked":
        return TestVerdict(nodeid, method, "mocked")
    if record["outcome"] == "passed":
        return TestVerdict(nodeid, method, "passed" if exchanges else "client")
    refused = [exchange for exchange in exchanges if exchange.status >= 400]
    if not refused:
        return TestVerdict(nodeid, method, "failed", str(record.get("failure", "")).strip())
    verdict, detail = _refusal_verdict(refused[-1], routes)
    return TestVerdict(nodeid, method, verdict, detail)


def _status(verdicts: Counter[Verdict]) -> Status:
    if verdicts["failed"]:
        return "fails"
    if verdicts["missing"]:
        return "missing"
    if verdicts["passed"]:
        return "passes"
    return "refused as documented" if verdicts["refused"] else "not exercised"


def by_method(tests: list[TestVerdict], methods: list[Method]) -> dict[Method, MethodResult]:
    """Every method of the surface (those no test exercises included) with its result."""
    results = {method: MethodResult() for method in methods}
    counts = {method: Counter[Verdict]() for method in methods}
    for test in tests:
        if test.method is None:
            continue
        result, count = results[test.method], counts[test.method]
        count[test.verdict] += 1
        result.passed += test.verdict == "passed"
        result.reached += test.verdict in ("passed", "refused", "missing", "failed")
        result.mocked += test.verdict == "mocked"
        if test.verdict == "refused":
            result.refused[test.detail] += 1
        if test.verdict == "failed":
            result.failures.append(test)
    for method, result in results.items():
        result.status = _status(counts[method])
    return results
