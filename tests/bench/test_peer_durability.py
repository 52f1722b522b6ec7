"""The peer comparison's footing: openhands-sdk's environment is pinned in full by a lock shipped with the bench,
and sync calls are counted from strace's own output (the counting itself runs in the log suite's test)."""

from __future__ import annotations

from corral.bench.suites.log import peer
from corral.bench.suites.log.fsyncs import count_in


def test_the_lock_pins_the_peer_and_every_dependency() -> None:
    pins = peer.pinned()
    assert pins["openhands-sdk"] == peer.VERSION and len(pins) > 50
    assert peer.lock_digest() in peer.venv_dir(peer.LOCK.parent).name  # a new lock never reuses an old virtualenv


def test_an_environment_that_drifted_from_the_lock_is_named() -> None:
    pins = peer.pinned()
    exact = [f"{name}=={version}" for name, version in pins.items()] + ["pip==24.0"]
    assert peer.unpinned(exact) == []
    assert peer.unpinned([*exact[1:], f"{next(iter(pins))}==0.0.1", "extra-thing==1.0"]) == [
        f"{next(iter(pins))}==0.0.1",
        "extra-thing==1.0",
    ]


def test_sync_calls_are_counted_once_each_from_strace_output() -> None:
    trace = "\n".join(
        [
            '4242  openat(AT_FDCWD, "x", O_RDONLY) = 3',
            "4242  fsync(3)                          = 0",
            "4243  fdatasync(4 <unfinished ...>",
            "4243  <... fdatasync resumed>)          = 0",
            "sync_file_range(5, 0, 0, 2) = 0",
            "4242  +++ exited with 0 +++",
        ]
    )
    assert count_in(trace) == 3
