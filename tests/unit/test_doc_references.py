"""Docs and docstrings point only at what a reader of this repository can open."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "switchboard",
    "switchboard_local",
    "sma",
    "bot",
    "connect_lambda",
    "deploy",
    "reliability",
    "bench",
)


def test_no_code_points_at_design_sections_outside_the_repository() -> None:
    outside = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in (*PACKAGES, "tests")
        for path in sorted((ROOT / package).rglob("*.py"))
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
