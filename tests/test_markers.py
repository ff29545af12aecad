"""The markers ``make check`` relies on are given by folder, so that a new test file cannot forget them."""

from __future__ import annotations

import itertools
import re

from tests.conftest import TESTS, folder_markers


def test_the_folders_give_their_markers() -> None:
    assert folder_markers(TESTS / "e2e" / "test_chain.py") == ["e2e"]
    assert folder_markers(TESTS / "gateway" / "browser" / "test_kiosk.py") == ["browser"]
    assert folder_markers(TESTS / "gateway" / "test_web.py") == []
    assert folder_markers(TESTS / "gateway" / "browserish" / "test_x.py") == []
    assert folder_markers(TESTS.parent / "bench" / "ingest.py") == []


def test_make_test_runs_every_test_in_exactly_one_of_its_two_rounds() -> None:
    """The Makefile's two marker expressions, tried on every combination of markers, are complements."""
    makefile = (TESTS.parent / "Makefile").read_text()
    rounds = [re.search(rf"^{name} := (.+)$", makefile, re.M) for name in ("SERIAL_MARKERS", "PARALLEL_MARKERS")]
    assert all(rounds), "SERIAL_MARKERS and PARALLEL_MARKERS are defined in the Makefile"
    expressions = [found.group(1) for found in rounds if found is not None]
    markers = ("e2e", "fault", "browser", "slow")
    for values in itertools.product((False, True), repeat=len(markers)):
        given = dict(zip(markers, values, strict=True))
        chosen = [eval(expression, {"__builtins__": {}}, given) for expression in expressions]
        assert sum(chosen) == 1, (given, expressions)
