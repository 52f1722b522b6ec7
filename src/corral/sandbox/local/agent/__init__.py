"""The agent that runs *inside* a local sandbox and executes tool calls sent over its stdin.

Invariants: standard library only (it runs under the system ``/usr/bin/python3`` from a read-only bind
mount, never the project's venv); it never imports ``corral``; everything it prints goes through the
protocol channel in ``main`` as one JSON object per line; it trusts nothing inside the sandbox, which the
host treats as untrusted in turn (sizes are bounded on both sides).
"""
