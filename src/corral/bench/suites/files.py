"""The ``files`` suite: what the Files API costs against the disk it stores on (issue 11's target: upload and
download of a 100 MiB file at ≥ 0.5× the throughput of copying it on the same disk, in constant memory).

One arm, ``throughput``, against a live ``corral serve`` on SQLite whose blob store is the local one under its
data dir (the embedded default), in the run's scratch directory — the same disk as the floor:

* ``copy``: ``shutil.copyfile`` of the file to a new one beside it, then ``fsync`` (a stored blob is fsynced
  before it is published, so the floor is held to the same durability);
* ``upload``: ``POST /v1/files`` with the file as the multipart ``file`` part, streamed from disk by httpx;
* ``download``: ``GET /v1/files/{id}/content`` streamed into a new file beside it, then ``fsync``.

Rounds interleave the three (``interleave``), a fresh upload each round (the same bytes: the store keeps one
blob, so an upload is measured as hashing, writing and publishing, not as skipped). Throughput ratios are paired
per round: ``copy seconds ÷ upload seconds`` is upload throughput as a fraction of the copy's. Memory: the peak
resident size of ``corral serve`` during the transfers above what it held before them, sampled every 20 ms.

Invariants: every download is byte-for-byte the file (its size and SHA-256 checked) or the arm fails; the
server is stopped and the scratch files removed before the arm returns. Blocking file and HTTP work runs in
worker threads, never on the event loop.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.to_thread
import httpx

from corral.bench.measure import add_latency, add_ratio, add_value, interleave
from corral.bench.procs import CorralServe, corral_env, rss_kib
from corral.bench.results import Arm, SuiteResult
from corral.bench.suite import Context, Suite

MIB = 1024 * 1024
_CHUNK = MIB


def _make(path: Path, size: int) -> str:
    """A file of ``size`` random bytes; its SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size // _CHUNK):
            chunk = os.urandom(_CHUNK)
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _copy(source: Path, target: Path) -> float:
    began = time.perf_counter()
    shutil.copyfile(source, target)
    _fsync(target)
    elapsed = time.perf_counter() - began
    target.unlink()
    return elapsed


def _upload(http: httpx.Client, source: Path) -> tuple[float, str]:
    began = time.perf_counter()
    with source.open("rb") as body:
        answer = http.post("/v1/files", files={"file": (source.name, body, "application/octet-stream")})
    elapsed = time.perf_counter() - began
    answer.raise_for_status()
    return elapsed, str(answer.json()["id"])


def _download(http: httpx.Client, file_id: str, target: Path, expected: tuple[int, str]) -> float:
    digest = hashlib.sha256()
    began = time.perf_counter()
    with http.stream("GET", f"/v1/files/{file_id}/content") as answer, target.open("wb") as out:
        answer.raise_for_status()
        for chunk in answer.iter_bytes(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    elapsed = time.perf_counter() - began
    size = target.stat().st_size
    target.unlink()
    if (size, digest.hexdigest()) != expected:
        raise RuntimeError(f"download of {file_id} is not the file ({size} bytes)")
    return elapsed


@asynccontextmanager
async def _peak_rss(pid: int) -> AsyncGenerator[list[int]]:
    """Samples the process's resident size every 20 ms while the body runs: ``[baseline, peak]`` in KiB."""
    seen = [rss_kib(pid), 0]

    async def sample() -> None:
        while True:
            seen[1] = max(seen[1], rss_kib(pid))
            await anyio.sleep(0.02)

    async with anyio.create_task_group() as tg:
        tg.start_soon(sample)
        try:
            yield seen
        finally:
            tg.cancel_scope.cancel()


async def run(ctx: Context, result: SuiteResult) -> None:
    size = ctx.pick("files.mib", 8, 100) * MIB
    rounds = ctx.pick("files.rounds", 2, 7)
    result.params.update({"size_mib": size // MIB, "rounds": rounds, "engine": "sqlite", "blobs": "local"})
    arm = Arm("throughput", f"a {size // MIB} MiB file: upload, download, and a copy on the same disk")
    result.arms.append(arm)
    work = ctx.scratch / "files"
    work.mkdir(parents=True, exist_ok=True)
    source = work / "payload.bin"
    expected = (size, await anyio.to_thread.run_sync(_make, source, size))
    serve = CorralServe(
        corral_env(ctx.scratch / "serve", "http://127.0.0.1:9", CORRAL_WORKERS="0"), ctx.scratch / "serve.log"
    )
    try:
        await serve.start()
        headers = {"x-api-key": serve.key, "anthropic-version": "2023-06-01"}
        with httpx.Client(base_url=serve.url, headers=headers, timeout=600) as http:
            await _measure(ctx, arm, http, serve.pid, source, expected, rounds)
    finally:
        await serve.aclose()
        shutil.rmtree(work, ignore_errors=True)


async def _measure(
    ctx: Context, arm: Arm, http: httpx.Client, pid: int, source: Path, expected: tuple[int, str], rounds: int
) -> None:
    ids: list[str] = []

    async def copy() -> list[float]:
        return [await anyio.to_thread.run_sync(_copy, source, source.with_suffix(".copy"))]

    async def upload() -> list[float]:
        elapsed, file_id = await anyio.to_thread.run_sync(_upload, http, source)
        ids.append(file_id)
        return [elapsed]

    async def download() -> list[float]:
        target = source.with_suffix(".down")
        return [await anyio.to_thread.run_sync(_download, http, ids[-1], target, expected)]

    _, file_id = await anyio.to_thread.run_sync(_upload, http, source)  # the first download has a file
    ids.append(file_id)
    async with _peak_rss(pid) as rss:
        samples, failed = await interleave(ctx, "files", {"copy": copy, "upload": upload, "download": download}, rounds)
    if failed:
        raise RuntimeError(f"files arm failed: {failed}")
    mib = expected[0] / MIB
    add_latency(arm, "copy", f"copy {mib:.0f} MiB + fsync", samples["copy"], ((0.5, "p50"),))
    add_latency(arm, "upload", f"upload {mib:.0f} MiB", samples["upload"], ((0.5, "p50"),))
    add_latency(arm, "download", f"download {mib:.0f} MiB + fsync", samples["download"], ((0.5, "p50"),))
    for name in ("upload", "download"):
        label = f"{name} throughput ÷ same-disk copy throughput (paired per round, p50)"
        add_ratio(arm, f"{name}.vs_copy", label, samples["copy"], samples[name], paired=True)
    add_value(
        arm,
        "rss.peak_growth",
        "corral serve peak RSS above its baseline during the transfers",
        max(0, rss[1] - rss[0]) / 1024,
        "MiB",
    )
    add_value(arm, "rounds", "rounds (one copy, upload and download each)", rounds, "", n=rounds)


SUITE = Suite("files", "a corral serve on SQLite with local blobs; the scratch directory's disk", run)
