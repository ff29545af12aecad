"""CSV exports, in two flavours: for a French spreadsheet (the default) and machine-friendly (``?format=raw``).

- **Spreadsheet**: UTF-8 with a byte-order mark (so Excel reads the accents), ``;`` between cells (the
  comma is the French decimal separator), headers in the caller's language, local times without seconds,
  durations as ``h:mm``, decimal commas in French, yes/no in words, names and order references.
- **Raw**: what the exports always were, for scripts: ``,``, no BOM, English snake_case headers, UTC
  times in ISO 8601, hours and seconds as decimal numbers, ids.

In both, a text cell that would start a formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return)
is prefixed with ``'``: students' and customers' names, reasons and references are untrusted strings.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import Response

from gateway.web.downloads import disposition
from gateway.web.formats import decimal, hours_minutes
from gateway.web.i18n import lang_of
from gateway.web.records_state import RecordsState

# hours: seconds written as decimal hours (raw) or h:mm (sheet); duration: seconds (raw) or h:mm (sheet).
Kind = Literal["text", "int", "time", "date", "hours", "duration", "seconds", "ratio", "bool", "word"]
Flavour = Literal["sheet", "raw"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
_YES_NO = {"fr": ("oui", "non"), "en": ("yes", "no")}


@dataclass(frozen=True, slots=True)
class Column:
    raw: str  # the raw header
    fr: str
    en: str
    kind: Kind = "text"
    only: Flavour | None = None  # a column of one flavour (ids for raw, labels for the sheet)


@dataclass(frozen=True, slots=True)
class Sheet:
    """How a caller reads the file: flavour, language, time zone, and the words for ``word`` cells."""

    flavour: Flavour
    lang: str
    zone: tzinfo
    words: Mapping[str, str]


def neutralise(text: str) -> str:
    """A cell a spreadsheet would run as a formula, made plain text."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _raw(value: Any, kind: Kind) -> Any:
    if value is None:
        return ""
    if kind == "hours":
        return round(value / 3600, 2)
    if kind in ("seconds", "duration"):
        return round(value, 1)
    if kind == "ratio":
        return round(value, 3)
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    return neutralise(value) if isinstance(value, str) else value


def _sheet(value: Any, kind: Kind, sheet: Sheet) -> str:
    if value is None:
        return ""
    return _SHEET_CELLS.get(kind, _text)(value, sheet)


def _text(value: Any, sheet: Sheet) -> str:
    return neutralise(value) if isinstance(value, str) else str(value)


def _yes_no(value: Any, sheet: Sheet) -> str:
    yes, no = _YES_NO.get(sheet.lang, _YES_NO["fr"])
    return yes if value else no


_SHEET_CELLS: dict[Kind, Callable[[Any, Sheet], str]] = {
    "time": lambda value, sheet: f"{value.astimezone(sheet.zone):%d/%m/%Y %H:%M}",
    "date": lambda value, sheet: f"{value:%d/%m/%Y}",
    "hours": lambda value, sheet: hours_minutes(value),
    "duration": lambda value, sheet: hours_minutes(value),
    "seconds": lambda value, sheet: decimal(value, 1, sheet.lang),
    "ratio": lambda value, sheet: decimal(value, 2, sheet.lang),
    "bool": _yes_no,
    "word": lambda value, sheet: neutralise(str(sheet.words.get(value, value))),
}


def render(columns: Sequence[Column], rows: Iterable[Sequence[Any]], sheet: Sheet) -> str:
    """``rows`` hold one value per column of ``columns``, of both flavours; each flavour writes its own."""
    kept = [k for k, c in enumerate(columns) if c.only in (None, sheet.flavour)]
    buffer = io.StringIO()
    if sheet.flavour == "raw":
        writer = csv.writer(buffer)
        writer.writerow([columns[k].raw for k in kept])
        writer.writerows([_raw(row[k], columns[k].kind) for k in kept] for row in rows)
        return buffer.getvalue()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerows(sheet_cells(columns, rows, sheet))
    return BOM + buffer.getvalue()


def sheet_cells(columns: Sequence[Column], rows: Iterable[Sequence[Any]], sheet: Sheet) -> list[list[str]]:
    """The header and the rows as a person reads them (the sheet flavour's cells), for a CSV or a PDF table."""
    kept = [k for k, c in enumerate(columns) if c.only in (None, "sheet")]
    cells = [[columns[k].en if sheet.lang == "en" else columns[k].fr for k in kept]]
    cells.extend([_sheet(row[k], columns[k].kind, sheet) for k in kept] for row in rows)
    return cells


def csv_response(columns: Sequence[Column], rows: Iterable[Sequence[Any]], filename: str, sheet: Sheet) -> Response:
    """The file as an attachment; the raw flavour's name ends in ``.raw.csv``."""
    if sheet.flavour == "raw":
        filename = filename.removesuffix(".csv") + ".raw.csv"
    return Response(
        content=render(columns, rows, sheet).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers=disposition(filename),
    )


FormatQuery = Annotated[
    Flavour,
    Query(alias="format", description="sheet: for a French spreadsheet (default); raw: machine-friendly CSV"),
]


def sheet_of(request: Request, state: RecordsState, flavour: Flavour, words: Mapping[str, str] | None = None) -> Sheet:
    """How the caller reads: their language (``?lang=``, the pages' cookie), the school's time zone."""
    return Sheet(flavour=flavour, lang=lang_of(request), zone=state.settings.zone(), words=words or {})
