"""The price table: shipped list prices, a ``CORRAL_PRICES`` file adding or replacing entries, exact money."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from corral._types import JSONObject
from corral.config import load_settings
from corral.errors import ConfigError
from corral.prices import DEFAULT_PRICES, cents, load_prices
from corral.session import spend


def test_a_price_file_adds_and_replaces_entries_and_snapshots_share_their_model_price(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        '["openai:gpt-test"]\ninput = "2.5"\noutput = 10\n\n["claude-sonnet-4-6"]\ninput = "1"\noutput = "2"\n'
    )
    prices = load_settings({"CORRAL_PRICES": str(path)}).prices
    tiny = prices.price("openai:gpt-test")
    assert tiny is not None and (tiny.input, tiny.output, tiny.cache_read) == (Decimal("2.5"), 10, Decimal("0.25"))
    assert prices.cost("claude-sonnet-4-6", {"input_tokens": 1_000_000}) == 1
    assert prices.price("claude-haiku-4-5-20251001") == DEFAULT_PRICES["claude-haiku-4-5"]
    assert prices.price("anthropic:claude-opus-4-5") == DEFAULT_PRICES["claude-opus-4-5"]
    assert prices.price("claude-mythos-5") is None and prices.price("openai:gpt-other") is None
    assert load_settings({}).prices.price("openai:gpt-test") is None


def test_money_is_exact_and_only_the_wire_figure_is_rounded() -> None:
    sonnet = DEFAULT_PRICES["claude-sonnet-4-6"]
    one = sonnet.cost({"input_tokens": 1, "output_tokens": 1, "cache_read_input_tokens": 1})
    assert one == Decimal("0.0000183")
    assert sum((one for _ in range(1000)), Decimal(0)) == Decimal("0.0183")
    assert (cents(Decimal("0.054")), cents(Decimal("0.055")), cents(Decimal("0.0549"))) == (5, 6, 5)


@pytest.mark.parametrize(
    "text",
    [
        '["m"]\ninput = "1"\n',
        '["m"]\ninput = "1"\noutput = "x"\n',
        '["m"]\ninput = -1\noutput = 1\n',
        '["m"]\nfoo = 1\n',
        "m = 1\n",
        "[[",
    ],
)
def test_a_broken_price_file_is_refused_naming_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="CORRAL_PRICES"):
        load_prices(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_prices(tmp_path / "missing.toml")


def test_an_answer_from_a_model_without_a_price_leaves_the_spend_unmeasured() -> None:
    usage: JSONObject = {}
    spend.add_cost(usage, {"model_usage": {"input_tokens": 10, "output_tokens": 5}})
    assert not spend.unmeasured(usage)  # the agent's own model, priced or not, is judged when a budget is set
    spend.add_cost(usage, {"model_usage": {"input_tokens": 10, "output_tokens": 5}, "list_cost_usd": "0.0001"})
    assert not spend.unmeasured(usage) and spend.spent(usage) == Decimal("0.0001")
    spend.add_cost(usage, {"model_usage": {"input_tokens": 10, "output_tokens": 5}, "unpriced_model": "local:x"})
    assert spend.unmeasured(usage)  # a router's unpriced choice: the budget counts as reached from now on
    assert spend.public_usage(usage) == {"list_cost": {"amount": "0", "currency": "USD"}}
