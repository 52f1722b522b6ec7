"""List prices of models: what a budget (api.md §5.2, ``budget.max_list_cost``) is measured in.

A price is in US dollars per million tokens, one figure per kind of token the provider reports (uncached input,
output, cache writes with a 5-minute and a 1-hour lifetime, cache reads). ``DEFAULT_PRICES`` ships the public
list prices of the common Anthropic models; an operator adds or replaces entries, for any provider, with a TOML
file named by ``CORRAL_PRICES`` (``load_prices``)::

    ["claude-sonnet-4-5"]
    input = "3"            # USD per million input tokens
    output = "15"
    cache_write_5m = "3.75"   # optional: default 1.25 × input
    cache_write_1h = "6"      # optional: default 2 × input
    cache_read = "0.30"       # optional: default 0.1 × input

    ["myprovider:my-model"]
    input = "0.5"
    output = "1.5"

Invariants:

* Money is ``Decimal`` from end to end (never a float): a request's cost is exact, sums of costs are exact, and
  only what is shown on the wire is rounded (to whole cents, ``cents``).
* A model id is priced by its exact entry, else by the entry of its name without an ``anthropic:`` provider
  prefix or a ``-YYYYMMDD`` snapshot suffix; a model with no entry has no price (``None``), which is what makes it
  ``model_not_budgetable``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from corral._types import json_object
from corral.errors import ConfigError

MILLION = Decimal(1_000_000)
_SNAPSHOT = re.compile(r"-\d{8}$")
_KEYS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")


@dataclass(frozen=True)
class ModelPrice:
    """US dollars per million tokens of each kind."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal

    @classmethod
    def of(cls, input: str, output: str, **cache: str) -> ModelPrice:
        """A price from its input and output rates; cache rates default to Anthropic's multiples of the input."""
        base = Decimal(input)
        return cls(
            base,
            Decimal(output),
            Decimal(cache.get("cache_write_5m", base * Decimal("1.25"))),
            Decimal(cache.get("cache_write_1h", base * 2)),
            Decimal(cache.get("cache_read", base * Decimal("0.1"))),
        )

    def cost(self, usage: Mapping[str, int]) -> Decimal:
        """US dollars of one request's ``model_usage`` (``cache_creation_input_tokens`` at the 5-minute rate,
        the only cache lifetime corral's requests ask for)."""
        tokens = (
            self.input * usage.get("input_tokens", 0)
            + self.output * usage.get("output_tokens", 0)
            + self.cache_write_5m * usage.get("cache_creation_input_tokens", 0)
            + self.cache_read * usage.get("cache_read_input_tokens", 0)
        )
        return tokens / MILLION


#: public list prices (USD per million tokens) of the common Anthropic models
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "claude-opus-4-6": ModelPrice.of("5", "25"),
    "claude-opus-4-5": ModelPrice.of("5", "25"),
    "claude-opus-4-1": ModelPrice.of("15", "75"),
    "claude-opus-4-0": ModelPrice.of("15", "75"),
    "claude-opus-4": ModelPrice.of("15", "75"),
    "claude-sonnet-4-6": ModelPrice.of("3", "15"),
    "claude-sonnet-4-5": ModelPrice.of("3", "15"),
    "claude-sonnet-4-0": ModelPrice.of("3", "15"),
    "claude-sonnet-4": ModelPrice.of("3", "15"),
    "claude-3-7-sonnet": ModelPrice.of("3", "15"),
    "claude-3-7-sonnet-latest": ModelPrice.of("3", "15"),
    "claude-haiku-4-5": ModelPrice.of("1", "5"),
    "claude-3-5-haiku": ModelPrice.of("0.80", "4"),
    "claude-3-5-haiku-latest": ModelPrice.of("0.80", "4"),
    "claude-3-haiku": ModelPrice.of("0.25", "1.25", cache_write_5m="0.30", cache_write_1h="0.50", cache_read="0.03"),
}


@dataclass(frozen=True)
class PriceTable:
    entries: Mapping[str, ModelPrice]

    @classmethod
    def defaults(cls) -> PriceTable:
        return cls(dict(DEFAULT_PRICES))

    def price(self, model_id: str) -> ModelPrice | None:
        for name in _candidates(model_id):
            found = self.entries.get(name)
            if found is not None:
                return found
        return None

    def cost(self, model_id: str, usage: Mapping[str, int]) -> Decimal | None:
        """US dollars of one request of ``model_id`` (None: the model has no list price)."""
        price = self.price(model_id)
        return None if price is None else price.cost(usage)


def _candidates(model_id: str) -> list[str]:
    bare = model_id.removeprefix("anthropic:")
    return list(dict.fromkeys((model_id, bare, _SNAPSHOT.sub("", bare))))


def cents(usd: Decimal) -> int:
    """Whole US cents, rounded half up (the wire's ``list_cost.amount``)."""
    return int((usd * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def load_prices(path: Path | None) -> PriceTable:
    """The default table, with the entries of the TOML file at ``path`` added or replacing theirs."""
    if path is None:
        return PriceTable.defaults()
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"CORRAL_PRICES={path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"CORRAL_PRICES={path}: not valid TOML ({exc})") from None
    entries = dict(DEFAULT_PRICES)
    for model_id, raw in data.items():
        entries[model_id] = _entry(path, model_id, raw)
    return PriceTable(entries)


def _entry(path: Path, model_id: str, raw: object) -> ModelPrice:
    table = json_object(raw)
    if table is None:
        raise ConfigError(f"CORRAL_PRICES={path}: [{model_id!r}] must be a table")
    unknown = sorted(set(table) - set(_KEYS))
    missing = [key for key in ("input", "output") if key not in table]
    if unknown or missing:
        raise ConfigError(f"CORRAL_PRICES={path}: [{model_id!r}]: unknown keys {unknown}, missing keys {missing}")
    rates = {key: _rate(path, model_id, key, value) for key, value in table.items()}
    input_rate, output_rate = rates.pop("input"), rates.pop("output")
    return ModelPrice.of(input_rate, output_rate, **rates)


def _rate(path: Path, model_id: str, key: str, value: object) -> str:
    try:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InvalidOperation
        rate = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"CORRAL_PRICES={path}: [{model_id!r}].{key} must be a number of dollars") from None
    if not rate.is_finite() or rate < 0:
        raise ConfigError(f"CORRAL_PRICES={path}: [{model_id!r}].{key} must be a non-negative number of dollars")
    return str(rate)
