"""The rules an uploaded skill's file paths keep, and the front matter of its ``SKILL.md`` (api.md §14).

Paths: every file is ``<dir>/<relative path>`` under one top-level directory, written with ``/``; no component is
empty, ``.`` or ``..``; no absolute path, backslash, NUL or other control character; each path is in Unicode
NFC (so two spellings of one name cannot both exist); at most ``MAX_PATH_CHARS`` characters. ``<dir>/SKILL.md``
must be one of the files. A file may not also be a directory of another file.

Front matter: ``SKILL.md`` opens with a ``---`` line and a block of ``key: value`` lines closed by ``---``. Only
``name`` and ``description`` are read: plain, quoted or block (``|`` / ``>``) scalars. ``name`` (when given)
must equal the top-level directory, which is the skill's slug: lowercase kebab-case, at most 64 characters.
``description`` is required (at most 1024 characters). Every refusal is a 400 naming the path or field.
"""

from __future__ import annotations

import re
import unicodedata

from corral.errors import ErrorCode, InvalidRequest

SKILL_FILE = "SKILL.md"
MAX_PATH_CHARS = 1024
MAX_NAME_CHARS = 64
MAX_DESCRIPTION_CHARS = 1024
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, code=ErrorCode.SKILL_INVALID)


def split(path: str | None) -> tuple[str, str]:
    """``(top-level directory, path below it)`` of an uploaded file's path, or a 400 naming the rule it breaks."""
    shown = repr((path or "")[:120])
    if not path:
        raise invalid("files[]: every file part needs a filename (its path in the skill)")
    if _CONTROL.search(path):
        raise invalid(f"files[]: the path {shown} contains NUL or another control character")
    if "\\" in path:
        raise invalid(f"files[]: the path {shown} contains a backslash; separate directories with /")
    if path.startswith("/"):
        raise invalid(f"files[]: the path {shown} is absolute; paths are relative to the skill")
    if len(path) > MAX_PATH_CHARS:
        raise invalid(f"files[]: the path {shown}… is longer than {MAX_PATH_CHARS} characters")
    if not unicodedata.is_normalized("NFC", path):
        raise invalid(f"files[]: the path {shown} is not in Unicode NFC form")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise invalid(f"files[]: the path {shown} has an empty, '.' or '..' component")
    if len(parts) < 2:
        raise invalid(f"files[]: {shown} is not inside a directory; put every file under one top-level directory")
    return parts[0], "/".join(parts[1:])


class Tree:
    """The paths seen so far: one top-level directory, no duplicates, no file that is also a directory."""

    def __init__(self) -> None:
        self.top: str | None = None
        self.files: set[str] = set()
        self.dirs: set[str] = set()

    def add(self, path: str | None) -> str:
        """Check ``path`` against the rules and the paths before it; its normal form."""
        top, rest = split(path)
        if self.top is not None and top != self.top:
            raise invalid(f"files[]: several top-level directories ({self.top!r} and {top!r}); a skill has one")
        self.top = top
        full = f"{top}/{rest}"
        parents = {"/".join(full.split("/")[:depth]) for depth in range(1, full.count("/") + 1)}
        if full in self.files or full in self.dirs or parents & self.files:
            raise invalid(f"files[]: {full!r} is given twice, or is both a file and a directory")
        self.files.add(full)
        self.dirs |= parents
        return full

    def skill_file(self) -> str:
        """The path of ``SKILL.md`` at the root of the top-level directory, or a 400 saying where it is not."""
        if self.top is None:
            raise invalid("files[]: no files were sent; a skill needs at least its SKILL.md")
        wanted = f"{self.top}/{SKILL_FILE}"
        if wanted not in self.files:
            elsewhere = sorted(path for path in self.files if path.rsplit("/", 1)[-1] == SKILL_FILE)
            where = f" (found {', '.join(elsewhere)[:200]}: it must be at the root)" if elsewhere else ""
            raise invalid(f"files[]: {wanted} is missing{where}")
        return wanted


def _scalar(lines: list[str], index: int, raw: str) -> str:
    """The value of a key whose text after ``:`` is ``raw`` (block scalars read the indented lines after it)."""
    text = raw.strip()
    if text[:1] in ("|", ">"):
        block: list[str] = []
        for line in lines[index + 1 :]:
            if line.strip() and not line[:1].isspace():
                break
            block.append(line.strip())
        joined = "\n" if text[0] == "|" else " "
        return joined.join(block).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in ("'", '"'):
        inner = text[1:-1]
        return inner.replace("''", "'") if text[0] == "'" else inner.replace('\\"', '"').replace("\\\\", "\\")
    return text.split(" #", 1)[0].strip()


def front_matter(text: str) -> dict[str, str]:
    """The top-level ``key: value`` pairs of the front matter (empty when there is none)."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    try:
        end = next(index for index, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        raise invalid(f"{SKILL_FILE}: the front matter opened by '---' is never closed") from None
    block = lines[1:end]
    found: dict[str, str] = {}
    for index, line in enumerate(block):
        key, colon, raw = line.partition(":")
        if colon and key.strip() and not line[:1].isspace() and not key.startswith("#"):
            found[key.strip()] = _scalar(block, index, raw)
    return found


def name_and_description(top: str, skill_md: bytes) -> tuple[str, str]:
    """The skill's slug and description from its ``SKILL.md`` (the file at the root of ``top``)."""
    try:
        text = skill_md.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid(f"{SKILL_FILE}: not UTF-8 text") from None
    fields = front_matter(text)
    if not fields:
        raise invalid(f"{SKILL_FILE}: must open with YAML front matter ('---' lines) giving name and description")
    name = fields.get("name") or top
    if not SLUG.fullmatch(name) or len(name) > MAX_NAME_CHARS:
        raise invalid(f"{SKILL_FILE}: name {name[:80]!r} must be lowercase kebab-case, at most {MAX_NAME_CHARS} chars")
    if name != top:
        raise invalid(f"{SKILL_FILE}: name {name!r} must equal its top-level directory {top!r}")
    description = fields.get("description", "")
    if not description:
        raise invalid(f"{SKILL_FILE}: the front matter needs a description")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise invalid(f"{SKILL_FILE}: the description is longer than {MAX_DESCRIPTION_CHARS} characters")
    return name, description
