"""``session.outcome_evaluations`` as a projection of the log (api.md §5.4, §16), and the one-outcome-at-a-time rule.

Invariants:

* The list is a pure fold of the session's events: ``user.define_outcome`` adds an entry (``pending``); the
  agent's next model request makes it ``running``; ``span.outcome_evaluation_start`` makes it ``evaluating``;
  ``span.outcome_evaluation_end`` sets the verdict (``needs_revision`` until the revision's first model request
  makes it ``running`` on the next iteration; the other verdicts are terminal and set ``completed_at``).
* At most one entry is not terminal (``active``); ``check_define`` refuses a ``user.define_outcome`` while one is,
  inside the append transaction, so two racing requests cannot both start one.
"""

from __future__ import annotations

from typing import cast

from corral._types import JSONObject
from corral.errors import ErrorCode, InvalidRequest
from corral.vocab.events import TERMINAL_OUTCOME_RESULTS, DefineOutcomeData, OutcomeEndData, OutcomeSpanData

#: the event types that change the list (a model request only while an entry waits for one to start working)
OUTCOME_TYPES = frozenset(
    ("user.define_outcome", "span.outcome_evaluation_start", "span.outcome_evaluation_end", "span.model_request_start")
)
_WAITING = ('"pending"', '"needs_revision"')


def waits_for_work(outcomes_text: str) -> bool:
    """Whether an entry waits for the agent's next model request (a text test: model requests are frequent)."""
    return any(marker in outcomes_text for marker in _WAITING)


def active(outcomes: list[JSONObject]) -> JSONObject | None:
    """The entry that is not terminal yet, if any."""
    for entry in outcomes:
        if entry.get("result") not in TERMINAL_OUTCOME_RESULTS:
            return entry
    return None


def check_define(outcomes: list[JSONObject]) -> None:
    current = active(outcomes)
    if current is not None:
        raise InvalidRequest(
            f"outcome {current.get('outcome_id')} is still in progress (result {current.get('result')!r}); "
            "one outcome at a time: define the next one after its span.outcome_evaluation_end with a terminal result",
            code=ErrorCode.INVALID_EVENT,
        )


def project_outcome(outcomes: list[JSONObject], event_type: str, data: JSONObject, stamp: str) -> None:
    """Apply one event of ``OUTCOME_TYPES`` to the list (in place)."""
    if event_type == "user.define_outcome":
        define = cast(DefineOutcomeData, data)
        outcomes.append(
            {
                "type": "outcome_evaluation",
                "outcome_id": define["outcome_id"],
                "description": define["description"],
                "iteration": 0,
                "result": "pending",
                "explanation": None,
                "completed_at": None,
            }
        )
        return
    current = active(outcomes)
    if current is None:
        return
    if event_type == "span.model_request_start":
        if data.get("purpose", "turn") == "turn" and current["result"] in ("pending", "needs_revision"):
            if current["result"] == "needs_revision":
                current["iteration"] = int(current["iteration"]) + 1
            current["result"] = "running"
        return
    span = cast(OutcomeSpanData, data)
    if span.get("outcome_id") != current["outcome_id"]:
        return
    current["iteration"] = span["iteration"]
    if event_type == "span.outcome_evaluation_start":
        current["result"] = "evaluating"
        return
    end = cast(OutcomeEndData, data)
    current["result"] = end["result"]
    current["explanation"] = end["explanation"]
    if end["result"] in TERMINAL_OUTCOME_RESULTS:
        current["completed_at"] = stamp
