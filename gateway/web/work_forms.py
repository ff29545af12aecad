"""The desk's work forms (orders, sessions, cycles): typed values from a form's strings, errors beside each field.

A form is validated by the API's own schemas (``gateway.web.schemas``) and the
store's own checks (a name taken, an overlap): the desk adds no rule of its own,
it only turns the browser's strings into the API's values (a local date and time
into UTC, "4:30" into seconds) and says each refusal next to the field it is
about, in the page's language, with everything typed given back.

Cross-site posts are refused by ``desk_forms.same_origin`` (the same check as the
people pages') before anything is read. Unlike ``desk_forms.read_form`` this keeps
every value of a name: the cycles page posts one check box per cycle.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from pydantic import BaseModel, ValidationError

from gateway.errors import RecordsError
from gateway.web.desk_forms import same_origin
from gateway.web.i18n import lang_of
from gateway.web.page_labels import page_labels
from gateway.web.pages import zone

MAX_FORM = 64 * 1024
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # the value of an <input type="datetime-local">
_DURATION = re.compile(r"^(?:(\d{1,4}):)?(\d{1,4}):(\d{1,2}(?:[.,]\d+)?)$")
FORM_ERROR = "_form"  # errors about the whole form, said above it


async def read_fields(request: Request, limit: int = MAX_FORM) -> dict[str, list[str]]:
    """The posted fields, every value of each; a POST from another origin is refused (403) before anything is read.

    ``limit``: the bytes read at most (a pasted référentiel needs more than a form of fields)."""
    same_origin(request)
    body = (await request.body())[:limit].decode("utf-8", errors="replace")
    return parse_qs(body, keep_blank_values=True, max_num_fields=2000)


def local_input(ts: datetime | None, tz: tzinfo) -> str:
    return "" if ts is None else ts.astimezone(tz).strftime(LOCAL_INPUT)


class Form:
    """One posted form: its texts (given back on error), its conversions and the errors found per field."""

    def __init__(self, request: Request, fields: dict[str, list[str]]) -> None:
        self.fields = fields
        self.zone = zone(request)
        self.lang = lang_of(request)
        self.words: dict[str, str] = page_labels(self.lang)["form_errors"]
        self.errors: dict[str, str] = {}

    def text(self, name: str) -> str:
        return self.fields.get(name, [""])[0].strip()

    def texts(self, name: str) -> list[str]:
        return [v.strip() for v in self.fields.get(name, []) if v.strip()]

    def values(self) -> dict[str, str]:
        """Everything typed, to fill the form again."""
        return {name: values[0] for name, values in self.fields.items() if values}

    def optional(self, name: str) -> str | None:
        return self.text(name) or None

    def when(self, name: str) -> datetime | None:
        """A local date and time (datetime-local) as an aware time; a wrong one is said next to its field."""
        value = self.text(name)
        if not value:
            return None
        try:
            return datetime.strptime(value, LOCAL_INPUT).replace(tzinfo=self.zone)
        except ValueError:
            self.errors[name] = self.words["datetime"]
            return None

    def seconds(self, name: str) -> float | None:
        """A duration typed as seconds ("90", "7,5") or m:ss / h:mm:ss ("4:30", "1:02:00")."""
        value = self.text(name).replace(" ", "")
        if not value:
            return None
        found = _DURATION.match(value)
        try:
            if found is not None:
                hours, minutes, secs = int(found[1] or 0), int(found[2]), float(found[3].replace(",", "."))
                return hours * 3600 + minutes * 60 + secs
            seconds = float(value.replace(",", "."))
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds):
            self.errors[name] = self.words["duration"]
            return None
        return seconds

    def validate(self, schema: type[BaseModel], data: Mapping[str, Any]) -> BaseModel | None:
        """``schema`` over ``data`` (None when a field was refused); each refusal under its field."""
        try:
            model = schema.model_validate(data)
        except ValidationError as err:
            for error in err.errors():
                field = str(error["loc"][0]) if error["loc"] else FORM_ERROR
                self.errors.setdefault(field, self._message(error))
            return None
        return None if self.errors else model

    def refused(self, error: RecordsError, fields: Mapping[str, str]) -> None:
        """The store's refusal (a name taken, an overlap) said next to the field its code is about."""
        message = error.message(lang=self.lang, zone=self.zone, names=True)
        self.errors[fields.get(error.code, FORM_ERROR)] = message

    def _message(self, error: Mapping[str, Any]) -> str:
        kind = str(error["type"])
        ctx = {key: _number(value) for key, value in (error.get("ctx") or {}).items()}
        if kind == "string_too_short" and ctx.get("min_length") == "1":
            kind = "missing"
        template = self.words.get(kind, self.words["invalid"])
        try:
            return template.format_map(ctx)
        except (KeyError, ValueError):
            return self.words["invalid"]


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def ids(values: list[str], *, limit: int = 500) -> list[int] | None:
    """Ids posted by check boxes; None when one is not an id."""
    found: list[int] = []
    for value in values[: limit + 1]:
        if not value.isdigit() or not 1 <= int(value) < 2**31:
            return None
        found.append(int(value))
    return None if len(found) > limit else sorted(set(found))
