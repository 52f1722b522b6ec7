"""The search operations ``find_files`` (doublestar patterns, newest first) and ``search_files`` (regular
expressions). ``label`` is the name of the tool a call came from, as the host sent it (error messages).

Walks never follow symlinked directories and stop after ``WALK_MAX`` entries. ``grep`` runs in a child
process with a CPU-time limit, so a pathological pattern (the regex engine backtracks) cannot wedge the agent.

Invariants: at most ``GLOB_MAX`` glob results; grep output at most ``GREP_OUTPUT_MAX`` bytes with lines
longer than ``GREP_LINE_MAX`` characters skipped; ``..`` never appears in a glob pattern.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import resource
import subprocess
import sys
from collections import deque
from collections.abc import Iterator

from .files import Roots, resolve
from .results import ToolFailure, clean, text

TYPE_CHECKING = False  # typing costs milliseconds of start-up; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

    from .results import Result

WALK_MAX = 50_000
GLOB_MAX = 200
GREP_OUTPUT_MAX = 100 * 1024
GREP_LINE_MAX = 2000
GREP_CPU_SECONDS = 30
_MAGIC_CHARS = re.compile(r"[*?\[{]")
_Segments = list[re.Pattern[str] | None]  # None stands for "**"


def _expand_braces(pattern: str, budget: int = 64) -> list[str]:
    found = re.search(r"\{([^{}]*)\}", pattern)
    if found is None:
        return [pattern]
    expanded: list[str] = []
    for alternative in found.group(1).split(","):
        expanded += _expand_braces(pattern[: found.start()] + alternative + pattern[found.end() :], budget)
        if len(expanded) >= budget:
            break
    return expanded[:budget]


def _compile(pattern: str) -> _Segments:
    return [None if part == "**" else re.compile(fnmatch.translate(part)) for part in pattern.split("/") if part]


def _matches(segments: _Segments, parts: tuple[str, ...]) -> bool:
    memo: dict[tuple[int, int], bool] = {}

    def match(i: int, j: int) -> bool:
        if (i, j) not in memo:
            if i == len(segments):
                memo[i, j] = j == len(parts)
            elif (segment := segments[i]) is None:
                memo[i, j] = any(match(i + 1, k) for k in range(j, len(parts) + 1))
            else:
                memo[i, j] = j < len(parts) and segment.fullmatch(parts[j]) is not None and match(i + 1, j + 1)
        return memo[i, j]

    return match(0, 0)


def walk(root: str, max_depth: int | None = None) -> Iterator[tuple[os.DirEntry[str], tuple[str, ...]]]:
    """Entries under ``root`` (not following symlinked directories), at most ``WALK_MAX`` of them."""
    queue: deque[tuple[str, tuple[str, ...]]] = deque([(root, ())])
    seen = 0
    while queue:
        directory, rel = queue.popleft()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > WALK_MAX:
                return
            parts = (*rel, entry.name)
            yield entry, parts
            deeper = max_depth is None or len(parts) < max_depth
            if deeper and entry.is_dir(follow_symlinks=False):
                queue.append((entry.path, parts))


def _split_absolute(pattern: str) -> tuple[str, str]:
    """``/workspace/src/**/*.py`` → (``/workspace/src``, ``**/*.py``): the literal prefix becomes the base."""
    parts = pattern.split("/")
    literal = 1
    while literal < len(parts) - 1 and not _MAGIC_CHARS.search(parts[literal]):
        literal += 1
    return "/".join(parts[:literal]) or "/", "/".join(parts[literal:])


def _mtime(entry: os.DirEntry[str]) -> float:
    try:
        return entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return 0.0


def find_files(tool_input: dict[str, Any], roots: Roots, label: str) -> Result:
    pattern, path = tool_input.get("pattern"), tool_input.get("path")
    if not isinstance(pattern, str) or not pattern:
        raise ToolFailure(f"{label}: pattern is required")
    if ".." in pattern.split("/"):
        raise ToolFailure(f"{label}: {pattern}: '..' is not allowed in the pattern")
    if pattern.startswith("/"):
        path, pattern = _split_absolute(pattern)
    base = resolve(label, path or ".", roots)
    compiled = [_compile(p) for p in _expand_braces(pattern)]
    depth = None if any(None in c for c in compiled) else max(len(c) for c in compiled)
    found = [
        (_mtime(entry), entry.path) for entry, parts in walk(base, depth) if any(_matches(c, parts) for c in compiled)
    ]
    if not found:
        return text("no files matched")
    found.sort(reverse=True)
    lines = [p for _, p in found[:GLOB_MAX]]
    if len(found) > GLOB_MAX:
        lines.append(f"[{len(found) - GLOB_MAX} more matches not shown; narrow the pattern]")
    return text("\n".join(lines))


def search_files(tool_input: dict[str, Any], roots: Roots, label: str) -> Result:
    pattern, path = tool_input.get("pattern"), tool_input.get("path")
    if not isinstance(pattern, str) or not pattern:
        raise ToolFailure(f"{label}: pattern is required")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ToolFailure(f"{label}: invalid regular expression: {exc}") from None
    target = resolve(label, path or ".", roots)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = f"import sys; sys.path[:0] = [{package_root!r}]; from agent.search import grep_child; grep_child()"
    child = subprocess.run(
        [sys.executable, "-E", "-s", "-S", "-B", "-c", code],
        input=json.dumps({"pattern": pattern, "target": target}).encode(),
        capture_output=True,
        timeout=GREP_CPU_SECONDS * 4,
    )
    if child.returncode < 0:
        raise ToolFailure(f"{label}: {pattern}: the search exceeded {GREP_CPU_SECONDS} s of CPU time")
    if child.returncode != 0:
        raise ToolFailure(f"{label}: {clean(child.stderr.decode(errors='replace'))[-2000:]}")
    body = json.loads(child.stdout)
    return text(body or "no matches")


def _scan(rx: re.Pattern[str], path: str, hits: list[str], budget: list[int]) -> bool:
    """Append ``path:line:text`` hits; False once the output budget is spent."""
    try:
        with open(path, "rb") as f:
            if b"\x00" in f.read(1024):
                return True
            f.seek(0)
            for number, raw in enumerate(f, 1):
                if len(raw) > GREP_LINE_MAX:
                    continue
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if rx.search(line):
                    hit = clean(f"{path}:{number}:{line}")
                    budget[0] -= len(hit) + 1
                    if budget[0] < 0:
                        hits.append(f"[output truncated at {GREP_OUTPUT_MAX} bytes]")
                        return False
                    hits.append(hit)
    except OSError:
        pass
    return True


def grep_child() -> None:
    """Entry point of the grep child process: request on stdin, JSON string of hits on stdout."""
    resource.setrlimit(resource.RLIMIT_CPU, (GREP_CPU_SECONDS, GREP_CPU_SECONDS + 1))
    request = json.loads(sys.stdin.read())
    rx = re.compile(request["pattern"])
    target: str = request["target"]
    hits: list[str] = []
    budget = [GREP_OUTPUT_MAX]
    if os.path.isfile(target):
        _scan(rx, target, hits, budget)
    else:
        for entry, _ in walk(target):
            if entry.is_file(follow_symlinks=False) and not _scan(rx, entry.path, hits, budget):
                break
    sys.stdout.write(json.dumps("\n".join(hits)))
