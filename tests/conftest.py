"""Fixtures shared by the tests of more than one file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def assignments_built(tmp_path_factory) -> Path:
    """Every chapter's assignment, built as `make assignments` builds them, into a folder of
    its own: <folder>/<chapter>/{student,instructor}/<chapter>.ipynb and the autograder zip."""
    sys.path.insert(0, str(ROOT / "_ext"))
    import assignments  # _ext/assignments.py

    out = tmp_path_factory.mktemp("assignments")
    chapters = sorted((ROOT / "chapters").glob("*.md"))
    assert assignments.main([*map(str, chapters), "--out", str(out)]) == 0
    return out
