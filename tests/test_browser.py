"""The built book in a real browser, with the network off: Debian's Chromium, headless,
driven by Playwright, reading `_build` from a local server.

Every page of both builds (the book, and the students' build without solutions) is opened
and checked as a reader would see it: the math typeset, every image loaded, no error in the
console, no request that leaves the machine. The search page, the Colab buttons and the
light/dark switch are exercised. The chapters' notebooks, and the students' notebooks, are
rendered by nbconvert's HTML exporter and read the same way, as a plain Jupyter front end
shows them: no MyST left raw, the math typeset, the solutions closed. A screenshot of each
page goes to _build/screenshots. `make book` and `make students` must run first; `make test`
does both.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from a11y import axe_violations, poor_alt_text, report

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
HTML = BUILD / "html"
STUDENTS = BUILD / "students" / "_build" / "html"
SHOTS = BUILD / "screenshots"
# the repository as _config.yml names it, the one place it is set: owner/name
REPO = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].removeprefix(
    "https://github.com/"
)


def site_pages(root: Path) -> list[str]:
    """Every page of a build, relative to it: the table of contents (the chapters, the
    introduction, the bibliography, and in the book the instructors' page), the index and the
    search page. The students' build has its own table of contents, which `make students`
    writes without the instructors' page."""
    if not (root / "index.html").exists():
        pytest.fail(f"{root.relative_to(ROOT)} is not built: run `make book` and `make students`")
    toc_file = BUILD / "_toc.students.yml" if root == STUDENTS else ROOT / "_toc.yml"
    toc = yaml.safe_load(toc_file.read_text())
    names = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    pages = [f"{name}.html" for name in names] + ["genindex.html", "search.html"]
    missing = [p for p in pages if not (root / p).exists()]
    assert not missing, f"pages missing from {root.relative_to(ROOT)}: {missing}"
    return pages


def chapters() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [
        c["file"]
        for part in toc["parts"]
        for c in part["chapters"]
        if c["file"].startswith("chapters/")
    ]


class Visit:
    """One page in a fresh context: the console errors, the failed and the outside requests."""

    def __init__(self, browser, url: str, color_scheme: str = "light"):
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 900}, color_scheme=color_scheme
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.failed: list[str] = []
        self.context.route("**/*", self._route)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.goto(url, wait_until="load")
        self.wait_for_math()

    def _route(self, route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith("data:"):
            route.continue_()
        else:  # the network is off: record what the page wanted, and refuse it
            self.outside.append(route.request.url)
            route.abort()

    def wait_for_math(self) -> None:
        self.page.wait_for_function(
            "() => !window.MathJax || (window.MathJax.startup && window.MathJax.startup.promise)",
            timeout=20000,
        )
        self.page.evaluate("() => window.MathJax ? window.MathJax.startup.promise : null")

    def close(self) -> None:
        self.context.close()


def visible_text(page) -> str:
    return page.evaluate("() => (document.querySelector('main') || document.body).innerText")


BROKEN_IMAGES = """() => Promise.all(Array.from(document.images).map(img => {
    img.loading = 'eager';
    return img.decode().then(() => null, () => img.src);
})).then(urls => urls.filter(u => u !== null)
    .concat(Array.from(document.images).filter(i => i.naturalWidth === 0).map(i => i.src)))"""


def check_page(browser, base: str, root: Path, rel: str) -> tuple[Visit, str]:
    visit = Visit(browser, f"{base}/{root.relative_to(BUILD).as_posix()}/{rel}")
    page = visit.page
    text = visible_text(page)
    assert "$$" not in text and "\\begin{" not in text, f"{rel}: math left untypeset"
    assert "\\frac" not in text and "\\mathbf" not in text, f"{rel}: math left untypeset"
    assert not page.evaluate(BROKEN_IMAGES), f"{rel}: images that do not load"
    assert not visit.errors, f"{rel}: console errors {visit.errors}"
    assert not visit.outside, f"{rel}: requests that leave the machine {visit.outside}"
    assert not visit.failed, f"{rel}: failed requests {visit.failed}"
    check_accessible(page, rel)
    return visit, text


def check_accessible(page, rel: str) -> None:
    """WCAG 2.1 AA as axe-core measures it, in light and in dark mode, and alt text that
    says what each image shows (tests/a11y.py). The page is left in light mode."""
    poor = poor_alt_text(page)
    assert not poor, f"{rel}: images without meaningful alt text:\n" + "\n".join(poor)
    for mode in ("dark", "light"):
        violations = axe_violations(page, mode)
        assert not violations, f"{rel} in {mode} mode:\n{report(violations)}"


@pytest.mark.parametrize("rel", site_pages(HTML) if HTML.exists() else ["index.html"])
def test_book_page_renders_whole_offline(browser, server, rel):
    visit, text = check_page(browser, server, HTML, rel)
    page = visit.page
    if rel.startswith("chapters/"):
        # every chapter has math; MathJax turned it into mjx-container elements
        assert page.locator("mjx-container").count() > 0, f"{rel}: no typeset math"
        assert page.locator("div.cell_output img").count() > 0, f"{rel}: no figure"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / (rel.replace("/", "_").removesuffix(".html") + ".png"))
    visit.close()


@pytest.mark.parametrize("chapter", chapters())
def test_colab_button_opens_the_chapters_committed_notebook(browser, server, chapter):
    visit = Visit(browser, f"{server}/html/{chapter}.html")
    hrefs = visit.page.eval_on_selector_all(
        "a[href*='colab.research.google.com']", "links => links.map(a => a.href)"
    )
    assert hrefs == [f"https://colab.research.google.com/github/{REPO}/blob/main/{chapter}.ipynb"]
    assert (ROOT / f"{chapter}.ipynb").exists()
    visit.close()


@pytest.mark.parametrize(
    "query, expected", [("attention", "chapters/attention.html"), ("InfoNCE", "chapters/clip.html")]
)
def test_search_finds(browser, server, query, expected):
    visit = Visit(browser, f"{server}/html/search.html?q={query}")
    results = visit.page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=20000)
    hrefs = results.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert any(h.split("?")[0].split("#")[0] == expected for h in hrefs), hrefs
    assert not visit.errors and not visit.outside
    visit.close()


def luminance(css_colour: str) -> float:
    """0 (black) to 255 (white), from "rgb(r, g, b)" or "rgba(r, g, b, a)"."""
    r, g, b = (float(v) for v in re.findall(r"[\d.]+", css_colour)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_light_dark_switch(browser, server):
    visit = Visit(browser, f"{server}/html/chapters/clip.html")
    page = visit.page
    background = "() => getComputedStyle(document.body).backgroundColor"
    themes = {}
    SHOTS.mkdir(parents=True, exist_ok=True)
    for _ in range(3):  # the switch cycles through light, dark and auto (the system's)
        theme = page.evaluate("() => document.documentElement.dataset.theme")
        themes[theme] = page.evaluate(background)
        if theme == "dark":
            page.screenshot(path=SHOTS / "chapters_clip_dark.png")
        page.locator("button.theme-switch-button").first.click()
        page.wait_for_timeout(300)
    assert {"light", "dark"} <= set(themes), themes
    assert luminance(themes["light"]) > 200 and luminance(themes["dark"]) < 60, themes
    assert not visit.errors
    visit.close()


@pytest.mark.parametrize("rel", site_pages(STUDENTS) if STUDENTS.exists() else ["index.html"])
def test_students_build_renders_without_solutions(browser, server, rel):
    visit, text = check_page(browser, server, STUDENTS, rel)
    page = visit.page
    if rel.startswith("chapters/"):
        assert page.locator("div.exercise").count() >= 3, f"{rel}: exercises missing"
        assert page.locator("div.solution, details.solution").count() == 0, f"{rel}: a solution"
        assert "def my_" not in text, f"{rel}: solution code in the students' build"
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = "students_" + rel.replace("/", "_").removesuffix(".html") + ".png"
    page.screenshot(path=SHOTS / name)
    visit.close()


# --- the chapters' notebooks, as a plain Jupyter front end shows them --------------------

NOTEBOOKS = BUILD / "notebooks"  # nbconvert's HTML of every notebook, for these tests
STUDENT_NOTEBOOKS = BUILD / "students" / "notebooks"  # `make students` writes them
# Jupyter's own MathJax settings ($...$ inline, environments processed), for the book's
# offline copy of MathJax 3 (nbconvert's template configures MathJax 2 from a CDN)
MATHJAX_LOADER = """window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']],
  displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']], processEscapes: true, processEnvironments: true}};
(function () {
  var script = document.createElement('script');
  script.src = '../html/_static/mathjax/tex-chtml.js';
  document.head.appendChild(script);
})();
"""


def notebook_names() -> list[str]:
    return sorted(p.stem for p in (ROOT / "chapters").glob("*.ipynb"))


def render_notebook(path: Path, name: str) -> str:
    """The notebook as nbconvert's HTML exporter renders it, with what Jupyter collapses
    (`jupyter.source_hidden`, `outputs_hidden`: a solution's code) collapsed."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        hidden = cell.metadata.get("jupyter", {})
        if hidden.get("source_hidden"):
            cell.metadata["transient"] = {"remove_source": True}
        if hidden.get("outputs_hidden"):
            cell.outputs = []
        # a glued value's output is for the book's build; Jupyter shows nothing of it
        cell["outputs"] = [
            o for o in cell.get("outputs", []) if not o.get("metadata", {}).get("scrapbook")
        ]
    exporter = HTMLExporter(
        template_name="lab", mathjax_url="mathjax-jupyter.js", require_js_url=""
    )
    body, _ = exporter.from_notebook_node(notebook)
    NOTEBOOKS.mkdir(parents=True, exist_ok=True)
    (NOTEBOOKS / "mathjax-jupyter.js").write_text(MATHJAX_LOADER)
    (NOTEBOOKS / f"{name}.html").write_text(body)
    return f"notebooks/{name}.html"


def check_notebook_page(browser, server, rel: str) -> Visit:
    from test_notebooks import myst_left

    visit = Visit(browser, f"{server}/{rel}")
    page = visit.page
    prose = page.eval_on_selector_all(".jp-MarkdownCell", "cells => cells.map(c => c.innerText)")
    text = "\n".join(prose)
    assert prose and not myst_left(text), f"{rel}: MyST shown raw: {myst_left(text)[:5]}"
    assert "$$" not in text and "\\begin{" not in text and "\\frac" not in text, f"{rel}: raw math"
    assert page.locator(".jp-MarkdownCell mjx-container").count() > 0, f"{rel}: no typeset math"
    assert not page.evaluate(BROKEN_IMAGES), f"{rel}: images that do not load"
    assert not visit.errors, f"{rel}: console errors {visit.errors}"
    assert not visit.outside, f"{rel}: requests that leave the machine {visit.outside}"
    assert not visit.failed, f"{rel}: failed requests {visit.failed}"
    return visit


@pytest.mark.parametrize("name", notebook_names())
def test_chapter_notebook_reads_in_jupyter(browser, server, name):
    visit = check_notebook_page(
        browser, server, render_notebook(ROOT / "chapters" / f"{name}.ipynb", name)
    )
    page = visit.page
    # glued values: numbers marked with a dotted underline, whose tooltip says whose run
    marked = page.locator(".jp-MarkdownCell abbr[title]")
    assert marked.count() > 0
    assert marked.first.evaluate("a => getComputedStyle(a).textDecorationStyle") == "dotted"
    # solutions: closed until the reader opens one
    details = page.locator(".jp-MarkdownCell details")
    assert details.count() >= 3
    assert page.evaluate("() => [...document.querySelectorAll('details')].every(d => !d.open)")
    solution = details.first.locator(":scope > :not(summary)").first
    assert not solution.is_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"notebook_{name}.png")
    details.first.locator("summary").click()
    assert solution.is_visible()
    details.first.scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / f"notebook_{name}_solution.png")
    visit.close()


@pytest.mark.parametrize("name", notebook_names())
def test_students_notebook_reads_in_jupyter_without_solutions(browser, server, name):
    path = STUDENT_NOTEBOOKS / f"{name}.ipynb"
    if not path.exists():
        pytest.fail(f"{path.relative_to(ROOT)} is missing: run `make students`")
    visit = check_notebook_page(browser, server, render_notebook(path, f"students_{name}"))
    page = visit.page
    assert page.locator(".jp-MarkdownCell h3", has_text="Exercise").count() >= 3
    assert page.locator("details").count() == 0, f"{name}: a solution in the students' notebook"
    visit.close()
