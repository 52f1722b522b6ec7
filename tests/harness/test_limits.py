"""Backoff and retries of failed model requests (``TurnLimits``; the policy is ``corral.harness.failures``):
exponential from the base, ``retry-after`` wins, both capped by the longest delay; ``model_max_retries``
failures in a row are retried, the next one is not."""

from __future__ import annotations

import pytest

from corral.config import Settings
from corral.harness.harness import TurnLimits

LIMITS = TurnLimits.from_settings(
    Settings(model_retry_base_seconds=0.5, model_max_retry_delay_seconds=10.0, model_max_retries=2)
)


@pytest.mark.parametrize(
    ("attempt", "retry_after", "seconds"),
    [
        (0, None, 0.5),
        (1, None, 1.0),
        (2, None, 2.0),
        (3, None, 4.0),
        (4, None, 8.0),
        (5, None, 10.0),  # capped
        (40, None, 10.0),
        (0, 3.0, 3.0),  # retry-after wins over the exponential …
        (4, 0.2, 0.2),  # … also when it is shorter
        (0, 0.0, 0.0),
        (0, 60.0, 10.0),  # … but never beyond the longest delay
    ],
)
def test_backoff(attempt: int, retry_after: float | None, seconds: float) -> None:
    assert LIMITS.backoff(attempt, retry_after) == seconds


@pytest.mark.parametrize(
    ("max_retries", "attempt", "retried"), [(2, 0, True), (2, 1, True), (2, 2, False), (2, 3, False), (0, 0, False)]
)
def test_retries_left(max_retries: int, attempt: int, retried: bool) -> None:
    limits = TurnLimits.from_settings(Settings(model_max_retries=max_retries))
    assert limits.retries_left(attempt) is retried


def test_limits_come_from_the_settings() -> None:
    settings = Settings(
        lease_ttl_seconds=7.0,
        max_tool_rounds=3,
        model_max_retries=1,
        model_retry_base_seconds=0.25,
        model_max_retry_delay_seconds=5.0,
        model_max_tokens=100,
        compaction_limit=2,
    )
    assert TurnLimits.from_settings(settings) == TurnLimits(
        lease_ttl=7.0,
        max_tool_rounds=3,
        model_max_retries=1,
        model_retry_base=0.25,
        max_retry_delay=5.0,
        max_tokens=100,
        compaction_limit=2,
    )
