"""Permission policies' ``auto`` verdicts: the ``Judge`` seam and its default, the written ``RuleJudge``.

``judge`` holds the interface (a model judge implements ``Judge``); ``rules`` the rule set by tool, with
``destructive`` (bash commands denied), ``readers`` (bash commands allowed), ``shell`` (how a command is read)
and ``paths`` (where a path points).
"""

from corral.harness.policy.judge import Judge, JudgeContext, JudgedCall, ToolKind, Verdict, judged
from corral.harness.policy.rules import RuleJudge

__all__ = ["Judge", "JudgeContext", "JudgedCall", "RuleJudge", "ToolKind", "Verdict", "judged"]
