"""Reading a school's référentiel CSV: French or English headers, ';' or ',', all lines or none."""

from __future__ import annotations

from pathlib import Path

from gateway.domain.referentiel import MAX_LINES, Competence, parse_referentiel

EXAMPLE = Path(__file__).parents[3] / "examples" / "referentiel-exemple.csv"


def test_the_shipped_example_reads_whole_and_says_it_is_an_example() -> None:
    competences, problems = parse_referentiel(EXAMPLE.read_text(encoding="utf-8"))
    assert problems == []
    assert len(competences) == 10
    assert {c.diploma for c in competences} == {"EXEMPLE-CAP", "EXEMPLE-BACPRO"}
    assert competences[0] == Competence(
        "EXEMPLE-CAP",
        "Bloc 1 - Préparer une fabrication",
        "C1.1",
        "Lire un dessin de définition et repérer les cotes à respecter",
    )


def test_english_headers_commas_and_a_bom_read_the_same() -> None:
    text = '\ufeffdiploma,block,code,label\nCAP,"B1, préparer",C1,"Lire, comprendre"\n\n'
    assert parse_referentiel(text) == ([Competence("CAP", "B1, préparer", "C1", "Lire, comprendre")], [])


def test_one_bad_line_refuses_the_file_and_every_problem_is_named() -> None:
    text = "diplome;bloc;code;libelle\nCAP;B1;C1;ok\nCAP;B1;;sans code\nCAP;B1;C1;doublon\nCAP;B1;C9;" + "x" * 301
    competences, problems = parse_referentiel(text)
    assert competences == []
    assert [(p.line, p.column, p.kind) for p in problems] == [
        (3, "code", "empty"),
        (4, "code", "duplicate"),
        (5, "label", "too_long"),
    ]


def test_missing_columns_and_control_characters_and_size_are_refused() -> None:
    assert [p.column for p in parse_referentiel("diplome;code\nCAP;C1")[1]] == ["block", "label"]
    assert parse_referentiel("diplome;bloc;code;libelle\nCAP;B1;C1;a\x07b")[1][0].kind == "control_character"
    many = "diplome;bloc;code;libelle\n" + "".join(f"CAP;B;C{k};l\n" for k in range(MAX_LINES + 1))
    assert parse_referentiel(many)[1][0].kind == "too_many_lines"
    assert parse_referentiel("")[1][0].kind == "missing_column"
