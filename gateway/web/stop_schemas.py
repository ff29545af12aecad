"""Bodies of ``/api/stops`` and ``/api/stop-reasons``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from gateway.web.schemas import InputModel, Name, PublicModel, Short, Ts, _Update

Category = Literal["setup", "organisation", "technical", "planned"]
Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")]


class ReasonPublic(PublicModel):
    code: str
    label: str
    category: Category
    active: bool


class ReasonCreate(InputModel):
    code: Code
    label: Name
    category: Category


class ReasonUpdate(_Update):
    label: Name | None = None
    category: Category | None = None
    active: bool | None = None


class StopPublic(PublicModel):
    machine: str
    start: datetime = Field(description="a stop is known by its machine and its start")
    end: datetime
    seconds: float
    alarm: bool = Field(description="a fault alarm was active during the stop")
    ongoing: bool = Field(description="still under way at the end of what was counted")
    reason: str | None = Field(description="the reason's code; null: not classified (non renseigné)")
    reason_label: str | None
    category: Category | None
    prefilled: bool = Field(description="the reason is the alarm's 'panne' pre-filled, not a person's choice")


class Classification(InputModel):
    machine: Short | None = Field(default=None, description="a kiosk may leave it out: its own machine")
    site: Short | None = None
    started: Ts = Field(description="the stop's start, as listed")
    reason: Code
