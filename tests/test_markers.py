"""The markers ``make check`` relies on are given by folder, so that a new test file cannot forget them."""

from __future__ import annotations

from tests.conftest import TESTS, folder_markers


def test_the_folders_give_their_markers() -> None:
    assert folder_markers(TESTS / "e2e" / "test_chain.py") == ["e2e"]
    assert folder_markers(TESTS / "gateway" / "browser" / "test_kiosk.py") == ["browser"]
    assert folder_markers(TESTS / "gateway" / "test_web.py") == []
    assert folder_markers(TESTS / "gateway" / "browserish" / "test_x.py") == []
    assert folder_markers(TESTS.parent / "bench" / "ingest.py") == []
