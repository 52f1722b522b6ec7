"""The catalog's pure resolution rules: agents' tools and models, environments' configs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from corral.catalog import BUILTIN_TOOLS, CatalogLimits
from corral.catalog.agent_config import apply_overrides, resolve_create, resolve_update
from corral.catalog.env_config import resolve_config
from corral.catalog.params import AgentCreate, AgentUpdate, AgentWithOverrides, ConfigParams
from corral.errors import ErrorCode, InvalidRequest

LIMITS = CatalogLimits()
SERVER = {"type": "url", "name": "gh", "url": "https://example.com/mcp"}
TOOLS: list[Any] = [
    {
        "type": "agent_toolset_20260401",
        "default_config": {"permission_policy": {"type": "always_ask"}},
        "configs": [
            {"name": "bash", "permission_policy": {"type": "always_allow"}},
            {
                "name": "web_fetch",
                "url_sources": {
                    "client_tool_results": {"type": "only", "tools": [{"type": "tool_reference", "name": "lookup"}]}
                },
            },
            {
                "name": "web_search",
                "blocked_domains": ["ads.example.com"],
                "user_location": {"type": "approximate", "country": "FR"},
            },
        ],
    },
    {"type": "mcp_toolset", "mcp_server_name": "gh", "default_config": {"enabled": False}},
    {"type": "custom", "name": "lookup", "description": "d", "input_schema": {"type": "object", "x-extra": 1}},
]


def agent(**fields: Any) -> dict[str, Any]:
    return resolve_create(AgentCreate.model_validate({"name": "a", "model": "claude-m", **fields}), LIMITS)


def update(**fields: Any) -> AgentUpdate:
    return AgentUpdate.model_validate(fields)


def config(raw: Any) -> Any:
    return TypeAdapter(ConfigParams).validate_python(raw)


def test_toolsets_resolve_fully_and_idempotently() -> None:
    config = agent(tools=TOOLS, mcp_servers=[SERVER])
    toolset, mcp, custom = config["tools"]
    assert [c["name"] for c in toolset["configs"]] == list(BUILTIN_TOOLS)
    policies = {c["name"]: c["permission_policy"]["type"] for c in toolset["configs"]}
    assert policies["bash"] == "always_allow" and policies["read"] == "always_ask"
    web_fetch = toolset["configs"][6]
    assert web_fetch["url_sources"]["user_input"] is None
    assert web_fetch["url_sources"]["client_tool_results"]["tools"] == [{"type": "tool_reference", "name": "lookup"}]
    assert toolset["configs"][7]["user_location"]["country"] == "FR"
    assert mcp["default_config"] == {"enabled": False, "permission_policy": {"type": "always_ask"}}
    assert custom["input_schema"]["x-extra"] == 1
    again = resolve_update(config, update(tools=config["tools"], mcp_servers=config["mcp_servers"]), LIMITS)
    assert again == config


@pytest.mark.parametrize(
    "tools",
    [
        [{"type": "agent_toolset_20260401"}, {"type": "agent_toolset_20260401"}],
        [{"type": "agent_toolset_20260401", "configs": [{"name": "bash"}, {"name": "bash"}]}],
        [{"type": "agent_toolset_20260401", "configs": [{"name": "bash", "type": "read"}]}],
        [{"type": "agent_toolset_20260401", "configs": [{"name": "web_fetch", "allowed_domains": list[str]()}]}],
        [
            {
                "type": "agent_toolset_20260401",
                "configs": [{"name": "web_fetch", "allowed_domains": ["a.com"], "blocked_domains": ["b.com"]}],
            }
        ],
        [
            {
                "type": "agent_toolset_20260401",
                "configs": [
                    {
                        "name": "web_fetch",
                        "url_sources": {
                            "user_input": "none",
                            "client_tool_results": "none",
                            "server_tool_results": "none",
                        },
                    }
                ],
            }
        ],
        [
            {
                "type": "agent_toolset_20260401",
                "configs": [
                    {
                        "name": "web_fetch",
                        "url_sources": {
                            "client_tool_results": {
                                "type": "only",
                                "tools": [{"type": "tool_reference", "name": "nope"}],
                            }
                        },
                    }
                ],
            }
        ],
        [
            {"type": "agent_toolset_20260401"},
            {"type": "custom", "name": "bash", "description": "", "input_schema": {"type": "object"}},
        ],
        [{"type": "custom", "name": "x", "description": "", "input_schema": {"type": "array"}}],
        [{"type": "mcp_toolset", "mcp_server_name": "gh", "configs": [{"name": "t"}, {"name": "t"}]}],
    ],
)
def test_invalid_tools(tools: list[Any]) -> None:
    with pytest.raises((ValidationError, InvalidRequest)):  # refused at the edge (one value) or by the catalog
        agent(tools=tools, mcp_servers=[SERVER] if any(t["type"] == "mcp_toolset" for t in tools) else [])


def test_model_rules() -> None:
    assert agent()["model"] == {
        "id": "claude-m",
        "effort": {"type": "high"},
        "speed": "standard",
        "inference_geo": None,
    }
    stored = agent(model={"id": "claude-m", "effort": {"type": "xhigh"}, "inference_geo": "us"})
    updated = resolve_update(stored, update(model={"id": "claude-n"}), LIMITS)
    assert updated["model"] == {
        "id": "claude-n",
        "effort": {"type": "xhigh"},
        "speed": "standard",
        "inference_geo": None,
    }
    with pytest.raises(InvalidRequest) as cleared:
        resolve_update(stored, update(model=None), LIMITS)
    assert cleared.value.code is ErrorCode.AGENT_MODEL_REQUIRED
    snapshot = {"type": "agent", "id": "agent_x", "version": 1, **stored}
    overrides = {
        "type": "agent_with_overrides",
        "id": "agent_x",
        "model": {"id": "claude-o", "effort": "low"},
        "system": None,
    }
    overridden = apply_overrides(snapshot, AgentWithOverrides.model_validate(overrides), LIMITS)
    assert overridden["model"]["effort"] == {"type": "xhigh"} and overridden["system"] is None


def test_environment_configs() -> None:
    default = resolve_config(None)
    assert default["networking"] == {"type": "unrestricted"} and default["packages"]["pip"] == []
    limited = resolve_config(
        config({"type": "cloud", "networking": {"type": "limited", "allowed_hosts": ["*.example.com"]}})
    )
    kept = resolve_config(
        config(
            {
                "type": "cloud",
                "packages": {"apt": ["git"]},
                "networking": {"type": "limited", "allow_package_managers": True},
            }
        ),
        limited,
    )
    assert kept["networking"]["allowed_hosts"] == ["*.example.com"] and kept["packages"]["apt"] == ["git"]
    with_pool = resolve_config(config({"type": "cloud", "corral": {"warm_pool_size": 3}}), kept)
    assert with_pool["corral"] == {"warm_pool_size": 3} and with_pool["packages"]["apt"] == ["git"]
    assert resolve_config(config({"type": "cloud", "corral": {"provisioning": "eager"}}), with_pool)["corral"] == {
        "warm_pool_size": 3,
        "provisioning": "eager",
    }
    assert "corral" not in resolve_config(config({"type": "cloud", "corral": None}), with_pool)
    with pytest.raises(InvalidRequest) as changed:
        resolve_config(config({"type": "self_hosted"}), default)
    assert changed.value.code is ErrorCode.INVALID_CONFIG_TYPE_CHANGE
