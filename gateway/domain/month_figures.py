"""A machine's figures over a whole local month, in the shape of one day's: what a month sum keeps.

A year report of 20 machines is 7,300 day summaries; their months are 240. A month's
``Figures`` is its days' figures added up (``day_figures.total``): the seconds, the
cycles, the parts, and per work session its paced cycles and parts. Its stops are its
days' stops joined (a stop under way across a midnight inside the month is one stop);
those shorter than the site's threshold are dropped, except at the month's edges,
where the next month may continue them, as a day keeps its edges (``day_figures``).
Adding up months and days this way gives the figures of adding up the days alone:
the same integers and stops, float sums in another order (equal within rounding).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from gateway.domain.day_figures import Figures, kept_stops, total


def merged(pieces: Sequence[Figures], threshold_s: float) -> Figures:
    """The figures of consecutive stretches as one stretch from the first's start to the last's end."""
    summed = total(pieces)  # threshold 0: every stop, joined where one continues another
    lo, hi = pieces[0].start, pieces[-1].end
    return Figures(
        start=lo,
        end=hi,
        use=summed.use,
        planned=summed.planned,
        stops=tuple(kept_stops(summed.stops, lo, hi, threshold_s)),
        cycles=summed.cycles,
        made=summed.made,
        paced=tuple((owner, n, parts) for owner, (n, parts) in sorted(summed.paced.items())),
    )


def first_of(day: date) -> date:
    return day.replace(day=1)


def last_of(month: date) -> date:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def whole_months(days: Mapping[int, date]) -> dict[date, tuple[int, int]]:
    """Month (its first day) → the first and last index of its days, for the months all of whose days are in
    ``days`` (index → whole local day, consecutive indices for consecutive days)."""
    index_of = {day: index for index, day in days.items()}
    found: dict[date, tuple[int, int]] = {}
    for day, index in index_of.items():
        if day.day != 1:
            continue
        end = last_of(day)
        last = index_of.get(end)
        if last is not None and last - index == (end - day).days:
            found[day] = (index, last)
    return found
