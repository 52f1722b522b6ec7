"""Cron schedules of deployments (api.md §15.2): validation and the occurrences after an instant.

Invariants:

* An expression is 5-field POSIX cron (minute hour day-of-month month day-of-week, day-of-week 0–7 with 0 and 7
  Sunday, month and day names allowed); seconds, years, ``L W # ?`` and ``@daily``-style nicknames are refused.
  croniter parses what is left; nothing here parses cron by hand.
* Matching is on the wall clock of the schedule's IANA time zone: a local time that does not exist (the hour
  skipped when clocks go forward) never fires, and a local time that happens twice (clocks go back) fires twice,
  once per UTC instant.
* ``occurrences(schedule, after)`` yields UTC instants strictly after ``after``, in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from corral.errors import InvalidRequest

_NAMES = re.compile(r"JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT")
_FIELD = re.compile(r"^[0-9*,/\-]+$")
UPCOMING = 5


@dataclass(frozen=True, slots=True)
class Schedule:
    expression: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def parse(expression: str, timezone: str) -> Schedule:
    """The schedule, or a 400 naming what is wrong with the expression or the time zone."""
    _check_expression(expression)
    _check_timezone(timezone)
    return Schedule(" ".join(expression.split()), timezone)


def _check_expression(expression: str) -> None:
    fields = expression.split()
    if len(fields) != 5:
        raise InvalidRequest(
            f"schedule.expression: {expression!r} is not a 5-field cron expression (minute hour day-of-month month"
            " day-of-week)"
        )
    for part in fields:
        if not _FIELD.match(_NAMES.sub("0", part.upper())):
            raise InvalidRequest(f"schedule.expression: {part!r} is not a cron field (L, W, # and ? are not supported)")
    if not croniter.is_valid(" ".join(fields)):
        raise InvalidRequest(f"schedule.expression: {expression!r} is not a valid cron expression")


def _check_timezone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidRequest(f"schedule.timezone: {timezone!r} is not an IANA time zone") from exc


def occurrences(schedule: Schedule, after: datetime) -> Iterator[datetime]:
    """The UTC instants the schedule fires at, strictly after ``after`` (an aware datetime)."""
    zone = schedule.zone
    # start a little before `after` on the wall clock so a repeated hour just behind it is not missed
    start = after.astimezone(zone).replace(tzinfo=None) - timedelta(hours=2)
    walls = croniter(schedule.expression, start)
    while True:
        wall: datetime = walls.get_next(datetime)
        for instant in _instants(wall, zone):
            if instant > after:
                yield instant


def _instants(wall: datetime, zone: ZoneInfo) -> list[datetime]:
    """The UTC instants a local wall-clock time names: none (skipped), one, or two (repeated)."""
    found: list[datetime] = []
    for fold in (0, 1):
        local = wall.replace(tzinfo=zone, fold=fold)
        instant = local.astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == wall and instant not in found:
            found.append(instant)
    return sorted(found)


def upcoming(schedule: Schedule, after: datetime, count: int = UPCOMING) -> list[datetime]:
    return list(islice(occurrences(schedule, after), count))


def next_after(schedule: Schedule, after: datetime) -> datetime:
    return next(occurrences(schedule, after))
