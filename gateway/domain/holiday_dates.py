"""French public and school holidays, from the data the `holidays` and `vacances-scolaires-france` packages ship.

Both packages carry their data inside the distribution: nothing is fetched at run
time, so a school's own server with the network down still knows its holidays.
`vacances-scolaires-france` covers the school years it was released with (its
``max_year``); a day past that is not a school holiday here, and the calendar page
says so rather than guess.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any, Literal

import holidays
from vacances_scolaires_france import SchoolHolidayDates, UnsupportedYearException

PublicHolidays = Literal["none", "national", "alsace-moselle"]
SchoolZone = Literal["A", "B", "C"]

# Alsace-Moselle keeps Good Friday and St Stephen's Day (26 December) under the local law;
# the package's Moselle subdivision ("57") carries both, as does Alsace ("6AE").
_SUBDIVISION: dict[PublicHolidays, str | None] = {"national": None, "alsace-moselle": "57"}


@cache
def public_holidays(year: int, variant: PublicHolidays) -> dict[date, str]:
    """The public holidays of ``year`` with their French names; none for ``"none"``."""
    if variant == "none":
        return {}
    found = holidays.country_holidays("FR", subdiv=_SUBDIVISION[variant], years=year, language="fr")
    return {day: str(name) for day, name in found.items()}


@cache
def _school() -> Any:
    return SchoolHolidayDates()


def school_years_known() -> tuple[int, int]:
    """The first and last calendar years the bundled school-holiday data covers."""
    data = _school()
    return int(data.min_year), int(data.max_year)


@cache
def school_holidays(year: int, zone: SchoolZone) -> dict[date, str]:
    """The days of ``year`` that are school holidays in ``zone``, with the holiday's name; empty past the data."""
    try:
        found = _school().holidays_for_year_and_zone(year, zone)
    except UnsupportedYearException:
        return {}
    return {day: str(row["nom_vacances"]) for day, row in found.items()}
