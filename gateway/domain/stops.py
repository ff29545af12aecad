"""Stops: stretches of planned time without production, longer than the site's threshold; and their reasons.

A stop is derived, never stored: from the machine's state timeline (``oee.timeline``)
and the planned intervals of its calendar. Consecutive idle, held and alarm spans
make one stretch (a feed hold that turns into an alarm is one stop); running ends it,
and so does offline, where the state is not known (a link down is not a stop
anyone at the machine can explain). The part of a stretch inside each planned
interval is a stop when it lasts at least the threshold: a stretch across the lunch
break is two stops, one each side. A stop is known by its machine and its start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from gateway.domain.calendar import Interval, PlannedTime
from gateway.domain.oee import Span

ReasonCategory = Literal["setup", "organisation", "technical", "planned"]
CATEGORIES: tuple[ReasonCategory, ...] = ("setup", "organisation", "technical", "planned")
UNCLASSIFIED = "non_renseigne"
BREAKDOWN = "panne"


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    label: str
    category: ReasonCategory


# The default list a school starts with and may edit (French: the workshop's own words).
DEFAULT_REASONS: tuple[Reason, ...] = (
    Reason("reglage", "Réglage", "setup"),
    Reason("changement_outil", "Changement d'outil", "setup"),
    Reason("controle", "Contrôle / mesure", "setup"),
    Reason("attente_maitre", "Attente maître", "organisation"),
    Reason("attente_matiere", "Attente matière", "organisation"),
    Reason("nettoyage", "Nettoyage", "organisation"),
    Reason("pas_de_travail", "Pas de travail", "organisation"),
    Reason("cours", "Cours", "planned"),
    Reason("maintenance", "Maintenance", "planned"),
    Reason(BREAKDOWN, "Panne", "technical"),
)


@dataclass(frozen=True, slots=True)
class Stop:
    start: datetime
    end: datetime
    alarm: bool  # a fault alarm was active during it
    ongoing: bool = False  # still under way at the end of what was counted

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def stops(
    spans: Sequence[Span], planned: Sequence[Interval], *, threshold_s: float, counted_until: datetime | None = None
) -> list[Stop]:
    """The stops of a timeline within planned time, in order; ``counted_until``: the end of what was counted,
    where a stop still under way is cut (and marked ``ongoing``)."""
    pieces: list[Stop] = []
    index = PlannedTime(planned)
    for start, end, alarm in _stretches(spans):
        for interval in index.touching(start, end):
            low, high = max(start, interval.start), min(end, interval.end)
            if high > low:
                pieces.append(Stop(low, high, alarm, ongoing=counted_until is not None and high >= counted_until))
    return [s for s in joined(pieces) if s.seconds >= threshold_s]


def joined(found: Iterable[Stop]) -> list[Stop]:
    """Stops in order, those that continue one another (one ends where the next begins: planned intervals that
    meet at midnight, a report's days) made one: a stop under way across midnight is one stop, classified once."""
    out: list[Stop] = []
    for stop in sorted(found, key=lambda s: s.start):
        if out and out[-1].end == stop.start:
            before = out[-1]
            out[-1] = Stop(before.start, stop.end, before.alarm or stop.alarm, ongoing=stop.ongoing)
        else:
            out.append(stop)
    return out


def _stretches(spans: Iterable[Span]) -> list[tuple[datetime, datetime, bool]]:
    stretches: list[tuple[datetime, datetime, bool]] = []
    for span in spans:
        if span.category in {"running", "offline"}:
            continue
        alarm = span.category == "alarm"
        if stretches and stretches[-1][1] == span.start:
            first, _, had = stretches[-1]
            stretches[-1] = (first, span.end, had or alarm)
        else:
            stretches.append((span.start, span.end, alarm))
    return stretches


@dataclass(frozen=True, slots=True)
class Classified:
    stop: Stop
    reason: Reason | None  # None: "non renseigné", kept as such
    prefilled: bool = False  # the reason is the alarm's "panne", not a person's choice


def classify(
    found: Sequence[Stop],
    said: dict[datetime, Reason],
    *,
    alarm_is_breakdown: bool,
    breakdown: Reason | None,
) -> list[Classified]:
    """Each stop with what a person said about it, else "panne" for an alarm where the site says so, else none."""
    out: list[Classified] = []
    for stop in found:
        reason = said.get(stop.start)
        if reason is not None:
            out.append(Classified(stop, reason))
        elif stop.alarm and alarm_is_breakdown and breakdown is not None:
            out.append(Classified(stop, breakdown, prefilled=True))
        else:
            out.append(Classified(stop, None))
    return out


@dataclass(frozen=True, slots=True)
class Lost:
    code: str
    label: str
    category: str
    seconds: float


def pareto(classified: Iterable[Classified], unclassified_label: str) -> list[Lost]:
    """Lost time by reason, largest first; the unclassified stops on a line of their own. Sums to the stops."""
    totals: dict[str, Lost] = {}
    for item in classified:
        code = UNCLASSIFIED if item.reason is None else item.reason.code
        label = unclassified_label if item.reason is None else item.reason.label
        category = "unclassified" if item.reason is None else item.reason.category
        seen = totals.get(code)
        totals[code] = Lost(code, label, category, item.stop.seconds + (seen.seconds if seen else 0.0))
    return sorted(totals.values(), key=lambda lost: (-lost.seconds, lost.code))


def by_category(classified: Iterable[Classified]) -> dict[str, float]:
    totals = dict.fromkeys((*CATEGORIES, "unclassified"), 0.0)
    for item in classified:
        totals["unclassified" if item.reason is None else item.reason.category] += item.stop.seconds
    return totals


def setup_before(classified: Iterable[Classified], first_good: datetime | None) -> float:
    """Seconds of setup stops before the first good cycle (all of them while there is none yet)."""
    return sum(
        c.stop.seconds
        for c in classified
        if c.reason is not None and c.reason.category == "setup" and (first_good is None or c.stop.start < first_good)
    )
