"""What the SDK's generated tests make up: ids of objects that do not exist and fixed names, read from the test
source (its AST), so the transport can swap them for real ones without touching a test.

Invariants:

* Kinds come from the parameter names of the tests themselves: ``agent_id="agent_011…"`` teaches that ids
  starting ``agent_`` are agents; ``memory_store_id="memory_store_id"`` is a memory store. No id is hand-listed.
* A placeholder is *distinctive* (``key is None``: an example id such as ``sesn_011CZk…`` or a bare parameter
  name such as ``"memory_store_id"``) and replaced wherever it appears in a request, or *keyed* (a vague value
  such as ``environment_id="x"`` or ``vault_ids=["string"]``) and replaced only as the value of that key.
* A bare parameter name that is no id (``version="version"``) in a test about one object is that object's child
  (kind ``<object kind>_<parameter>``, e.g. ``skill_version``), made in the test's own object.
* Empty strings are never placeholders: the tests use them to check the SDK's own path-parameter validation.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

EXAMPLE_ID = re.compile(r"^([a-z]+_)01[0-9A-Za-z]{8,}$")
NAME_KEYS = ("name",)


@dataclass(frozen=True, order=True)
class Placeholder:
    value: str
    kind: str
    key: str | None = None


@dataclass(frozen=True)
class TestInputs:
    """What one test function sends that the runner must make real."""

    placeholders: frozenset[Placeholder] = frozenset()
    names: frozenset[str] = frozenset()


def _pairs(node: ast.AST) -> Iterator[tuple[str, ast.expr]]:
    """``key=value`` keyword arguments and ``{"key": value}`` entries below ``node``."""
    for child in ast.walk(node):
        if isinstance(child, ast.keyword) and child.arg is not None:
            yield child.arg, child.value
        elif isinstance(child, ast.Dict):
            for key, value in zip(child.keys, child.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    yield key.value, value


def _text(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _texts(node: ast.expr) -> list[str]:
    if isinstance(node, ast.List | ast.Tuple):
        return [text for item in node.elts if (text := _text(item))]
    text = _text(node)
    return [text] if text else []


def learn_prefixes(sources: list[str]) -> dict[str, str]:
    """Id prefix -> kind, from every ``<kind>_id="<prefix>01…"`` the tests pass (``{"sesn_": "session"}``)."""
    prefixes: dict[str, str] = {}
    for source in sources:
        for key, value in _pairs(ast.parse(source)):
            match = EXAMPLE_ID.match(_text(value) or "")
            if key.endswith("_id") and match:
                prefixes.setdefault(match.group(1), key.removesuffix("_id"))
    return prefixes


def _keyed(key: str, value: ast.expr) -> Iterator[Placeholder]:
    single = key.removesuffix("_id") if key.endswith("_id") else None
    plural = key.removesuffix("_ids") if key.endswith("_ids") else None
    kind = single or plural
    if kind is None:
        return
    for text in _texts(value) if plural else [_text(value) or ""]:
        if not text or EXAMPLE_ID.match(text):
            continue  # empty: the SDK's own check; example ids: found by prefix below
        yield Placeholder(text, kind, None if text == key else key)


def _children(function: ast.AST, found: set[Placeholder]) -> Iterator[Placeholder]:
    """Bare parameter names that are no ids (``version="version"``) of a test about one object: that object's
    ``<kind>_<key>`` (a skill's ``version`` is a ``skill_version``)."""
    parents = {placeholder.kind for placeholder in found} - {"workspace"}
    if len(parents) != 1:
        return
    for key, value in _pairs(function):
        if _text(value) == key and not key.endswith(("_id", "_ids")) and key not in NAME_KEYS:
            yield Placeholder(key, f"{next(iter(parents))}_{key}")


def scan_function(function: ast.AST, prefixes: dict[str, str]) -> TestInputs:
    found: set[Placeholder] = set()
    names: set[str] = set()
    for key, value in _pairs(function):
        found.update(_keyed(key, value))
        if key in NAME_KEYS and (text := _text(value)):
            names.add(text)
    for node in ast.walk(function):
        match = EXAMPLE_ID.match(_text(node) or "") if isinstance(node, ast.expr) else None
        if match and match.group(1) in prefixes:
            found.add(Placeholder(match.group(0), prefixes[match.group(1)]))
    found.update(list(_children(function, found)))
    return TestInputs(frozenset(found), frozenset(names))


def scan_file(source: str, prefixes: dict[str, str]) -> dict[str, TestInputs]:
    """``"TestAgents::test_method_create"`` -> what that test sends, for every test method of every class."""
    scanned: dict[str, TestInputs] = {}
    for cls in ast.parse(source).body:
        if not isinstance(cls, ast.ClassDef):
            continue
        for function in cls.body:
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) and function.name.startswith("test_"):
                scanned[f"{cls.name}::{function.name}"] = scan_function(function, prefixes)
    return scanned
