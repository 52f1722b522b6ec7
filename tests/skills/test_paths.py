"""The front matter of ``SKILL.md`` as skills write it: plain, quoted and block scalars, and what is not read."""

from __future__ import annotations

import pytest

from corral.errors import InvalidRequest
from corral.skills.paths import front_matter, name_and_description


def test_plain_quoted_and_block_scalars() -> None:
    text = """---
name: pdf-tools
description: >
  Fills PDF forms
  and merges files.
license: "Apache-2.0"
quote: 'it''s'
notes: |
  line one
  line two
metadata:
  nested: ignored
---
# Body
"""
    fields = front_matter(text)
    assert fields["name"] == "pdf-tools" and fields["description"] == "Fills PDF forms and merges files."
    assert fields["license"] == "Apache-2.0" and fields["quote"] == "it's" and fields["notes"] == "line one\nline two"
    assert "nested" not in fields
    assert name_and_description("pdf-tools", text.encode()) == ("pdf-tools", "Fills PDF forms and merges files.")


def test_the_directory_names_a_skill_whose_front_matter_does_not() -> None:
    assert name_and_description("my-skill", b"---\ndescription: d\n---\n") == ("my-skill", "d")
    assert front_matter("no front matter\n---\n") == {}


@pytest.mark.parametrize(
    ("top", "text"),
    [
        ("a", "---\nname: a\ndescription: " + "x" * 1025 + "\n---\n"),
        ("a" * 65, "---\ndescription: d\n---\n"),
        ("a", "---\nname: a-\ndescription: d\n---\n"),
    ],
)
def test_limits_are_400(top: str, text: str) -> None:
    with pytest.raises(InvalidRequest):
        name_and_description(top, text.encode())
