"""The model's names for MCP tools (``harness.mcp_names``): plain where they can be, unique and valid everywhere."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from corral.harness.mcp_names import NAME_MAX, model_tool_name

VALID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def test_plain_names_read_as_server_then_tool() -> None:
    assert model_tool_name("github", "create_issue") == "mcp__github__create_issue"
    assert model_tool_name("my-server_2", "search") == "mcp__my-server_2__search"


def test_names_that_do_not_fit_plainly_are_cleaned_and_carry_a_digest() -> None:
    spaced = model_tool_name("My Server", "list files")
    assert spaced.startswith("mcp__My_Server__list_files_") and VALID.match(spaced)
    long = model_tool_name("s" * 40, "t" * 40)
    assert len(long) == NAME_MAX and VALID.match(long)
    # a "__" in the server name would make the split ambiguous: such pairs never get the plain form
    assert model_tool_name("a__b", "c") != model_tool_name("a", "b__c")
    assert model_tool_name("a_", "_b") != model_tool_name("a", "__b")


@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=130))
def test_every_name_is_valid_for_every_provider(server: str, tool: str) -> None:
    assert VALID.match(model_tool_name(server, tool))


@given(st.tuples(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30)), st.data())
def test_distinct_pairs_get_distinct_names(pair: tuple[str, str], data: st.DataObject) -> None:
    other = data.draw(st.tuples(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30)))
    if other != pair:
        assert model_tool_name(*pair) != model_tool_name(*other)
