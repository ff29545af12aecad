"""A free text in a PDF table is cut into lines that fit its column, drawn as plain text (never markup)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from reportlab.pdfbase.pdfmetrics import stringWidth

from gateway.web.log_pdf import wrapped

WIDTH = 45.0  # points: the order column of the practice log (20 mm less its padding)


def test_a_short_text_stays_one_line() -> None:
    assert wrapped("PO-5", "Helvetica", 8, WIDTH) == ["PO-5"]


def test_words_wrap_at_spaces_and_a_long_word_is_cut() -> None:
    assert wrapped("Client 062 de Lyon", "Helvetica", 8, WIDTH) == ["Client 062", "de Lyon"]
    lines = wrapped("ecole-01-00007", "Helvetica", 8, WIDTH)
    assert lines == ["ecole-01-00", "007"]


def test_markup_is_kept_as_text() -> None:
    assert "".join(wrapped("<b>Acme</b>", "Helvetica", 8, 200)) == "<b>Acme</b>"


@given(st.text(alphabet=st.characters(codec="latin-1", exclude_categories=("Cc", "Zl", "Zp")), max_size=80))
def test_every_line_fits_and_nothing_is_lost(value: str) -> None:
    lines = wrapped(value, "Helvetica", 8, WIDTH)
    for line in lines:
        # A single character wider than the column is the only line allowed over it.
        assert len(line) == 1 or stringWidth(line, "Helvetica", 8) <= WIDTH
    assert "".join(lines).replace(" ", "") == value.replace(" ", "")
