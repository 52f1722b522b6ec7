"""The file and search tools on real files: read, write, edit, glob, grep; confinement; mounts; tool configs."""

from __future__ import annotations

import base64
import secrets
import shutil
import struct
import zlib
from pathlib import Path

import pytest

from corral.errors import SandboxError
from corral.sandbox import Mount
from corral.sandbox.local import LocalSandboxProvider
from tests.sandbox.conftest import Runner, new_spec

pytestmark = pytest.mark.anyio


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0\0\0\0")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


async def test_write_creates_parents_and_read_returns_the_text(run: Runner) -> None:
    assert await run.ok("write", file_path="deep/er/notes.txt", content="one\ntwo\nthree\n") == (
        "wrote 14 bytes to deep/er/notes.txt"
    )
    assert await run.ok("read", file_path="/workspace/deep/er/notes.txt") == "one\ntwo\nthree\n"
    assert await run.ok("bash", command="stat -c %U deep/er/notes.txt") == "user"


async def test_view_range_is_one_indexed_inclusive_and_zero_end_reads_to_eof(run: Runner) -> None:
    await run.ok("write", file_path="lines.txt", content="".join(f"line {n}\n" for n in range(1, 11)))
    assert await run.ok("read", file_path="lines.txt", view_range=[2, 3]) == "line 2\nline 3\n"
    assert await run.ok("read", file_path="lines.txt", view_range=[9, 0]) == "line 9\nline 10\n"
    assert await run.fails("read", file_path="lines.txt", view_range=[1]) == (
        "read: view_range must be [start_line, end_line]"
    )


async def test_read_refuses_files_over_256_kib_unless_a_range_is_given(run: Runner) -> None:
    await run.ok("bash", command="seq 1 100000 > big.txt")
    text = await run.fails("read", file_path="big.txt")
    assert text.startswith("read: big.txt: file is 588895 bytes, exceeds the 262144-byte limit")
    assert await run.ok("read", file_path="big.txt", view_range=[50000, 50001]) == "50000\n50001\n"


async def test_read_errors_name_the_tool_the_path_and_the_reason(run: Runner) -> None:
    assert await run.fails("read", file_path="missing.txt") == "read: missing.txt: no such file or directory"
    await run.ok("bash", command="mkdir adir; mkfifo pipe; head -c 64 /dev/urandom > blob.bin")
    assert await run.fails("read", file_path="adir") == "read: adir: is a directory"
    assert await run.fails("read", file_path="pipe") == "read: pipe: not a regular file"
    assert (await run.fails("read", file_path="blob.bin")).startswith("read: blob.bin: not valid UTF-8 text")


async def test_images_and_pdfs_come_back_as_content_blocks(run: Runner) -> None:
    png = tiny_png()
    encoded = base64.b64encode(png).decode()
    await run.ok("bash", command=f"echo {encoded} | base64 -d > pixel.png; printf '%%PDF-1.4\\n%%%%EOF\\n' > doc.pdf")
    image = await run("read", file_path="pixel.png")
    source = {"type": "base64", "media_type": "image/png", "data": encoded}
    assert image.content == [{"type": "image", "source": source}]
    document = await run("read", file_path="doc.pdf")
    assert document.content[0]["type"] == "document"
    assert base64.b64decode(document.content[0]["source"]["data"]) == b"%PDF-1.4\n%%EOF\n"


async def test_edit_replaces_a_unique_string_or_all_with_replace_all(run: Runner) -> None:
    await run.ok("write", file_path="code.py", content="x = 1\ny = 1\nprint(x)\n")
    assert await run.fails("edit", file_path="code.py", old_string="1", new_string="2") == (
        "edit: code.py: old_string occurs 2 times; make it unique or set replace_all"
    )
    assert await run.ok("edit", file_path="code.py", old_string="x = 1", new_string="x = 5") == (
        "edited code.py (1 replacement(s))"
    )
    assert await run.ok("edit", file_path="code.py", old_string="1", new_string="7", replace_all=True) == (
        "edited code.py (1 replacement(s))"
    )
    assert await run.ok("bash", command="python3 code.py; cat code.py") == "5\nx = 5\ny = 7\nprint(x)"
    assert await run.fails("edit", file_path="code.py", old_string="absent", new_string="") == (
        "edit: code.py: old_string not found"
    )
    assert await run.fails("edit", file_path="nope.py", old_string="a", new_string="b") == (
        "edit: nope.py: no such file or directory"
    )


async def test_file_tools_are_confined_to_the_workspace_symlinks_included(run: Runner) -> None:
    await run.ok("bash", command="ln -s /etc/passwd link; ln -s / root; ln -s /nowhere dangling")
    outside = "outside the workspace and the mounts"
    assert await run.fails("read", file_path="/etc/passwd") == f"read: /etc/passwd: {outside}"
    assert await run.fails("read", file_path="link") == f"read: link: {outside}"
    assert await run.fails("read", file_path="root/etc/hostname") == f"read: root/etc/hostname: {outside}"
    assert await run.fails("read", file_path="../etc/passwd") == f"read: ../etc/passwd: {outside}"
    assert await run.fails("write", file_path="/tmp/x", content="") == "write: /tmp/x: outside the workspace"
    assert await run.fails("write", file_path="dangling", content="x") == "write: dangling: outside the workspace"
    assert await run.fails("edit", file_path="link", old_string="r", new_string="R") == (
        "edit: link: outside the workspace"
    )
    assert await run.fails("glob", pattern="../*") == "glob: ../*: '..' is not allowed in the pattern"
    assert (await run.fails("grep", pattern="root", path="/etc")).startswith("grep: /etc: outside")


async def test_glob_matches_doublestar_newest_first(run: Runner) -> None:
    await run.ok("bash", command="mkdir -p g/a/b; touch -d '2 days ago' g/old.py; touch -d '1 day ago' g/a/mid.py")
    await run.ok("bash", command="touch g/a/b/new.py g/a/b/skip.txt")
    assert await run.ok("glob", pattern="g/**/*.py") == (
        "/workspace/g/a/b/new.py\n/workspace/g/a/mid.py\n/workspace/g/old.py"
    )
    assert await run.ok("glob", pattern="*.py", path="g") == "/workspace/g/old.py"
    assert await run.ok("glob", pattern="/workspace/g/a/*.{py,txt}") == "/workspace/g/a/mid.py"
    assert await run.ok("glob", pattern="g/**/*.rs") == "no files matched"


async def test_glob_lists_at_most_200_results(run: Runner) -> None:
    await run.ok("bash", command="mkdir many && cd many && touch $(seq -f 'f%03g.txt' 1 250)")
    lines = (await run.ok("glob", pattern="many/*.txt")).splitlines()
    assert len(lines) == 201
    assert lines[-1] == "[50 more matches not shown; narrow the pattern]"


async def test_grep_searches_text_files_and_skips_binaries(run: Runner) -> None:
    await run.ok("write", file_path="src/a.py", content="def alpha():\n    return 1\n")
    await run.ok("write", file_path="src/b.py", content="def beta():\n    return alpha()\n")
    await run.ok("bash", command="printf 'alpha\\0binary' > src/c.bin")
    assert await run.ok("grep", pattern=r"alpha\(", path="src") == (
        "/workspace/src/a.py:1:def alpha():\n/workspace/src/b.py:2:    return alpha()"
    )
    assert await run.ok("grep", pattern="gamma", path="src") == "no matches"
    assert (await run.fails("grep", pattern="(unclosed")).startswith("grep: invalid regular expression")


async def test_unknown_tools_are_errors_not_exceptions(run: Runner) -> None:
    assert (await run.fails("web_fetch", url="http://example.com")).startswith("web_fetch: not a sandbox tool")


async def test_files_are_mounted_read_only_and_readable(provider: LocalSandboxProvider, tmp_path: Path) -> None:
    source = tmp_path / "upload.csv"
    source.write_text("a,b\n1,2\n")
    mounts = (Mount(str(source), "/mnt/session/uploads/data.csv"),)
    sandbox = await provider.provision(new_spec(mounts=mounts))
    run = Runner(sandbox)
    try:
        assert await run.ok("read", file_path="/mnt/session/uploads/data.csv") == "a,b\n1,2\n"
        refused = await run.fails("bash", command="echo x >> /mnt/session/uploads/data.csv")
        assert "Permission denied" in refused or "Read-only file system" in refused
        assert await run.fails("write", file_path="/mnt/session/uploads/data.csv", content="") == (
            "write: /mnt/session/uploads/data.csv: outside the workspace"
        )
    finally:
        await sandbox.release()
    assert source.read_text() == "a,b\n1,2\n"


async def test_directories_are_mounted_read_only_or_writable(provider: LocalSandboxProvider) -> None:
    home = provider.mount_root() / secrets.token_hex(4)
    shelf, notes = home / "shelf", home / "notes"
    for directory in (shelf, notes):
        directory.mkdir(parents=True)
        directory.chmod(0o755)
        (directory / "seed.md").write_text(f"from {directory.name}\n")
    mounts = (Mount(str(shelf), "/mnt/memory/shelf"), Mount(str(notes), "/mnt/memory/notes", read_only=False))
    sandbox = await provider.provision(new_spec(mounts=mounts))
    run = Runner(sandbox)
    try:
        assert await run.ok("read", file_path="/mnt/memory/shelf/seed.md") == "from shelf\n"
        refused = await run.fails("bash", command="echo x > /mnt/memory/shelf/new.md")
        assert "Read-only file system" in refused
        assert await run.fails("write", file_path="/mnt/memory/shelf/new.md", content="x") == (
            "write: /mnt/memory/shelf/new.md: outside the workspace and the writable mounts"
        )
        await run.ok("write", file_path="/mnt/memory/notes/fact.md", content="the sky is blue")
        await run.ok("bash", command="mkdir -p /mnt/memory/notes/sub && echo deep > /mnt/memory/notes/sub/x.md")
        assert await run.ok("grep", pattern="blue", path="/mnt/memory/notes") == (
            "/mnt/memory/notes/fact.md:1:the sky is blue"
        )
    finally:
        await sandbox.release()
    assert (notes / "fact.md").read_text() == "the sky is blue"
    assert (notes / "sub" / "x.md").read_text() == "deep\n"
    assert sorted(p.name for p in shelf.iterdir()) == ["seed.md"]
    shutil.rmtree(home)


async def test_a_directory_mount_must_live_under_the_mount_root(provider: LocalSandboxProvider, tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="its source directory is not under"):
        await provider.provision(new_spec(mounts=(Mount(str(tmp_path), "/mnt/elsewhere"),)))
