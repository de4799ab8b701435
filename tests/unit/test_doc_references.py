"""Docs and docstrings point only at what a reader of this repository can open."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers import PACKAGES, ROOT, python_files


def test_no_code_points_at_design_sections_outside_the_repository() -> None:
    outside = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in python_files(*PACKAGES, "tests")
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"DESIGN(\.md)?\s*§|shared/DESIGN", line)
    ]
    assert outside == []


def test_docs_do_not_speak_of_issue_numbers() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    mentions = [
        f"{page.relative_to(ROOT)}:{number}"
        for page in pages
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bissues? \d+", line, flags=re.IGNORECASE)
    ]
    assert mentions == []
