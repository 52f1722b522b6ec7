"""The catalog's request models (``corral.catalog.params``): every rule one value decides is refused where the
body is parsed, with a message that names the value, and the shared literals come from ``corral.vocab``."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from pydantic import BaseModel, ValidationError

from corral.catalog.params import AgentCreate, EnvironmentCreate
from corral.catalog.params.environments import CorralSandboxParams, PackagesParams
from corral.catalog.params.tools import ServerToolReference
from corral.vocab.options import PACKAGE_MANAGERS, ProvisioningMode
from corral.vocab.tools import ServerToolName

TOOLSET = "agent_toolset_20260401"


def web_fetch(**settings: Any) -> dict[str, Any]:
    return {
        "name": "a",
        "model": "claude-m",
        "tools": [{"type": TOOLSET, "configs": [{"name": "web_fetch", **settings}]}],
    }


def cloud(**config: Any) -> dict[str, Any]:
    return {"name": "e", "config": {"type": "cloud", **config}}


@pytest.mark.parametrize(
    ("model", "body", "where", "message"),
    [
        (AgentCreate, {"name": " ", "model": "claude-m"}, ("name",), "' ' is blank"),
        (EnvironmentCreate, {"name": "\t"}, ("name",), "'\\t' is blank"),
        (
            AgentCreate,
            {"name": "a", "model": {"id": "claude-m", "inference_geo": ""}},
            ("model", "object", "inference_geo"),
            None,
        ),
        (AgentCreate, {"name": "a", "model": {"id": "claude-m", "speed": "slow"}}, ("model", "object", "speed"), None),
        (
            AgentCreate,
            web_fetch(allowed_domains=["https://a.com"]),
            ("allowed_domains", 0),
            "'https://a.com' is not a plain hostname",
        ),
        (AgentCreate, web_fetch(allowed_domains=["a.com/x://y"]), ("allowed_domains", 0), "is not a plain hostname"),
        (AgentCreate, web_fetch(allowed_domains=[]), ("allowed_domains",), None),
        (AgentCreate, web_fetch(max_content_tokens=0), ("max_content_tokens",), None),
        (
            AgentCreate,
            web_fetch(
                url_sources={
                    "server_tool_results": {"type": "only", "tools": [{"type": "tool_reference", "name": "bash"}]}
                }
            ),
            ("server_tool_results", "object", "only", "tools", 0, "name"),
            None,
        ),
        (
            AgentCreate,
            {"name": "a", "model": "claude-m", "mcp_servers": [{"type": "url", "name": "s", "url": "ftp://x"}]},
            ("mcp_servers", 0, "url"),
            "'ftp://x' is not an http(s) url",
        ),
        (
            EnvironmentCreate,
            cloud(networking={"type": "limited", "allowed_hosts": ["https://x.com/a"]}),
            ("allowed_hosts", 0),
            "'https://x.com/a' is not a hostname (no scheme or path)",
        ),
        (
            EnvironmentCreate,
            cloud(packages={"pip": ["x "]}),
            ("pip", 0),
            "'x ' is not a package specifier (leading or trailing whitespace)",
        ),
        (EnvironmentCreate, cloud(corral={"provisioning": "eventually"}), ("corral", "provisioning"), None),
        (EnvironmentCreate, cloud(corral={"warm_pool_size": 33}), ("corral", "warm_pool_size"), None),
    ],
)
def test_single_value_rules_are_refused_at_the_edge(
    model: type[BaseModel], body: dict[str, Any], where: tuple[str | int, ...], message: str | None
) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(body)
    first = refused.value.errors()[0]
    assert first["loc"][-len(where) :] == where
    if message is not None:
        assert message in first["msg"]


def test_whole_numbers_are_documented_as_json_schema_bounds() -> None:
    schema = CorralSandboxParams.model_json_schema()["properties"]["warm_pool_size"]["anyOf"][0]
    assert (schema["minimum"], schema["maximum"]) == (0, 32) and "ge" not in schema
    assert CorralSandboxParams.model_validate({"warm_pool_size": 2.0}).warm_pool_size == 2


def test_the_literals_come_from_the_vocabulary() -> None:
    assert tuple(field for field in PackagesParams.model_fields if field != "type") == PACKAGE_MANAGERS
    provisioning = CorralSandboxParams.model_json_schema()["properties"]["provisioning"]["anyOf"][0]["enum"]
    assert tuple(provisioning) == get_args(ProvisioningMode)
    names = ServerToolReference.model_json_schema()["properties"]["name"]["enum"]
    assert tuple(names) == get_args(ServerToolName)
