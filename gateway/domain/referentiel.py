"""A diploma's référentiel read from the school's CSV, and the levels a competence is validated at; pure.

The file has one competence per line: ``diploma;block;code;label`` (``;`` as a French
spreadsheet writes it, or ``,``; a header line naming those four columns; UTF-8, with or
without a byte-order mark). Every line is checked before anything is kept: a file with
one problem is refused whole, each problem named with its line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

COLUMNS = ("diploma", "block", "code", "label")
FRENCH_COLUMNS = {"diplome": "diploma", "diplôme": "diploma", "bloc": "block", "code": "code", "libelle": "label"}
FRENCH_COLUMNS["libellé"] = "label"
LIMITS = {"diploma": 32, "block": 64, "code": 16, "label": 300}
MAX_LINES = 2000
# Non acquis → en cours d'acquisition → acquis → maîtrisé: the scale of the CCF grids.
LEVELS = ("non_acquis", "en_cours", "acquis", "maitrise")


@dataclass(frozen=True, slots=True)
class Competence:
    diploma: str
    block: str
    code: str
    label: str


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    column: str | None
    kind: str  # missing_column, empty, too_long, duplicate, control_character, too_many_lines, unreadable
    value: str = ""


def parse_referentiel(text: str) -> tuple[list[Competence], list[Problem]]:
    """The competences of the file, or the problems that refuse it (then no competence)."""
    text = text.removeprefix("\ufeff")
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=";,")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ";"
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as err:
        return [], [Problem(reader.line_num, None, "unreadable", str(err))]
    if not rows:
        return [], [Problem(1, None, "missing_column", ", ".join(COLUMNS))]
    header = [FRENCH_COLUMNS.get(h.strip().lower(), h.strip().lower()) for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        return [], [Problem(1, c, "missing_column") for c in missing]
    if len(rows) - 1 > MAX_LINES:
        return [], [Problem(MAX_LINES + 2, None, "too_many_lines", str(len(rows) - 1))]
    found: list[Competence] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = {c: (row[header.index(c)] if header.index(c) < len(row) else "").strip() for c in COLUMNS}
        bad = _check(number, values)
        key = (values["diploma"], values["code"])
        if not bad and key in seen:
            bad = [Problem(number, "code", "duplicate", f"{values['code']} ({seen[key]})")]
        problems += bad
        if not bad:
            seen[key] = number
            found.append(Competence(**values))
    return ([], problems) if problems else (found, [])


def _check(number: int, values: dict[str, str]) -> list[Problem]:
    problems = []
    for column, value in values.items():
        if not value:
            problems.append(Problem(number, column, "empty"))
        elif len(value) > LIMITS[column]:
            problems.append(Problem(number, column, "too_long", str(LIMITS[column])))
        elif any(ord(ch) < 32 for ch in value):
            problems.append(Problem(number, column, "control_character"))
    return problems
