"""Chromium and a local web server for a built book: what `make pdf` (_ext/pdf.py) and the
browser tests (tests/conftest.py, tests/test_release.py) share.

The pages are served over http rather than opened as files: MathJax, the search and the
theme's scripts load what they need by URL, and a file:// page gets none of it.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

MISSING = "Chromium is missing: `make tools` installs Debian's chromium, or set CHROMIUM"


def chromium_path() -> str:
    """The Chromium to use: $CHROMIUM when set, else Debian's `chromium` (or the
    `chromium-browser` of other distributions). FileNotFoundError when there is none."""
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser"):
        path = name and shutil.which(name)
        if path:
            return path
    raise FileNotFoundError(MISSING)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # one line per request would bury what fails
        pass


@contextlib.contextmanager
def serve(folder: Path | str) -> Iterator[str]:
    """Serve `folder` on a free port of 127.0.0.1 while the block runs; yields its URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
