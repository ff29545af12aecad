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
    setup_s: float = Field(description="setup stops before the first good cycle of each order on each machine")
    stopped_s: float = Field(description="every stop in planned time that began in the student's sessions")
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
    free_s: float = Field(description="free capacity: planned busy time not used for production (PBT − APT)")
    utilisation: float | None = Field(description="running / window, day and night")
    planned_s: float = Field(description="planned time from the site's calendar, counted up to now")
    planned_downtime_s: float = Field(description="stops classified in the planned category (lessons, maintenance)")
    planned_busy_s: float = Field(description="PBT, ISO 22400-2 planned busy time = planned − planned downtime")
    actual_production_s: float = Field(description="APT, ISO 22400-2 actual production time: running in planned time")
    unplanned_running_s: float = Field(description="running outside planned time: shown apart, never in availability")
    planned_held_s: float = Field(description="held inside planned time")
    planned_alarm_s: float = Field(description="in alarm inside planned time")
    planned_idle_s: float = Field(description="idle inside planned time")
    planned_offline_s: float = Field(description="offline inside planned time")
    cycles: int
    made: int
    scrap: int
    availability: float | None = Field(description="APT / PBT; null when nothing was planned")
    performance: float | None = Field(description="Σ(PRI × PQ) / APT over cycles ended in planned time")
    quality: float | None = Field(description="GQ / PQ")
    oee: float | None = Field(description="availability × performance × quality; null shows as —")


class PurgeResult(BaseModel):
    before: datetime | None
    sessions_purged: int
