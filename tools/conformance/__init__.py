"""The SDK conformance runner: the official ``anthropic`` SDK's own generated tests, run unchanged against a live
``corral serve`` on SQLite and on PostgreSQL, with strict response validation; it writes ``PARITY.md``.

How a run goes (``script/conformance``, and ``script/test`` after pytest):

1. ``sdk``: the tests come from the source distribution of the installed SDK version, fetched by name at
   set-up into ``.cache/conformance`` (never vendored).
2. ``surface``: every managed-agents method of the SDK, read from its resource classes, and which method each
   test exercises.
3. ``engine`` + ``server``: per engine, a fresh database, ``corral serve`` (API only) and a key of its own
   workspace; a child pytest runs the SDK's test files with ``plugin`` in place of their ``conftest.py``.
4. ``plugin`` + ``placeholders`` + ``seeds`` + ``transport``: before each test, real objects are made for the
   ids it invents (read from its source); the SDK client's transport swaps them in, with the real workspace and
   unique names, and records every exchange. No test is edited.
5. ``classify`` + ``refusals``: verdicts per test and status per method; refusals the API documents are
   recorded as such.
6. ``report`` + ``check``: ``PARITY.md`` and the comparison with ``baseline.json``.

It talks to corral over HTTP only and imports nothing from ``corral``.
"""
