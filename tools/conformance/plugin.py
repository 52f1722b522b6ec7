"""The pytest plugin that runs the SDK's generated tests against a live corral (``-p tools.conformance.plugin``,
loaded by the runner into a pytest of the SDK's ``tests/`` tree with ``--noconftest``).

It replaces the SDK's ``conftest.py`` (which points the clients at a mock server) with fixtures of the same names:
``client`` and ``async_client`` talk to corral through ``RewritingTransport``, after the ``conformance`` fixture
made the real objects the test's made-up ids stand for. The tests' own bodies and assertions run unchanged.

Invariants:

* Only the ``strict`` variant of each test runs (sync and async): the ``loose`` one sends the same request and
  validates less, the ``aiohttp`` one needs a client library the SDK does not require. Tests that mock the HTTP
  layer (``@pytest.mark.respx``) never reach a server; they are deselected and written to the report as
  ``mocked``, so nothing disappears silently.
* Every test that ran, and every mocked one, is one JSON line in the report (``CONFORMANCE_RUN``'s ``report``):
  its node id, outcome, failure text and the exchanges its client had with corral.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx2
import pytest
from anthropic import Anthropic, AsyncAnthropic

from tools.conformance.placeholders import TestInputs, learn_prefixes, scan_file
from tools.conformance.seeds import Objects, realise
from tools.conformance.transport import AsyncRewritingTransport, Exchange, Rewriter, RewritingTransport

_TIMEOUT = httpx2.Timeout(30.0)
_FAILURE_LIMIT = 1500


@dataclass
class Run:
    """The run's settings and what its tests share: one TLS context (making one costs more than a test) and one
    sync connection pool, used by the sync clients and to make the tests' objects."""

    base_url: str
    api_key: str
    workspace_id: str
    report: Path
    tls: ssl.SSLContext = field(default_factory=ssl.create_default_context)
    inputs: dict[str, dict[str, TestInputs]] = field(default_factory=lambda: dict[str, dict[str, TestInputs]]())
    pool: httpx2.HTTPTransport = field(init=False)
    seeder: httpx2.Client = field(init=False)

    def __post_init__(self) -> None:
        self.pool = httpx2.HTTPTransport(verify=self.tls, trust_env=False)
        headers = {"x-api-key": self.api_key}
        transport = httpx2.HTTPTransport(verify=self.tls, trust_env=False)
        self.seeder = httpx2.Client(base_url=self.base_url, headers=headers, timeout=_TIMEOUT, transport=transport)

    def close(self) -> None:
        self.seeder.close()
        self.pool.close()

    def inputs_of(self, item: pytest.Item) -> TestInputs:
        cls = getattr(item, "cls", None)
        name = getattr(item, "originalname", item.name)
        return self.inputs.get(str(item.path), {}).get(f"{getattr(cls, '__name__', '')}::{name}", TestInputs())

    def write(self, line: dict[str, Any]) -> None:
        with self.report.open("a") as out:
            out.write(json.dumps(line) + "\n")


@dataclass
class Conformance:
    rewriter: Rewriter
    log: list[Exchange]


_RUN = pytest.StashKey[Run]()
_TEST = pytest.StashKey[Conformance]()


def _run(config: pytest.Config) -> Run:
    return config.stash[_RUN]


def pytest_configure(config: pytest.Config) -> None:
    settings = cast(dict[str, str], json.loads(Path(os.environ["CONFORMANCE_RUN"]).read_text()))
    config.stash[_RUN] = Run(
        settings["base_url"], settings["api_key"], settings["workspace_id"], Path(settings["report"])
    )
    config.addinivalue_line("markers", "respx: the SDK's tests that mock the HTTP layer")


def pytest_unconfigure(config: pytest.Config) -> None:
    if (run := config.stash.get(_RUN, None)) is not None:
        run.close()


def _strict(item: pytest.Item) -> bool:
    """The test's own ``client`` / ``async_client`` parameter is ``True`` (its ``strict`` variant)."""
    params: dict[str, object] = getattr(getattr(item, "callspec", None), "params", {})
    return any(params.get(name) is True for name in ("client", "async_client"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = _run(config)
    sources = {str(path): path.read_text() for path in {item.path for item in items}}
    prefixes = learn_prefixes(list(sources.values()))
    run.inputs = {path: scan_file(source, prefixes) for path, source in sources.items()}
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        if not _strict(item):
            dropped.append(item)
        elif item.get_closest_marker("respx") is not None:
            dropped.append(item)
            run.write({"nodeid": item.nodeid, "outcome": "mocked", "exchanges": []})
        else:
            kept.append(item)
    items[:] = kept
    config.hook.pytest_deselected(items=dropped)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def conformance(request: pytest.FixtureRequest) -> Iterator[Conformance]:
    run = _run(request.config)
    inputs = run.inputs_of(request.node)
    mapping = realise(Objects(run.seeder, run.workspace_id, inputs.placeholders), inputs.placeholders)
    made = Conformance(Rewriter(mapping, inputs.names), [])
    request.node.stash[_TEST] = made
    yield made


@pytest.fixture
def client(request: pytest.FixtureRequest, conformance: Conformance) -> Iterator[Anthropic]:
    run = _run(request.config)
    transport = RewritingTransport(conformance.rewriter, conformance.log, run.pool)
    http = httpx2.Client(transport=transport, timeout=_TIMEOUT, trust_env=False)
    strict = bool(getattr(request, "param", True))
    with Anthropic(
        base_url=run.base_url, api_key=run.api_key, http_client=http, max_retries=0, _strict_response_validation=strict
    ) as made:
        yield made


@pytest.fixture
async def async_client(request: pytest.FixtureRequest, conformance: Conformance) -> AsyncIterator[AsyncAnthropic]:
    run = _run(request.config)
    transport = AsyncRewritingTransport(conformance.rewriter, conformance.log, run.tls)
    http = httpx2.AsyncClient(transport=transport, timeout=_TIMEOUT, trust_env=False)
    param: object = getattr(request, "param", True)  # the tests' own parameters: True, False or {"http_client": …}
    strict = bool(cast(dict[str, Any], param).get("strict", True)) if isinstance(param, dict) else bool(param)
    async with AsyncAnthropic(
        base_url=run.base_url, api_key=run.api_key, http_client=http, max_retries=0, _strict_response_validation=strict
    ) as made:
        yield made


def _failure(call: pytest.CallInfo[None]) -> str:
    if call.excinfo is None:
        return ""
    return call.excinfo.exconly()[:_FAILURE_LIMIT]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.when == "call" or (report.when == "setup" and not report.passed):
        test = item.stash.get(_TEST, None)
        exchanges = [exchange.as_json() for exchange in test.log] if test else []
        line = {"nodeid": item.nodeid, "outcome": report.outcome, "when": report.when, "exchanges": exchanges}
        if not report.passed:
            line["failure"] = _failure(call)
        _run(item.config).write(line)
    return report
