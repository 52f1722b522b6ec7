"""``GitServer``: a real git smart-HTTP server on loopback, git's own ``git http-backend`` run as CGI per request.

It serves the bare repositories under ``root`` (``<root>/<owner>/<name>.git`` answers ``/<owner>/<name>.git/…``
and, as GitHub does, ``/<owner>/<name>/…``), for clone, fetch and push (``http.receivepack`` is enabled, so no
``REMOTE_USER`` is needed). With ``token`` set, every request must carry it, as GitHub takes one: HTTP Basic with
the token as the password (``x-access-token:<token>``) or ``Bearer <token>``; without, the answer is ``401`` with a
``WWW-Authenticate: Basic`` challenge. A repository named in ``forbidden`` answers ``403`` to an authorized
request. Every request is recorded with the ``Authorization`` it arrived with (``requests``), so a test can
check which requests carried the token.

Runs on a thread of its own with its own event loop (``ThreadedServer``): the backend is an ``anyio`` child
process, never a blocking call. Responses are buffered whole: small test repositories only.
"""

from __future__ import annotations

import base64
import binascii
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio

from corral.testing.http import Request, Responder, ThreadedServer

GIT = "/usr/bin/git"


@dataclass(frozen=True)
class GitRequest:
    method: str
    path: str
    query: str
    authorization: str | None
    status: int


def basic(token: str, user: str = "x-access-token") -> str:
    """The ``Authorization`` value GitHub takes for ``token`` (and the egress proxy sends)."""
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def _carries(authorization: str | None, token: str) -> bool:
    if authorization is None:
        return False
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() == token
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    return decoded.partition(":")[2] == token


def _cgi_answer(output: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = output.partition(b"\r\n\r\n") if b"\r\n\r\n" in output else output.partition(b"\n\n")
    status, headers = 200, dict[str, str]()
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "status":
            status = int(value.split()[0])
        elif name.strip():
            headers[name.strip().lower()] = value.strip()
    return status, headers, body


class GitServer(ThreadedServer):
    name = "git-http"

    def __init__(
        self,
        root: Path,
        *,
        token: str | None = None,
        forbidden: Iterable[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.root = root
        #: the token every request must carry (None: anyone may clone and push); may be changed while serving
        self.token = token
        self.forbidden = set(forbidden)
        self._requests: list[GitRequest] = []
        self._lock = threading.Lock()
        super().__init__(self._answer, host=host, port=port)

    @property
    def requests(self) -> list[GitRequest]:
        with self._lock:
            return list(self._requests)

    def clone_url(self, repository: str) -> str:
        """The clone URL of ``owner/name`` (without ``.git``, as GitHub shows it)."""
        return f"http://{self.host}:{self.port}/{repository}"

    def _record(self, request: Request, status: int) -> int:
        seen = GitRequest(request.method, request.path, request.query, request.headers.get("authorization"), status)
        with self._lock:
            self._requests.append(seen)
        return status

    async def _answer(self, request: Request, responder: Responder) -> None:
        path = self._repository_path(request.path)
        if self.token is not None and not _carries(request.headers.get("authorization"), self.token):
            self._record(request, 401)
            challenge = {"www-authenticate": 'Basic realm="corral-git"'}
            await responder.send(401, b"authentication required\n", "text/plain", challenge)
            return
        if path is None or path.partition(".git")[0].strip("/") in self.forbidden:
            status = self._record(request, 403 if path is not None else 404)
            await responder.send(status, b"no access\n", "text/plain")
            return
        status, headers, body = await self._backend(request, path)
        self._record(request, status)
        content_type = headers.pop("content-type", "application/octet-stream")
        await responder.send(status, body, content_type, headers)

    def _repository_path(self, path: str) -> str | None:
        """``path`` with ``.git`` after the repository name (as the repository is stored); None: malformed."""
        parts = path.strip("/").split("/")
        if len(parts) < 3 or any(part in ("", ".", "..") for part in parts):
            return None
        if not parts[1].endswith(".git"):
            parts[1] += ".git"
        return "/" + "/".join(parts)

    async def _backend(self, request: Request, path: str) -> tuple[int, dict[str, str], bytes]:
        env = {
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.receivepack",
            "GIT_CONFIG_VALUE_0": "true",
            "PATH_INFO": path,
            "QUERY_STRING": request.query,
            "REQUEST_METHOD": request.method,
            "CONTENT_TYPE": request.headers.get("content-type", ""),
            "CONTENT_LENGTH": str(len(request.body)),
            "REMOTE_ADDR": "127.0.0.1",
            "PATH": "/usr/bin:/bin",
        }
        if "content-encoding" in request.headers:
            env["HTTP_CONTENT_ENCODING"] = request.headers["content-encoding"]
        if "git-protocol" in request.headers:
            env["GIT_PROTOCOL"] = request.headers["git-protocol"]
        done = await anyio.run_process([GIT, "http-backend"], input=request.body, env=env, check=False)
        if done.returncode != 0 and not done.stdout:
            return 500, {}, done.stderr
        return _cgi_answer(done.stdout)


_IDENTITY = {
    "GIT_AUTHOR_NAME": "corral tests",
    "GIT_AUTHOR_EMAIL": "tests@corral.invalid",
    "GIT_COMMITTER_NAME": "corral tests",
    "GIT_COMMITTER_EMAIL": "tests@corral.invalid",
    "PATH": "/usr/bin:/bin",
    "HOME": "/nonexistent",
}


async def git(*args: str, cwd: Path | None = None) -> str:
    """Run git on the host (fixtures); its output, ``CalledProcessError`` when it fails."""
    done = await anyio.run_process([GIT, *args], cwd=cwd, env=_IDENTITY)
    return done.stdout.decode().strip()


async def bare_repository(root: Path, repository: str) -> Path:
    """An empty bare repository ``owner/name`` under ``root`` (its default branch ``main``); its path."""
    path = root / f"{repository}.git"
    path.parent.mkdir(parents=True, exist_ok=True)
    await git("init", "--quiet", "--bare", "--initial-branch=main", str(path))
    return path


async def commit(bare: Path, branch: str, files: Mapping[str, str], message: str = "a commit") -> str:
    """Commit ``files`` (path → text) on ``branch`` of ``bare`` (created from ``main`` when new); the commit's sha."""
    work = Path(await anyio.to_thread.run_sync(tempfile.mkdtemp))
    try:
        tree = work / "tree"
        await git("clone", "--quiet", str(bare), str(tree))
        heads = (await git("branch", "--remotes", cwd=tree)).split()
        start = f"origin/{branch}" if f"origin/{branch}" in heads else ("origin/main" if heads else "")
        await git("checkout", "--quiet", "-B", branch, *([start] if start else []), cwd=tree)
        for name, text in files.items():
            await anyio.Path(tree / name).parent.mkdir(parents=True, exist_ok=True)
            await anyio.Path(tree / name).write_text(text)
        await git("add", "--all", cwd=tree)
        await git("commit", "--quiet", "--message", message, cwd=tree)
        await git("push", "--quiet", "origin", branch, cwd=tree)
        return await git("rev-parse", "HEAD", cwd=tree)
    finally:
        await anyio.to_thread.run_sync(shutil.rmtree, work)
