"""The architecture, checked: no import cycles, one vocabulary, the SDK's event types.

import-linter (``lint-imports`` in ``script/test``) checks the layers and the forbidden imports; these tests
check what it cannot express.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import grimp
from anthropic.types.beta.sessions import BetaManagedAgentsSessionEventType

import corral
from corral.vocab.events import FILTERABLE_EVENT_TYPES
from corral.vocab.tools import BUILTIN_TOOLS, TOOLSET

SRC = Path(corral.__file__).parent
VOCABULARY = SRC / "vocab" / "tools.py"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(edges.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_itself_through_others_type_checking_imports_included() -> None:
    graph = grimp.build_graph("corral", exclude_type_checking_imports=False)
    edges = {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _stray_literals(path: Path) -> list[str]:
    names = {TOOLSET, *BUILTIN_TOOLS}
    prefixes = tuple(f"{name}: " for name in names)
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Constant):
            continue
        text = node.value if isinstance(node.value, str) else None
        if text is not None and (text in names or text.startswith(prefixes)):
            found.append(f"{path.relative_to(SRC)}:{node.lineno}: {text!r}")
    return found


def test_the_toolset_id_and_tool_names_are_written_in_the_vocabulary_only() -> None:
    stray = [hit for path in sorted(SRC.rglob("*.py")) if path != VOCABULARY for hit in _stray_literals(path)]
    assert stray == []
    assert _stray_literals(VOCABULARY)  # the scan does see them where they belong


def test_the_filterable_event_types_are_exactly_the_sdks() -> None:
    assert frozenset(get_args(BetaManagedAgentsSessionEventType)) == FILTERABLE_EVENT_TYPES
