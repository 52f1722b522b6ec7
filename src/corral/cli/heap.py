"""A long-running process's heap once it has started: what it made while starting lives as long as it does.

Invariant: ``settle`` is called once per process, by the ``serve`` and ``worker`` commands only, after everything
the process keeps for its life has started (modules, the app, services, background tasks), never by a library
caller or a test process, whose later garbage it would make permanent.

Why: CPython's full collection walks every tracked object and holds the event loop meanwhile. A started
``corral serve`` tracks about 400,000 objects (modules, classes, schemas), almost none of which ever become
garbage; under load, full collections paused the loop for 300-400 ms each, most of the p99 of time to first token
and of SSE fan-out lag. Frozen (``gc.freeze``), they are never walked again: measured pauses fell to 120-260 ms.
The start-up garbage frozen with them is not collected first, as a collection costs a process start 0.3 s of CPU
and the garbage is a few KiB.
"""

from __future__ import annotations

import gc


def settle() -> None:
    gc.freeze()
