"""An agent's ``corral`` object (``corral.catalog.params.extensions``) resolved to its stored form.

Stored form: ``{"extensions": {kind: {"name", "options"}, "tools": [{"name", "options", "permission_policy"}],
"observers": [{"name", "options"}]}}`` holding only the kinds a client selected (a kind left out runs corral's
``default``); ``options`` is ``{}`` when none were sent and a tool's ``permission_policy`` defaults to
``always_ask``. ``corral`` is absent from an agent that never set it, and ``null`` clears it.

Invariant: every name stored is installed here (``corral.vocab.extensions``): an unknown one is a 400 naming
the kind, the name and what is installed, and nothing is written.
"""

from __future__ import annotations

from corral._types import JSONObject
from corral.catalog.params.extensions import CorralAgentParams, ExtensionRef, ExtensionToolRef
from corral.errors import InvalidRequest
from corral.vocab.extensions import TITLES, ExtensionKind, installed


def resolve_corral(params: CorralAgentParams) -> JSONObject:
    chosen = params.extensions
    if chosen is None:
        return {}
    extensions: JSONObject = {}
    for kind in ("context_strategy", "compaction_policy", "model_router"):
        ref: ExtensionRef | None = getattr(chosen, kind)
        if ref is not None:
            extensions[kind] = _ref(kind, ref)
    if chosen.tools:
        names = [tool.name for tool in chosen.tools]
        if len(set(names)) != len(names):
            raise InvalidRequest("corral.extensions.tools: each server-side tool may be listed once")
        extensions["tools"] = [_tool(tool) for tool in chosen.tools]
    if chosen.observers:
        extensions["observers"] = [_ref("observers", ref) for ref in chosen.observers]
    return {"extensions": extensions}


def _ref(kind: ExtensionKind, ref: ExtensionRef) -> JSONObject:
    known = installed(kind)
    if ref.name not in known:
        listed = ", ".join(sorted(known)) or "none"
        raise InvalidRequest(
            f"corral.extensions.{kind}: no {TITLES[kind]} named {ref.name!r} is installed here (installed: {listed})"
        )
    return {"name": ref.name, "options": dict(ref.options or {})}


def _tool(tool: ExtensionToolRef) -> JSONObject:
    policy = tool.permission_policy.type if tool.permission_policy else "always_ask"
    return {**_ref("tools", tool), "permission_policy": {"type": policy}}
