"""One contract, every backend (``store`` is parametrized: a directory, and S3 on a real moto server)."""

from __future__ import annotations

import hashlib
import random
import tracemalloc
from collections.abc import AsyncIterator, Iterable

import anyio
import pytest

from corral.blobs import BlobRef, BlobStore, blob_ref
from corral.errors import BlobTooLarge, ErrorCode, InvalidRequest, NotFound
from tests.blobs.conftest import MIB, TEST_PART_SIZE, leftovers, stored

pytestmark = pytest.mark.anyio


async def stream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def read(store: BlobStore, ref: BlobRef, *, start: int = 0, end: int | None = None) -> bytes:
    async with store.open(ref, start=start, end=end) as chunks:
        return b"".join([chunk async for chunk in chunks])


def pieces(seed: int, total: int) -> list[bytes]:
    """``total`` bytes in chunks of uneven sizes (1 byte to 256 KiB), reproducible from ``seed``."""
    rng = random.Random(seed)
    out: list[bytes] = []
    left = total
    while left:
        size = min(left, rng.choice([1, 7, 4096, 65536, 262144]))
        out.append(rng.randbytes(size))
        left -= size
    return out


async def live_of(*refs: BlobRef) -> AsyncIterator[BlobRef]:
    for ref in refs:
        yield ref


@pytest.mark.parametrize("size", [0, 3000, TEST_PART_SIZE * 2 + 12345], ids=["empty", "small", "multipart"])
async def test_a_blob_goes_in_as_many_chunks_and_comes_back_whole(store: BlobStore, size: int) -> None:
    chunks = pieces(size, size)
    data = b"".join(chunks)
    ref = await store.put(stream(chunks))
    assert ref == blob_ref(hashlib.sha256(data).hexdigest())
    assert await read(store, ref) == data
    assert (await store.stat(ref)).size == size
    assert await store.exists(ref)
    assert await leftovers(store) == []


async def test_a_byte_range_is_read_without_the_rest(store: BlobStore) -> None:
    data = b"".join(pieces(1, 100_000))
    ref = await store.put(stream([data]))
    assert await read(store, ref, start=10, end=20) == data[10:20]
    assert await read(store, ref, start=99_990) == data[99_990:]
    assert await read(store, ref, start=50, end=50) == b""
    assert await read(store, ref, start=200_000) == b""


async def test_the_same_bytes_twice_are_one_blob(store: BlobStore) -> None:
    first = await store.put(stream([b"hello ", b"world"]))
    second = await store.put(stream([b"hel", b"lo world"]))
    assert first == second
    assert await stored(store) == [first.removeprefix("sha256:")]


@pytest.mark.parametrize("past", [1000, TEST_PART_SIZE + MIB], ids=["in-the-first-part", "after-a-part-went-out"])
async def test_a_stream_past_the_limit_is_refused_midway_and_leaves_nothing(store: BlobStore, past: int) -> None:
    pulled: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for index in range(10_000):
            pulled.append(index)
            yield b"x" * (MIB // 4)

    with pytest.raises(BlobTooLarge) as caught:
        await store.put(endless(), limit=past)
    assert (caught.value.code, caught.value.status) == (ErrorCode.BLOB_TOO_LARGE, 413)
    assert len(pulled) == past // (MIB // 4) + 1  # refused at the chunk that went past, the rest never read
    assert await stored(store) == []
    assert await leftovers(store) == []


async def test_the_stores_own_limit_holds_whatever_the_call_says(store: BlobStore) -> None:
    store.max_bytes = 10
    with pytest.raises(BlobTooLarge):
        await store.put(stream([b"0123456789", b"!"]), limit=1000)
    assert await store.put(stream([b"0123456789"])) == blob_ref(hashlib.sha256(b"0123456789").hexdigest())


async def test_concurrent_puts_of_the_same_bytes_make_one_whole_blob(store: BlobStore) -> None:
    chunks = pieces(7, TEST_PART_SIZE + 4 * MIB)
    refs: list[BlobRef] = []

    async def one() -> None:
        refs.append(await store.put(stream(chunks)))

    async with anyio.create_task_group() as tasks:
        for _ in range(6):
            tasks.start_soon(one)
    assert len(set(refs)) == 1 and len(refs) == 6
    assert hashlib.sha256(await read(store, refs[0])).hexdigest() == refs[0].removeprefix("sha256:")
    assert await stored(store) == [refs[0].removeprefix("sha256:")]
    assert await leftovers(store) == []


async def test_a_deleted_blob_is_gone(store: BlobStore) -> None:
    ref = await store.put(stream([b"short-lived"]))
    assert await store.delete(ref) is True
    assert await store.exists(ref) is False
    assert await store.delete(ref) is False
    with pytest.raises(NotFound) as caught:
        await store.stat(ref)
    assert caught.value.code == ErrorCode.BLOB_NOT_FOUND
    with pytest.raises(NotFound):
        await read(store, ref)


async def test_an_address_that_is_not_one_is_refused(store: BlobStore) -> None:
    for bad in ["sha256:../../etc/passwd", "md5:00", "sha256:" + "A" * 64, ""]:
        with pytest.raises(InvalidRequest):
            await store.exists(BlobRef(bad))


async def test_collect_keeps_referenced_and_young_blobs_and_removes_old_orphans(store: BlobStore) -> None:
    kept, orphan, other = [await store.put(stream([name])) for name in (b"kept", b"orphan", b"other")]
    assert await store.collect(lambda: live_of(kept), older_than=3600) == 0  # the orphans are young
    assert [await store.exists(ref) for ref in (kept, orphan, other)] == [True, True, True]
    assert await store.collect(lambda: live_of(kept), older_than=0) == 2
    assert [await store.exists(ref) for ref in (kept, orphan, other)] == [True, False, False]
    assert await store.put(stream([b"orphan"])) == orphan  # collected bytes can come back
    assert await read(store, orphan) == b"orphan"


async def test_a_blob_of_50_mib_streams_in_and_out_in_bounded_memory(store: BlobStore) -> None:
    total, chunk = 50 * MIB, MIB
    rng = random.Random(50)
    sha = hashlib.sha256()

    async def generated() -> AsyncIterator[bytes]:
        for _ in range(total // chunk):
            piece = rng.randbytes(chunk)
            sha.update(piece)
            yield piece

    tracemalloc.start()
    try:
        ref = await store.put(generated())
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        back = hashlib.sha256()
        async with store.open(ref) as chunks:
            async for piece in chunks:
                back.update(piece)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ref == blob_ref(sha.hexdigest()) == blob_ref(back.hexdigest())
    print(f"50 MiB blob: peak traced memory put {put_peak / MIB:.1f} MiB, read {read_peak / MIB:.1f} MiB")
    assert put_peak < 20 * MIB and read_peak < 20 * MIB  # S3: a part being gathered and the one going out
