"""``/calendar?site=``: the master's page for the site's opening calendar, closures and machine exceptions.

Plain HTML forms posted to the server (no script): every field is checked here,
an error is shown next to its field and what was typed stays in the form. The
login cookie is SameSite=Lax, so another site's form cannot post here with it;
a browser's Origin naming another site is refused too. The API (``/api/calendars``)
does the same writes, through the same store functions, audited.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.domain.calendar import format_day, parse_day
from gateway.domain.holiday_dates import school_years_known
from gateway.error_messages import render as message
from gateway.errors import NotFoundError, RecordsError
from gateway.store import calendar_repo
from gateway.store.machines_repo import all_machines, find_machine
from gateway.web.i18n import lang_of
from gateway.web.origin import origin_allowed
from gateway.web.pages import Forbidden, PageNotFound, not_found, records, render, require, signed_in, zone
from gateway.web.schemas import MAX_ID

router = APIRouter(include_in_schema=False)
MAX_FORM = 8192
LABEL_MAX = 200
CHOICES = {"public_holidays": ("none", "national", "alsace-moselle"), "school_zone": ("", "A", "B", "C")}


def _site(request: Request) -> str:
    """The site asked for, one of the master's (another is not found); else the first of theirs."""
    who = require(request, "admin")
    site = request.query_params.get("site", "")[:63]
    if site:
        if site not in who.sites:
            raise PageNotFound
        return site
    with records(request).reading(who) as db:
        known = calendar_repo.sites(db=db)
    return known[0] if known else min(who.sites)


async def _form(request: Request) -> dict[str, str]:
    if not origin_allowed(request, []):
        raise Forbidden
    body = (await request.body())[:MAX_FORM].decode("utf-8", errors="replace")
    return {k: v[0][:LABEL_MAX] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _say(request: Request, code: str, **params: Any) -> str:
    return message(code, params, lang=lang_of(request), zone=zone(request), names=True)


def _page(
    request: Request,
    site: str,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    state = records(request)
    with state.reading(signed_in(request)) as db:
        view = calendar_repo.calendar_view(db=db, site=site, zone=state.settings.timezone)
        machines = [m.name for m in all_machines(db=db) if m.site == site]
    row = view.row
    values = {
        "timezone": row.timezone,
        "public_holidays": row.public_holidays,
        "school_zone": row.school_zone or "",
        "threshold_min": str(row.stop_threshold_s // 60),
        "alarm_prefills_breakdown": "on" if row.alarm_prefills_breakdown else "",
        **{f"day{i}": str(day) for i, day in enumerate(row.week)},
    }
    context = {
        "site": site,
        "values": {**values, **(typed or {})},
        "errors": errors or {},
        "view": view,
        "machines": machines,
        "school_years": school_years_known(),
        "saved": request.query_params.get("saved") == "1",
    }
    return render(request, "calendar.html", context, status_code=status_code)


def _back(site: str) -> Response:
    return RedirectResponse(f"/calendar?site={quote(site, safe='')}&saved=1", status_code=303)


@router.get("/calendar")
def calendar_page(request: Request) -> Response:
    require(request, "admin")
    return _page(request, _site(request))


@router.post("/calendar")
async def save_calendar(request: Request) -> Response:
    who = require(request, "admin")
    site, form = _site(request), await _form(request)
    errors: dict[str, str] = {}
    week = []
    for i in range(7):
        text = form.get(f"day{i}", "")
        try:
            week.append(format_day(parse_day(text)))
        except ValueError:
            errors[f"day{i}"] = _say(request, "opening_hours_invalid", day=i + 1, text=text)
    try:
        ZoneInfo(form.get("timezone", ""))
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = _say(request, "time_zone_unknown", zone=form.get("timezone", ""))
    for name, allowed in CHOICES.items():
        if form.get(name, "") not in allowed:
            errors[name] = _say(request, "invalid", text=f"{name}: {', '.join(a or '—' for a in allowed)}")
    minutes = form.get("threshold_min", "")
    if not (minutes.isdigit() and 1 <= int(minutes) <= 240):
        errors["threshold_min"] = _say(request, "stop_threshold_invalid", minutes=minutes)
    if errors:
        return _page(request, site, typed=form, errors=errors, status_code=422)
    state = records(request)
    changes = {
        "week": week,
        "timezone": form["timezone"],
        "public_holidays": form["public_holidays"],
        "school_zone": form["school_zone"] or None,
        "stop_threshold_s": int(minutes) * 60,
        "alarm_prefills_breakdown": form.get("alarm_prefills_breakdown") == "on",
    }
    with state.transaction(who) as db:
        calendar_repo.save_settings(
            db=db, who=who.name, now=state.now(), site=site, zone=state.settings.timezone, changes=changes
        )
    return _back(site)


def _day(text: str) -> date | None:
    try:
        found = date.fromisoformat(text)
    except ValueError:
        return None
    return found if date(2000, 1, 1) <= found <= date(2099, 12, 31) else None


def _clock(text: str) -> time | None:
    try:
        return time.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.post("/calendar/closures")
async def add_closure(request: Request) -> Response:
    who = require(request, "admin")
    site, form = _site(request), await _form(request)
    errors = _dates(request, form)
    label = form.get("c_label", "").strip()
    if not label:
        errors["c_label"] = _say(request, "label_required")
    if errors:
        return _page(request, site, typed=form, errors=errors, status_code=422)
    state = records(request)
    first, last = _day(form["c_first"]), _day(form["c_last"])
    assert first is not None
    assert last is not None
    with state.transaction(who) as db:
        calendar_repo.add_closure(db=db, who=who.name, now=state.now(), site=site, first=first, last=last, label=label)
    return _back(site)


def _dates(request: Request, form: dict[str, str], prefix: str = "c_") -> dict[str, str]:
    errors: dict[str, str] = {}
    first, last = _day(form.get(f"{prefix}first", "")), _day(form.get(f"{prefix}last", ""))
    for name, found in ((f"{prefix}first", first), (f"{prefix}last", last)):
        if found is None:
            errors[name] = _say(request, "date_out_of_range", date=form.get(name, ""))
    if first is not None and last is not None and last < first:
        errors[f"{prefix}last"] = _say(request, "dates_reversed", first=first.isoformat(), last=last.isoformat())
    return errors


@router.post("/calendar/exceptions")
async def add_exception(request: Request) -> Response:
    who = require(request, "admin")
    site, form = _site(request), await _form(request)
    errors = _dates(request, form, "e_")
    kind = form.get("e_kind", "")
    if kind not in {"out_of_service", "extra"}:
        errors["e_kind"] = _say(request, "invalid", text="out_of_service, extra")
    start, end = _clock(form.get("e_start", "")), _clock(form.get("e_end", ""))
    state = records(request)
    if not errors:
        first, last = _day(form["e_first"]), _day(form["e_last"])
        assert first is not None
        assert last is not None
        try:
            with state.transaction(who) as db:
                machine = find_machine(db=db, name=form.get("e_machine", ""), site=site)
                calendar_repo.add_exception(
                    db=db,
                    who=who.name,
                    now=state.now(),
                    machine_id=machine.id,
                    first=first,
                    last=last,
                    kind=kind,
                    start_time=start,
                    end_time=end,
                    label=form.get("e_label", "").strip(),
                )
        except RecordsError as refused:
            field = "e_machine" if refused.code.startswith("machine") else "e_start"
            errors[field] = refused.message(lang=lang_of(request), zone=zone(request), names=True)
    if errors:
        return _page(request, site, typed=form, errors=errors, status_code=422)
    return _back(site)


@router.post("/calendar/{kind}/{row_id}/delete")
async def delete_row(request: Request, kind: str, row_id: int) -> Response:
    who = require(request, "admin")
    site = _site(request)
    await _form(request)
    if not 1 <= row_id <= MAX_ID:
        return not_found(request)
    state = records(request)
    try:
        with state.transaction(who) as db:
            if kind == "closures":
                calendar_repo.delete_closure(db=db, who=who.name, now=state.now(), closure_id=row_id)
            elif kind == "exceptions":
                calendar_repo.delete_exception(db=db, who=who.name, now=state.now(), exception_id=row_id)
            else:
                return not_found(request)
    except NotFoundError:  # deleted already (a second click, another master)
        return not_found(request)
    return _back(site)
