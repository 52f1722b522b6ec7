"""The file operations (``read_file``, ``write_file``, ``edit_file``), confined to the workspace (reads also to
read-only mounts). ``label`` is the name of the tool a call came from, as the host sent it (error messages).

Paths resolve against the workspace and through every symlink (a dangling leaf included) before the
containment check, so a link that points outside cannot be followed. The sandbox is the security boundary;
this confinement keeps the tools to what the agent was given.

Invariants: errors read ``"<tool>: <path>: <reason>"``; whole-file reads and edits are capped (``view_range``
reads beyond the cap); images and PDFs come back as ``image`` / ``document`` blocks.
"""

from __future__ import annotations

import errno
import os
import stat

from .results import ToolFailure, clean, text

TYPE_CHECKING = False  # typing costs milliseconds of start-up; annotations are strings anyway
if TYPE_CHECKING:
    from typing import Any

    from .results import Result, Value

IMAGE_MAX = 5 * 1024 * 1024
PDF_MAX = 20 * 1024 * 1024
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
_REASONS = {
    errno.ENOENT: "no such file or directory",
    errno.ENOTDIR: "not a directory",
    errno.EISDIR: "is a directory",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large",
    errno.ELOOP: "too many levels of symbolic links",
    errno.ENAMETOOLONG: "file name too long",
}


class Roots:
    """Where the file tools may go: the workspace and writable mounts (read/write), read-only mounts (read)."""

    def __init__(
        self,
        workspace: str,
        read_only: tuple[str, ...] = (),
        file_cap: int = 256 * 1024,
        writable: tuple[str, ...] = (),
    ) -> None:
        self.workspace, self.read_only, self.file_cap, self.writable = workspace, read_only, file_cap, writable


def within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def fs_failure(tool: str, path: str, exc: OSError) -> ToolFailure:
    reason = _REASONS.get(exc.errno or 0) or (exc.strerror or "i/o error").lower()
    return ToolFailure(f"{tool}: {path}: {reason}")


def resolve(tool: str, path: Any, roots: Roots, *, write: bool = False) -> str:
    if not isinstance(path, str) or not path:
        raise ToolFailure(f"{tool}: file_path is required")
    if "\x00" in path:
        raise ToolFailure(f"{tool}: {clean(path)}: invalid path")
    real = os.path.realpath(os.path.join(roots.workspace, path))
    writable = (roots.workspace, *roots.writable)
    allowed = writable if write else (*writable, *roots.read_only)
    if not any(within(real, root) for root in allowed):
        if not write:
            where = "the workspace and the mounts"
        else:
            where = "the workspace and the writable mounts" if roots.writable else "the workspace"
        raise ToolFailure(f"{tool}: {path}: outside {where}")
    return real


def _regular(tool: str, path: str, real: str) -> os.stat_result:
    try:
        st = os.stat(real)
    except OSError as exc:
        raise fs_failure(tool, path, exc) from exc
    if stat.S_ISDIR(st.st_mode):
        raise ToolFailure(f"{tool}: {path}: is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise ToolFailure(f"{tool}: {path}: not a regular file")
    return st


def _media_type(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), None)


def _block(label: str, path: str, real: str, size: int, media: str) -> Result:
    cap = PDF_MAX if media == "application/pdf" else IMAGE_MAX
    if size > cap:
        raise ToolFailure(f"{label}: {path}: {media} is {size} bytes, exceeds the {cap}-byte limit")
    import base64  # only images and PDFs need it; the agent starts faster without

    with open(real, "rb") as f:
        data = base64.b64encode(f.read()).decode()
    kind = "document" if media == "application/pdf" else "image"
    return {"content": [{"type": kind, "source": {"type": "base64", "media_type": media, "data": data}}]}


def _decode(tool: str, path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolFailure(f"{tool}: {path}: not valid UTF-8 text (use bash to inspect binary files)") from None


def _view(label: str, path: str, real: str, view_range: Value, cap: int) -> str:
    if not (isinstance(view_range, list) and len(view_range) == 2 and all(type(n) is int for n in view_range)):
        raise ToolFailure(f"{label}: view_range must be [start_line, end_line]")
    start, end = max(1, view_range[0]), view_range[1]
    picked: list[bytes] = []
    size = 0
    with open(real, "rb") as f:
        for number, line in enumerate(f, 1):
            if end > 0 and number > end:
                break
            if number >= start:
                size += len(line)
                if size > cap:
                    picked.append(f"[truncated at {cap} bytes; narrow view_range]".encode())
                    break
                picked.append(line)
    return _decode(label, path, b"".join(picked))


def read_file(tool_input: dict[str, Any], roots: Roots, label: str) -> Result:
    path = tool_input.get("file_path")
    real = resolve(label, path, roots)
    st = _regular(label, str(path), real)
    with open(real, "rb") as f:
        head = f.read(16)
    media = _media_type(head)
    if media is not None:
        return _block(label, str(path), real, st.st_size, media)
    view_range = tool_input.get("view_range")
    if view_range is not None:
        return text(_view(label, str(path), real, view_range, roots.file_cap), empty="(no lines in range)")
    if st.st_size > roots.file_cap:
        raise ToolFailure(
            f"{label}: {path}: file is {st.st_size} bytes, exceeds the {roots.file_cap}-byte limit; "
            "use view_range (or bash: head/tail/sed) to read part of it"
        )
    with open(real, "rb") as f:
        return text(_decode(label, str(path), f.read()), empty="(empty file)")


def write_file(tool_input: dict[str, Any], roots: Roots, label: str) -> Result:
    path, content = tool_input.get("file_path"), tool_input.get("content")
    if not isinstance(content, str):
        raise ToolFailure(f"{label}: content must be a string")
    real = resolve(label, path, roots, write=True)
    data = content.encode("utf-8", errors="replace")
    try:
        os.makedirs(os.path.dirname(real), exist_ok=True)
        with open(real, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise fs_failure(label, str(path), exc) from exc
    return text(f"wrote {len(data)} bytes to {path}")


def edit_file(tool_input: dict[str, Any], roots: Roots, label: str) -> Result:
    path = tool_input.get("file_path")
    old, new = tool_input.get("old_string"), tool_input.get("new_string")
    if not isinstance(old, str) or not isinstance(new, str):
        raise ToolFailure(f"{label}: old_string and new_string must be strings")
    if not old:
        raise ToolFailure(f"{label}: {path}: old_string must not be empty")
    real = resolve(label, path, roots, write=True)
    st = _regular(label, str(path), real)
    if st.st_size > roots.file_cap:
        raise ToolFailure(f"{label}: {path}: file is {st.st_size} bytes, exceeds the {roots.file_cap}-byte limit")
    try:
        with open(real, "rb") as f:
            body = _decode(label, str(path), f.read())
        count = body.count(old)
        if count == 0:
            raise ToolFailure(f"{label}: {path}: old_string not found")
        replace_all = tool_input.get("replace_all") is True
        if count > 1 and not replace_all:
            raise ToolFailure(f"{label}: {path}: old_string occurs {count} times; make it unique or set replace_all")
        updated = body.replace(old, new) if replace_all else body.replace(old, new, 1)
        with open(real, "wb") as f:
            f.write(updated.encode("utf-8", errors="replace"))
    except OSError as exc:
        raise fs_failure(label, str(path), exc) from exc
    return text(f"edited {path} ({count if replace_all else 1} replacement(s))")
