"""What the log says about the session's outcome (api.md §16): a fold the ``TurnState`` carries, and what the
worker's model is told about it.

Invariants:

* ``OutcomeFold.apply`` is a pure function of the events applied so far (like the rest of ``TurnState``): a worker
  that takes a session over mid-outcome knows the outcome, its iteration and an evaluation left open.
* Two kinds of outcome event are *input* for the agent (``apply`` returns True; the turn takes them up like a
  ``user.message``): the ``user.define_outcome`` echo (the agent starts at once) and a
  ``span.outcome_evaluation_end`` whose verdict asks for more work (``needs_revision``: revise;
  ``max_iterations_reached``: one final acknowledgement). ``outcome_text`` is how the worker's model sees them; the
  grader's own request never enters the worker's context (``corral.harness.grader``).
* An outcome is *active* from its definition to its terminal ``span.outcome_evaluation_end``; at most one is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from corral._types import JSONObject
from corral.harness.models.content import Text
from corral.ids import new_id
from corral.session import Event, NewEvent
from corral.vocab.events import (
    TERMINAL_OUTCOME_RESULTS,
    DefineOutcomeData,
    OutcomeEndData,
    OutcomeResult,
    OutcomeSpanData,
)

#: verdicts the agent answers with another turn
FEEDBACK: frozenset[OutcomeResult] = frozenset(("needs_revision", "max_iterations_reached"))
INTERRUPTED = "the user interrupted the outcome before the grader returned a verdict"


@dataclass(frozen=True)
class Outcome:
    outcome_id: str
    description: str
    rubric: str
    max_iterations: int


@dataclass
class OutcomeFold:
    #: the active outcome (None: none, or the last one ended)
    current: Outcome | None = None
    #: the 0-based iteration the active outcome is on
    iteration: int = 0
    #: the ``span.outcome_evaluation_start`` of an evaluation without its end yet
    open_start: str | None = None

    def apply(self, event: Event) -> bool:
        """Fold one event; True when it is input the agent takes up (see the module docstring)."""
        if event.type == "user.define_outcome":
            define = cast(DefineOutcomeData, event.data())
            rubric = define["rubric"]["content"]
            self.current = Outcome(define["outcome_id"], define["description"], rubric, define["max_iterations"])
            self.iteration, self.open_start = 0, None
            return True
        if event.type == "span.outcome_evaluation_start":
            self.open_start = event.id
            self.iteration = cast(OutcomeSpanData, event.data())["iteration"]
        elif event.type == "span.outcome_evaluation_end":
            end = cast(OutcomeEndData, event.data())
            self.open_start = None
            if end["result"] in TERMINAL_OUTCOME_RESULTS:
                self.current = None
            else:
                self.iteration = end["iteration"] + 1
            return end["result"] in FEEDBACK
        return False

    def wants_grading(self) -> bool:
        """The agent finished a piece of work on the active outcome: the grader scores it (or goes on scoring)."""
        return self.current is not None

    def interrupted(self) -> list[NewEvent]:
        """The events that end the active outcome on a ``user.interrupt`` (a start first if none is open)."""
        if self.current is None:
            return []
        span: OutcomeSpanData = {"outcome_id": self.current.outcome_id, "iteration": self.iteration}
        if self.open_start is not None:
            return [end_event(self.current, self.iteration, self.open_start, "interrupted", INTERRUPTED)]
        start_id = new_id("event")
        start = NewEvent("span.outcome_evaluation_start", dict(span), id=start_id)
        return [start, end_event(self.current, self.iteration, start_id, "interrupted", INTERRUPTED)]


def end_event(
    outcome: Outcome,
    iteration: int,
    start_id: str,
    result: OutcomeResult,
    explanation: str,
    usage: JSONObject | None = None,
) -> NewEvent:
    zero = {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    data: JSONObject = {
        "outcome_id": outcome.outcome_id,
        "iteration": iteration,
        "outcome_evaluation_start_id": start_id,
        "result": result,
        "explanation": explanation,
        "usage": usage or zero,
    }
    return NewEvent("span.outcome_evaluation_end", data)


def is_outcome_input(event: Event) -> bool:
    """Whether ``event`` is an outcome event the agent takes up as input (see ``OutcomeFold.apply``)."""
    if event.type == "user.define_outcome":
        return True
    return event.type == "span.outcome_evaluation_end" and event.data().get("result") in FEEDBACK


def outcome_text(event: Event) -> list[Text]:
    """How the worker's model sees an outcome event that is input (``OutcomeFold.apply`` returned True for it)."""
    if event.type == "user.define_outcome":
        define = cast(DefineOutcomeData, event.data())
        return [
            Text(
                "You have an outcome to achieve. Work on it now, without waiting for further instructions; write "
                "deliverables to /mnt/session/outputs/ when it asks for files. When you end your turn, an independent "
                "grader scores your work against the rubric and may send it back for revision.\n\n"
                f"Outcome:\n{define['description']}\n\nRubric:\n{define['rubric']['content']}"
            )
        ]
    end = cast(OutcomeEndData, event.data())
    if end["result"] == "needs_revision":
        return [
            Text(
                f"The grader scored your work (evaluation {end['iteration'] + 1}) and it needs revision:\n\n"
                f"{end['explanation']}\n\nRevise your work to meet every criterion of the rubric."
            )
        ]
    return [
        Text(
            f"The grader scored your work (evaluation {end['iteration'] + 1}); the outcome has used all its "
            f"iterations without meeting the rubric:\n\n{end['explanation']}\n\nDo not continue the work: "
            "acknowledge this in a short final message."
        )
    ]
