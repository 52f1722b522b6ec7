"""corral's one vocabulary: the names every component shares, each defined exactly once.

A leaf: it imports nothing from corral, so ``session``, ``sandbox``, ``catalog``, ``harness``, ``egress`` and
``api`` can all use it without depending on each other.

* ``vocab.tools``: the built-in toolset (its id, each tool's name, description and input schema, the input
  check), permission policies;
* ``vocab.events``: every event type (``EventType``) and the payload shapes the harness reads back;
* ``vocab.options``: the small enumerations of configuration (effort levels, speeds, provisioning modes).

Invariant: the toolset id and each tool name appear as string literals in ``vocab.tools`` only (a test scans
the source tree); everything else imports the constants.
"""
