"""What the desk's forms share: reading a posted form, refusing a cross-site post, errors said next to each field.

The pages post plain HTML forms with the master's login cookie. That cookie is
``SameSite=Lax``, so a browser does not send it with a POST from another *site*;
a page on another *origin* of the same site (another port, a sibling host name) would
still get it sent, so every desk POST also checks the ``Origin`` header the browser
adds (``gateway.web.origin``, the same check the status WebSocket makes) and, when a
browser sends no Origin, ``Sec-Fetch-Site``. A client with neither is not a browser
and carries only the credentials it was given.

Validation is the API's own (its pydantic schemas, the stores' coded errors); this
module only puts each complaint next to the field it concerns, in the page's language.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from pydantic import ValidationError
from starlette.requests import Request

from gateway.errors import RecordsError
from gateway.importer import Problem
from gateway.web.i18n import lang_of
from gateway.web.origin import origin_allowed
from gateway.web.pages import Forbidden, zone

MAX_FORM = 16 * 1024
MAX_VALUE = 4096  # more than any field holds; the schema then says "too long" next to the field


def same_origin(request: Request) -> None:
    """Refuse (403 page) a form posted from a page that is not the gateway's own."""
    allowed: list[str] = request.app.state.settings.http.allowed_origins
    if request.headers.get("origin") is not None:
        if not origin_allowed(request, allowed):
            raise Forbidden
    elif request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise Forbidden


async def read_form(request: Request) -> dict[str, str]:
    """A url-encoded form after the origin check: one value per name, each bounded."""
    same_origin(request)
    body = (await request.body())[:MAX_FORM].decode("utf-8", errors="replace")
    return {k: v[0][:MAX_VALUE] for k, v in parse_qs(body, keep_blank_values=True).items()}


_PYDANTIC_WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "missing": "À remplir.",
        "string_too_short": "À remplir.",
        "string_too_long": "Trop long : {max_length} caractères au plus.",
        "string_pattern_mismatch": "Forme non valable.",
        "literal_error": "Choisissez une valeur de la liste.",
        "int_parsing": "Un nombre entier est attendu.",
        "greater_than_equal": "Au moins {ge}.",
        "less_than_equal": "Au plus {le}.",
        "value_error": "Valeur refusée.",
        "badge_repeated": "le badge {badge} est déjà à la ligne {other}.",
        "badge_in_database": "le badge {badge} est déjà attribué à un élève.",
        "found": "(trouvé : « {found} »)",
    },
    "en": {
        "missing": "Required.",
        "string_too_short": "Required.",
        "string_too_long": "Too long: {max_length} characters at most.",
        "string_pattern_mismatch": "Not a valid form.",
        "literal_error": "Choose a value from the list.",
        "int_parsing": "A whole number is expected.",
        "greater_than_equal": "At least {ge}.",
        "less_than_equal": "At most {le}.",
        "value_error": "Value refused.",
        "badge_repeated": "badge {badge} is already on line {other}.",
        "badge_in_database": "badge {badge} is already given to a student.",
        "found": "(found: '{found}')",
    },
}


def validation_errors(request: Request, err: ValidationError) -> dict[str, str]:
    """Field name → what is wrong with it, in the page's language (the first complaint per field)."""
    words = _PYDANTIC_WORDS["en" if lang_of(request) == "en" else "fr"]
    found: dict[str, str] = {}
    for item in err.errors():
        field = str(item["loc"][0]) if item["loc"] else "_form"
        template = words.get(item["type"])
        text = template.format(**(item.get("ctx") or {})) if template else item["msg"]
        found.setdefault(field, text)
    return found


def import_problem(request: Request, problem: Problem) -> str:
    """One problem of an imported line in the page's language; the importer's English when it has no code."""
    words = _PYDANTIC_WORDS["en" if lang_of(request) == "en" else "fr"]
    template = words.get(problem.kind)
    if template is None:
        return problem.english
    try:
        text = template.format(**problem.params)
    except (KeyError, IndexError, ValueError):
        return problem.english
    if problem.kind not in ("badge_repeated", "badge_in_database") and problem.params.get("found") not in (None, ""):
        text = f"{text} {words['found'].format(found=problem.params['found'])}"
    return f"{problem.column} : {text}" if problem.column else text


def records_error(
    request: Request, err: RecordsError, fields: dict[str, str], default: str = "_form"
) -> dict[str, str]:
    """A store's refusal, next to the field its code names (``fields``: code → field), else above the form."""
    message = err.message(lang=lang_of(request), zone=zone(request), names=True)
    return {fields.get(err.code, default): message}


def blank_to_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def kept(form: dict[str, str], names: tuple[str, ...]) -> dict[str, Any]:
    """What the master typed, to fill the form again after an error."""
    return {name: form.get(name, "") for name in names}
