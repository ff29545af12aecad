"""``/desk/students/import``: a CSV of students, previewed with every line's errors, then written all or nothing.

The checks are ``gateway.importer``'s, the same as ``atelier import students``. The
preview page carries the file's text back in its confirm form, so nothing waits on the
server between the two steps; the confirm checks everything again in the transaction that
writes (a badge given meanwhile is caught), and any error writes nothing.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from gateway import importer
from gateway.errors import RecordsError
from gateway.store import sites_repo
from gateway.web.desk_forms import import_problem, same_origin
from gateway.web.i18n import lang_of
from gateway.web.page_labels import page_labels
from gateway.web.pages import records, render, require, zone

router = APIRouter(include_in_schema=False)
PATH = "/desk/students/import"  # ends in /import: the body limit gives it the import budget (body_limit.py)


def _page(request: Request, context: dict[str, object], status_code: int = 200) -> Response:
    base: dict[str, object] = {"report": None, "text": "", "problem": None, "name": ""}
    base["say"] = lambda problem: import_problem(request, problem)
    return render(request, "desk_student_import.html", {**base, **context}, status_code=status_code)


@router.get(PATH)
def import_form(request: Request) -> Response:
    require(request, "admin")
    return _page(request, {})


@router.post(PATH)
async def import_submit(request: Request) -> Response:
    who = require(request, "admin")
    same_origin(request)
    async with request.form(max_files=1, max_fields=5) as form:
        upload = form.get("file")
        name = (upload.filename or "students.csv") if isinstance(upload, UploadFile) else str(form.get("name", ""))
        raw = await upload.read() if isinstance(upload, UploadFile) else str(form.get("csv", "")).encode()
        confirm = form.get("confirm") == "1"
        site_asked = str(form.get("site") or "") or None
    name = name[:200] or "students.csv"
    words = page_labels(lang_of(request))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _page(request, {"problem": words["import_not_utf8"]}, 422)
    if not text.strip():
        return _page(request, {"problem": words["import_no_file"]}, 422)
    state = records(request)
    if not confirm:
        with state.reading(who) as db:
            report = importer.check_students_text(db=db, text=text, name=name)
        return _page(request, {"report": report, "text": text, "name": name}, 422 if report.problems else 200)
    try:
        with state.transaction(who) as db:
            report = _clean(importer.check_students_text(db=db, text=text, name=name))
            site = sites_repo.site_for_new(sites=who.sites, asked=site_asked)
            count = importer.write(db=db, report=report, who=who.name, now=state.now(), kind="students", site=site)
    except _Refused as refused:
        return _page(request, {"report": refused.report, "text": text, "name": name}, 422)
    except RecordsError as err:
        message = err.message(lang=lang_of(request), zone=zone(request), names=True)
        return _page(request, {"problem": message, "text": text, "name": name}, 409)
    return RedirectResponse(f"/desk/students?done=imported&n={count}", status_code=303)


def _clean(report: importer.Report) -> importer.Report:
    if report.problems or not report.rows:
        raise _Refused(report)
    return report


class _Refused(Exception):  # noqa: N818 - leaves the transaction so that nothing is written
    def __init__(self, report: importer.Report) -> None:
        self.report = report
