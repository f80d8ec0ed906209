"""Fixtures shared by the tests of more than one file."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"


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


# --- the built book in a browser: tests/test_browser.py and tests/test_accessibility.py ----


def chromium_path() -> str:
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser"):
        path = name and shutil.which(name)
        if path:
            return path
    pytest.fail("Chromium is missing: `make test` installs Debian's chromium, or set CHROMIUM")


@pytest.fixture(scope="session")
def server():
    """A local web server for _build, on a free port, for the whole test run."""
    handler = functools.partial(_QuietHandler, directory=str(BUILD))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # pytest shows stderr of failures; keep it for those
        pass


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
