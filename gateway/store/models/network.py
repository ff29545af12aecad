"""Tables of the network's gateway: the aggregates each school publishes (``contract.NetworkAggregate``).

One ``network_periods`` row per (site, period, start) holds the version (the ``ts`` the school computed it
at); its machines' and groups' figures hang from it and are replaced together when a newer version of the
same period arrives, so a republished day replaces the day and never adds to it. No column can hold a
person: sites, machines and class labels are the contract's bounded identifiers and codes.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models.base import Base, Int64
from gateway.store.models.ingest import ID_LENGTH


class NetworkPeriod(Base):
    __tablename__ = "network_periods"
    __table_args__ = (UniqueConstraint("site", "period", "start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(ID_LENGTH))
    period: Mapped[str] = mapped_column(String(8))  # day or hour
    start: Mapped[datetime]
    end: Mapped[datetime]
    day: Mapped[date] = mapped_column(Date, index=True)  # the site's local day
    final: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[datetime]  # the message's ts: the newest wins
    received: Mapped[datetime]


class NetworkMachineFigures(Base):
    __tablename__ = "network_machine_figures"
    __table_args__ = (UniqueConstraint("period_id", "machine"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("network_periods.id", ondelete="CASCADE"), index=True)
    machine: Mapped[str] = mapped_column(String(ID_LENGTH))
    online: Mapped[bool] = mapped_column(Boolean)
    planned_h: Mapped[float] = mapped_column(Float)
    running_h: Mapped[float] = mapped_column(Float)
    free_h: Mapped[float] = mapped_column(Float)
    good: Mapped[int] = mapped_column(Int64)
    scrap: Mapped[int] = mapped_column(Int64)
    oee: Mapped[float | None] = mapped_column(Float)
    setup_h: Mapped[float] = mapped_column(Float)
    organisation_h: Mapped[float] = mapped_column(Float)
    technical_h: Mapped[float] = mapped_column(Float)
    planned_stop_h: Mapped[float] = mapped_column(Float)
    unclassified_h: Mapped[float] = mapped_column(Float)


class NetworkPracticeFigures(Base):
    __tablename__ = "network_practice_figures"
    __table_args__ = (UniqueConstraint("period_id", "class_label", "track"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("network_periods.id", ondelete="CASCADE"), index=True)
    class_label: Mapped[str] = mapped_column(String(16))
    track: Mapped[str] = mapped_column(String(8))
    hours: Mapped[float] = mapped_column(Float)
