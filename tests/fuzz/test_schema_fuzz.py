"""Schemathesis fuzzes a live ``corral serve`` from its own ``/openapi.json``, on both engines.

One API-only server per engine (``CORRAL_WORKERS=0``: no turn runs, so no model is called). Schemathesis' engine
runs its phases over every documented operation: the document's examples, fuzzing (generated parameters and
bodies, valid and invalid), and stateful (chains through the links it infers from the document: create -> get ->
update -> delete, so later steps use ids that exist).

Every response must: not be a 5xx; have a status, content type and body that its operation documents; and, if
it is an error, have corral's error shape (``{"type":"error","error":{"type","message"},"request_id"}``).

Bounded for CI: a fixed seed, deterministic generation, few examples per operation. ``CORRAL_FUZZ_SOAK=1`` runs
many more examples, longer chains and the coverage phase (boundary values and near-misses of every schema) from
a fresh seed (printed, so a failure replays with
``CORRAL_FUZZ_SEED``).

Requests carry the admin key and the beta header; the generator does not fuzz the credentials themselves (who
gets in is the authorization matrix's business, tests/tenancy). The SSE stream is left out: it answers 200 and
stays open until its session ends, so a fuzzer would wait on it forever; tests/api/test_wire.py validates it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import anyio
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from tests.conftest import ENGINES, fresh_postgres_url
from tests.live import LiveServer, live_server

SOAK = os.environ.get("CORRAL_FUZZ_SOAK") == "1"
SEED = int(os.environ.get("CORRAL_FUZZ_SEED") or (random.randrange(2**32) if SOAK else 20261207))
EXAMPLES, CHAINS, STEPS = (500, 1000, 50) if SOAK else (8, 60, 10)
# the coverage phase (every boundary of every schema) doubles the run: soak only
STATELESS = ("examples", "fuzzing", "coverage") if SOAK else ("examples", "fuzzing")
ALL_PHASES = ("examples", "coverage", "fuzzing")
# a soak runs as long as its examples take (pytest-timeout's 0 is no limit)
pytestmark: list[pytest.MarkDecorator] = [pytest.mark.timeout(0)] if SOAK else []
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "corral_error_shape",
)


@schemathesis.check
def corral_error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx and 5xx is corral's error envelope, with a request id."""
    if response.status_code < 400:
        return None
    body = cast(object, response.json())
    assert isinstance(body, dict), body
    body = cast(dict[str, Any], body)
    assert body.get("type") == "error", body
    error = cast(object, body.get("error"))
    assert isinstance(error, dict), body
    error = cast(dict[str, Any], error)
    assert isinstance(error.get("type"), str) and error["type"], body
    assert isinstance(error.get("message"), str), body
    assert isinstance(body.get("request_id"), str) and body["request_id"], body
    return True


@pytest.fixture(scope="module", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp: Path = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    db_url = f"sqlite:///{tmp / 'corral.db'}" if request.param == "sqlite" else anyio.run(fresh_postgres_url)
    with live_server(db_url, data_dir=tmp / "data", env={"CORRAL_WORKERS": "0"}) as running:
        yield running


def config(headers: dict[str, str], phases: tuple[str, ...]) -> SchemathesisConfig:
    generation = {"max-examples": EXAMPLES, "deterministic": not SOAK, "with-security-parameters": False}
    checks: dict[str, Any] = {"enabled": False, **{name: {"enabled": True} for name in CHECKS}}
    # schemathesis annotates ``data`` as a bare ``dict`` (and ``exclude`` below with a bare ``Pattern``)
    return SchemathesisConfig.from_dict(  # pyright: ignore[reportUnknownMemberType]
        {
            "seed": SEED,
            "headers": headers,
            "generation": generation,
            "checks": checks,
            "phases": {
                **{phase: {"enabled": phase in phases} for phase in ALL_PHASES},
                # a chain is cheap and most of one is refusals of generated bodies: more of them
                "stateful": {
                    "enabled": "stateful" in phases,
                    "max-steps": STEPS,
                    "generation": {**generation, "max-examples": CHAINS},
                },
            },
        }
    )


def describe(name: str, info: Any) -> str:
    if info is None:
        return name
    return f"{name}: {info.failure.title}: {info.failure.message}\n    {info.code_sample}"


@dataclass
class Outcome:
    failures: list[str] = field(default_factory=lambda: list[str]())
    checked: int = 0  # responses checked
    linked: int = 0  # successes of a request whose parameters came from an earlier response (a followed link)


def fuzz(server: LiveServer, phases: tuple[str, ...]) -> Outcome:
    """Runs ``phases`` against ``server`` and returns what failed (check, detail, the request as curl)."""
    headers = {"x-api-key": server.api_key, "anthropic-beta": "managed-agents-2026-04-01"}
    schema = schemathesis.openapi.from_url(
        f"{server.base_url}/openapi.json", config=config(headers, phases), headers=headers
    )
    schema = schema.exclude(path_regex=r"/events/stream$")  # pyright: ignore[reportUnknownMemberType]
    outcome = Outcome()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            for check in (check for checks in recorder.checks.values() for check in checks):
                outcome.checked += 1
                if check.status.name != "SUCCESS":
                    outcome.failures.append(describe(check.name, check.failure_info))
            for case_id, node in recorder.cases.items():
                response = recorder.interactions[case_id].response if case_id in recorder.interactions else None
                if node.transition is not None and response is not None and response.status_code < 300:
                    outcome.linked += 1
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            outcome.failures.append(f"error: {event!r}")
    return outcome


def test_fuzzed_requests_get_documented_answers_and_never_a_5xx(server: LiveServer) -> None:
    outcome = fuzz(server, STATELESS)
    assert outcome.checked > 0
    assert not outcome.failures, f"seed {SEED}:\n" + "\n".join(outcome.failures[:20])


def test_stateful_chains_get_documented_answers_and_never_a_5xx(server: LiveServer) -> None:
    outcome = fuzz(server, ("stateful",))
    assert outcome.linked > 0, "no chain followed a link to a success: the chains never reached a real object"
    assert not outcome.failures, f"seed {SEED}:\n" + "\n".join(outcome.failures[:20])
