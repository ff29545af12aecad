"""How the pages and the PDF write figures: hours as h:mm, a trend only from enough cycles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.model import CycleFact, WorkSession
from gateway.domain.practice import TREND_MIN_CYCLES, practice_log
from gateway.web.page_labels import page_labels, trend_text
from gateway.web.pages import hours

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0:00"), (29, "0:00"), (180, "0:03"), (3599, "1:00"), (3600, "1:00"), (314_280, "87:18"), (None, "—")],
)
def test_hours_are_written_h_mm(seconds: float | None, text: str) -> None:
    assert hours(seconds) == text


@pytest.mark.parametrize(
    ("count", "fr", "en"),
    [
        (3, "pas assez de cycles pour une tendance (3/10)", "not enough cycles for a trend (3/10)"),
        (TREND_MIN_CYCLES, "en progrès", "improving"),
    ],
)
def test_a_trend_is_said_only_from_enough_cycles(count: int, fr: str, en: str) -> None:
    at = [T0 + timedelta(minutes=5 * k) for k in range(count + 1)]
    cycles = [CycleFact("mill", at[k], at[k + 1], 330 - 5 * k, 1, standard_s=300) for k in range(count)]
    log = practice_log(sessions=[WorkSession(1, "mill", 7, 1, T0, at[-1])], cycles=cycles, scrap=0, now=at[-1])
    assert trend_text(log, page_labels("fr")) == fr
    assert trend_text(log, page_labels("en")) == en
