"""Response bodies of the reports: practice logs, utilisation and OEE, the retention purge."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from gateway.web.schemas import SessionPublic


class MachinePracticePublic(BaseModel):
    machine: str
    sessions: int
    session_s: float
    cycle_s: float
    cycles: int
    parts: int


class PracticeSessionPublic(SessionPublic):
    order_reference: str | None = Field(description="the order's reference; null for practice")
    cycles: int
    cycle_s: float
    parts: int


class PracticeLogPublic(BaseModel):
    student_id: int
    display_name: str
    class_name: str
    track: str
    sessions: list[PracticeSessionPublic]
    session_s: float
    cycle_s: float
    cycles: int
    parts_made: int
    scrap: int
    good: int
    mean_cycle_s: float | None
    best_cycle_s: float | None
    mean_vs_standard: float | None = Field(description="mean of cycle time / the order's standard; 1.0 is on standard")
    trend: float | None = Field(description="slope of that ratio per cycle; negative is getting faster")
    trend_word: str
    machines: list[MachinePracticePublic]


class OeePublic(BaseModel):
    machine: str
    period: str
    start: datetime
    end: datetime
    until: datetime = Field(description="counting stops here: now for the current period, its end for a past one")
    status: Literal["past", "current", "future"] = Field(description="a future period is empty: nothing happened yet")
    window_s: float
    running_s: float
    held_s: float
    alarm_s: float
    idle_s: float
    offline_s: float
    free_s: float
    utilisation: float | None = Field(description="running / window")
    cycles: int
    made: int
    scrap: int
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None


class PurgeResult(BaseModel):
    before: datetime | None
    sessions_purged: int
