"""Numbers and durations written for people: ``1:05`` for an hour and five minutes, ``1,25`` in French.

Used by the spreadsheet CSV exports, the pages, the PDF and the charts (one definition of h:mm and of the
decimal mark: a French page reads 0,95 like its CSV, never 0.95).
"""

from __future__ import annotations


def hours_minutes(seconds: float | None) -> str:
    """``h:mm``, rounded to the minute: 3 minutes read ``0:03``, never ``0.0`` hours."""
    if seconds is None:
        return ""
    minutes = round(max(0.0, seconds) / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def decimal(value: float | None, digits: int, lang: str) -> str:
    """``value`` with ``digits`` decimals, a decimal comma in French (what a French spreadsheet reads)."""
    if value is None:
        return ""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "fr" else text
