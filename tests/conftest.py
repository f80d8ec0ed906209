"""Fixtures shared by the tests of more than one file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
sys.path.insert(0, str(ROOT / "_ext"))
import local_web  # noqa: E402  (_ext/local_web.py: Chromium, a local web server)


def chromium_path() -> str:
    try:
        return local_web.chromium_path()
    except FileNotFoundError as missing:
        pytest.fail(str(missing))


@pytest.fixture(scope="session")
def assignments_built(tmp_path_factory) -> Path:
    """Every chapter's assignment, built as `make assignments` builds them, into a folder of
    its own: <folder>/<chapter>/{student,instructor}/<chapter>.ipynb and the autograder zip."""
    import assignments  # _ext/assignments.py

    out = tmp_path_factory.mktemp("assignments")
    chapters = sorted((ROOT / "chapters").glob("*.md"))
    assert assignments.main([*map(str, chapters), "--out", str(out)]) == 0
    return out


# --- the built book in a browser: tests/test_browser.py and tests/test_accessibility.py ----


@pytest.fixture(scope="session")
def server():
    """A local web server for _build, on a free port, for the whole test run."""
    with local_web.serve(BUILD) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    from playwright import sync_api as playwright  # requirements.txt; a missing install fails

    with playwright.sync_playwright() as p:
        # no proxy, no background traffic: anything not served by the local server fails
        browser = p.chromium.launch(
            executable_path=chromium_path(),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
