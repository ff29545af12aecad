"""When a work session left open is ended by the site's calendar: pure, in the site's own time zone.

A student who forgets to badge out must not stay "on the machine" for days: her hours,
the machine's occupation and the attribution of tomorrow's cycles would all be wrong.
The rule, for a session still open:

- started on a day with opening hours, before that day's last range ends (before
  opening, in a range, in the lunch break): it ends at the day's **closing hour**, the
  end of its last range (a machine's extra hours count, so an extra evening until 21:00
  closes at 21:00);
- started after the day's closing hour, or on a closed day (holiday, closure, weekend,
  machine out of service): the calendar has no closing hour for it, so it ends at the
  **end of that local day** (midnight). Ending it at its own start would drop the
  parts made that evening from the student's log; midnight keeps them and still never
  lets a session run into the next day.

The end is returned only once it has passed (``now`` at or after it). A master's
correction of the end stands: the rule reads only sessions that are still open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

from gateway.domain.calendar import Calendar, MachineException, day_hours

CLOSED_BY = "calendar"  # the work session's closed_by when this rule ended it


def closing_end(
    calendar: Calendar, started: datetime, now: datetime, exceptions: Sequence[MachineException] = ()
) -> datetime | None:
    """The end to give a session open since ``started`` (UTC), or None while it may still run."""
    end = due_end(calendar, started, exceptions)
    return end if now >= end else None


def due_end(calendar: Calendar, started: datetime, exceptions: Sequence[MachineException] = ()) -> datetime:
    """The instant (UTC) a session open since ``started`` is ended by the calendar (see the module)."""
    zone = calendar.tz()
    local = started.astimezone(zone)
    day = local.date()
    ranges = day_hours(calendar, day, exceptions)
    if ranges:
        # Built from the wall clock of that day in its own zone, then to UTC: a closing hour on the day the
        # clocks change is the closing hour people read on the wall.
        closing = datetime.combine(day, ranges[-1][1], tzinfo=zone).astimezone(UTC)
        if started < closing:
            return closing
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
