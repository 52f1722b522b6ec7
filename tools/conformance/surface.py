"""The managed-agents surface of the installed SDK: every method of every resource under ``client.beta``, read
from the SDK's resource classes (never a hand-written list), and which method each generated test exercises.

Invariants:

* A method is named by its path from ``client.beta``: ``sessions.events.list``.
* ``EXCLUDED`` is the only hand-written part: resources of ``client.beta`` that are not the Managed Agents API,
  each with the reason; every other resource, including ones a newer SDK adds, is part of the surface.
* A generated test maps to exactly one method or to none (``method_of`` returns None): a test whose name names no
  method of its resource is reported, never guessed.
"""

from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from anthropic._resource import SyncAPIResource
from anthropic.resources.beta.beta import Beta

EXCLUDED: dict[str, str] = {
    "messages": "the Messages API (and its batches), not managed agents",
    "models": "the Models API, not managed agents",
    "organization": "the Admin API (organization management)",
    "webhooks": "client-side signature checks (`unwrap`): no HTTP request",
    "compliance": "the Compliance API (policy review cases of an organization), not managed agents",
}

# Test files under beta/ that belong to no resource of ``client.beta``, with what they test.
OTHER_TESTS: dict[str, str] = {
    "bedrock": "`Bedrock(client)`: Managed Agents as Amazon Bedrock serves them, another API",
    "output_format_conversion": "client-side helpers of the Messages API",
}

_TEST_KINDS = ("test_method_", "test_raw_response_", "test_streaming_response_", "test_path_params_")
_ALL_PARAMS = "_with_all_params"


@dataclass(frozen=True, order=True)
class Method:
    resource: tuple[str, ...]
    name: str

    @property
    def qualname(self) -> str:
        return ".".join((*self.resource, self.name))


def _sub_resource(prop: functools.cached_property[object]) -> type[SyncAPIResource] | None:
    returned = typing.get_type_hints(prop.func).get("return")
    if inspect.isclass(returned) and issubclass(returned, SyncAPIResource):
        return returned
    return None


def _walk(cls: type[SyncAPIResource], path: tuple[str, ...]) -> list[Method]:
    found: list[Method] = []
    for name, attr in vars(cls).items():
        if name.startswith("_") or name in ("with_raw_response", "with_streaming_response"):
            continue
        if isinstance(attr, functools.cached_property):
            sub = _sub_resource(typing.cast("functools.cached_property[object]", attr))
            if sub is not None:
                found += _walk(sub, (*path, name))
        elif inspect.isfunction(attr):
            found.append(Method(path, name))
    return found


def sdk_methods() -> list[Method]:
    """Every managed-agents method of ``client.beta``, sorted by resource then name."""
    return sorted(m for m in _walk(Beta, ()) if m.resource and m.resource[0] not in EXCLUDED)


def resource_of(test_file: PurePosixPath) -> tuple[str, ...] | None:
    """``tests/api_resources/beta/sessions/test_events.py`` -> ``("sessions", "events")``; None outside beta."""
    parts = test_file.parts
    if "beta" not in parts or not test_file.name.startswith("test_"):
        return None
    below = parts[parts.index("beta") + 1 : -1]
    return (*below, test_file.stem.removeprefix("test_"))


def method_of(resource: tuple[str, ...], test_name: str, methods: frozenset[Method]) -> Method | None:
    """The method a generated test exercises: ``test_raw_response_retrieve_metadata`` -> ``retrieve_metadata``."""
    for kind in _TEST_KINDS:
        if test_name.startswith(kind):
            name = test_name.removeprefix(kind).removesuffix(_ALL_PARAMS)
            candidate = Method(resource, name)
            return candidate if candidate in methods else None
    return None


def test_files(sdk_root: Path, methods: list[Method]) -> list[PurePosixPath]:
    """The generated test files of the resources of ``methods``, relative to the sdist root, sorted."""
    resources = {method.resource for method in methods}
    chosen: list[PurePosixPath] = []
    for path in sorted((sdk_root / "tests" / "api_resources" / "beta").rglob("test_*.py")):
        relative = PurePosixPath(path.relative_to(sdk_root).as_posix())
        if resource_of(relative) in resources:
            chosen.append(relative)
    return chosen


def other_tests(sdk_root: Path, methods: list[Method]) -> dict[str, str]:
    """Test files (or folders) under beta/ of no resource of ``methods`` and not excluded, with what they test."""
    resources = {method.resource for method in methods}
    found: dict[str, str] = {}
    for path in sorted((sdk_root / "tests" / "api_resources" / "beta").rglob("test_*.py")):
        resource = resource_of(PurePosixPath(path.relative_to(sdk_root).as_posix()))
        if resource is None or resource in resources or resource[0] in EXCLUDED:
            continue
        found.setdefault(resource[0], OTHER_TESTS.get(resource[0], "no resource of `client.beta` runs them"))
    return found
