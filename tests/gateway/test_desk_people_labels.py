"""The desk's people pages have every label in both languages, and each label a template uses exists."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.web.desk_people_labels import DESK_PEOPLE_LABELS
from gateway.web.page_labels import PAGE_LABELS

TEMPLATES = Path(__file__).resolve().parents[2] / "gateway" / "web" / "templates"


def test_french_and_english_have_the_same_labels() -> None:
    assert DESK_PEOPLE_LABELS["fr"].keys() == DESK_PEOPLE_LABELS["en"].keys()


def test_every_label_a_desk_template_names_exists_in_both_languages() -> None:
    used: set[str] = set()
    for template in TEMPLATES.glob("desk_*.html"):
        used |= set(re.findall(r"\bL\.([a-z_]+)", template.read_text(encoding="utf-8")))
    assert used
    for lang in ("fr", "en"):
        assert not used - PAGE_LABELS[lang].keys(), lang
