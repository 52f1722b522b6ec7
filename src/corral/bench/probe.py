"""Is a component there yet? Suites ask before building an arm, and say "not available: <why>" if not.

Invariant: probing never imports our own modules for side effects beyond what ``importlib`` does, and
never fails: it answers with a reason or None.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil


def missing_module(name: str) -> str | None:
    """None when ``name`` can be imported, else why not."""
    try:
        if importlib.util.find_spec(name) is None:
            return f"{name} does not exist yet"
    except (ImportError, ValueError) as exc:
        return f"{name} cannot be found: {exc}"
    return None


def missing_attribute(module: str, attribute: str) -> str | None:
    """None when ``module.attribute`` exists, else why not (importing ``module`` if it is there)."""
    if why := missing_module(module):
        return why
    try:
        loaded = importlib.import_module(module)
    except Exception as exc:  # someone's half-written module: report, don't crash the suite
        return f"importing {module} failed: {type(exc).__name__}: {exc}"
    return None if hasattr(loaded, attribute) else f"{module}.{attribute} does not exist yet"


def missing_command(name: str) -> str | None:
    return None if shutil.which(name) else f"the {name!r} command is not installed"


def first(*reasons: str | None) -> str | None:
    return next((r for r in reasons if r), None)
