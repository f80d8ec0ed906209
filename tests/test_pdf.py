"""The book as one PDF (`make pdf`, _ext/pdf.py), read back with poppler: its title page,
its contents, every chapter, its figures, numbers glued from the book's run, and nothing
left unrendered.

`make test` runs `make pdf` first.
"""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
PDF = ROOT / "_build" / "pdf" / "vlm-foundations.pdf"
SINGLE = ROOT / "_build" / "pdf" / "_build" / "singlehtml"
sys.path.insert(0, str(ROOT / "_ext"))
import edition  # noqa: E402  (_ext/edition.py)
import pdf  # noqa: E402  (_ext/pdf.py)

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def poppler(*command: str) -> str:
    if not PDF.exists():
        pytest.fail("_build/pdf/vlm-foundations.pdf is missing: run `make pdf` first")
    return subprocess.run(
        [*command, str(PDF), "-"] if command[0] == "pdftotext" else [*command, str(PDF)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@cache
def pages() -> list[str]:
    """The text of every page, whitespace collapsed."""
    return [" ".join(p.split()) for p in poppler("pdftotext").split("\f")[:-1]]


@cache
def single_page():
    """The single-page build that the PDF prints: named after the book's first page."""
    root = yaml.safe_load((ROOT / "_toc.yml").read_text())["root"]
    return BeautifulSoup((SINGLE / f"{root}.html").read_text(encoding="utf-8"), "html.parser")


def letters(text: str) -> str:
    """Text without what pdftotext may change: spaces, line breaks, a hyphen at a line's end."""
    return re.sub(r"[\W_]+", "", text).lower()


def chapter_titles() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    titles = []
    for name in files:
        for line in (ROOT / f"{name}.md").read_text().splitlines():
            if line.startswith("# "):
                titles.append(line[2:].strip())
                break
    return titles


def test_the_pdf_has_a_title_page_with_the_version_and_the_licences():
    version, day = edition.edition()
    title = pages()[0]
    assert CONFIG["title"] in title
    assert f"Version {version}, {edition.in_words(day)}" in title
    assert "Text and figures: CC BY-SA 4.0. Code: MIT." in title
    assert CONFIG["html"]["baseurl"] in title and CONFIG["repository"]["url"] in title


FRONT = 2  # the title page and its back, the colophon: no running header, no page number


def test_the_title_page_is_followed_by_the_colophon():
    version, day = edition.edition()
    colophon = pages()[1]
    for phrase in (
        f"Version {version}, {edition.in_words(day)}",
        "CC BY-SA 4.0",
        "MIT licence",
        "To cite:",
        "errata",
        "Grace Hopper",
        "Jupyter Book",
        "Chromium",
    ):
        assert phrase in colophon, phrase


def test_the_contents_give_every_chapter_the_page_it_starts_on():
    first_page = pdf.outline(PDF)[0][1]  # where the book's first page begins
    contents = " ".join(pages()[FRONT : first_page - 1])
    assert contents.startswith("VLM Foundations version") and "Contents" in contents
    for title in chapter_titles():
        found = re.search(re.escape(title) + r" (\d+)", contents)
        assert found, f"{title!r} is not in the contents"
        page = int(found[1])
        assert letters(title) in letters(pages()[page - 1]), f"{title!r} is not on page {page}"


def margin(y: int) -> list[str]:
    """The text of each page's band from `y` points down, 42 points high (A4: 842 high)."""
    bands = poppler("pdftotext", "-x", "0", "-y", str(y), "-W", "596", "-H", "42").split("\f")
    return [" ".join(b.split()) for b in bands[:-1]]


def test_every_page_after_the_front_has_its_number_and_the_running_header():
    count = len(pages())
    header = f"{CONFIG['title']} version {edition.edition()[0]}"
    assert margin(800) == [""] * FRONT + [str(n) for n in range(FRONT + 1, count + 1)]
    assert margin(0) == [""] * FRONT + [header] * (count - FRONT)


def test_the_contents_and_the_bookmarks_are_in_the_books_parts():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    captions = [part["caption"] for part in toc["parts"]]
    contents = " ".join(pages()[FRONT : pdf.outline(PDF)[0][1] - 1])
    where = [contents.find(f" {caption} ") for caption in captions]
    assert -1 not in where and where == sorted(where), list(zip(captions, where))
    marks = pdf.outline(PDF, titles=True)
    top = [title for depth, _, title in marks if depth == 1]
    assert top[1:] == captions, top  # the first page of the book, then the parts
    chapters = [title for depth, _, title in marks if depth == 2 and title[0].isdigit()]
    assert chapters[:2] == [f"1. {chapter_titles()[0]}", f"2. {chapter_titles()[1]}"]


def test_the_bookmarks_are_the_contents_titled_as_the_pages_are():
    marks = pdf.outline(PDF, titles=True)
    titles = [text for _, _, text in marks]
    for n, title in enumerate(chapter_titles()[:7], start=1):  # the numbered chapters
        assert f"{n}. {title}" in titles, (title, titles[:20])
    # a heading's words once, its math kept: "Why divide by √d_k?"
    assert any("√d_k" in t for t in titles), [t for t in titles if "divide" in t]
    assert not [t for t in titles if len(t) > 8 and t[: len(t) // 2] == t[len(t) // 2 :]]
    depths = {depth for depth, _, _ in marks}
    assert depths == {1, 2, 3}, depths  # a part, a page of the book, a section
    pages_in_order = [page for _, page, _ in marks]
    assert pages_in_order == sorted(pages_in_order)


def test_the_pdf_says_whose_it_is_and_opens_on_its_bookmarks():
    info = poppler("pdfinfo")
    assert re.search(rf"Author:\s+{re.escape(CONFIG['author'])}", info), info
    assert f"version {edition.edition()[0]}" in info
    from pypdf import PdfReader

    assert PdfReader(PDF).page_mode == "/UseOutlines"


def test_a_sample_of_the_numbers_glued_from_the_books_run_is_in_the_pdf():
    glued = [s.get_text() for s in single_page().select("span.pasted-text")]
    assert len(glued) > 300, len(glued)
    text = " ".join(pages())
    sample = glued[:: len(glued) // 40]  # about 40, from every chapter
    missing = [g for g in sample if g not in text]
    assert not missing, missing


def test_every_figure_is_in_the_pdf_numbered():
    figures = single_page().select("figure img")
    assert len(figures) >= 31
    text = " ".join(pages())
    numbers = set(re.findall(r"Fig\. (\d+\.\d+)", text))
    assert len(numbers) == len(figures), (len(numbers), len(figures))


def test_no_page_is_left_empty():
    # a page's own text, without the running header and the page number: a page that shows
    # only a figure has its caption
    header = f"{CONFIG['title']} version {edition.edition()[0]}"
    empty = []
    for n, text in enumerate(pages(), start=1):
        body = text.removeprefix(header).removesuffix(str(n)).strip()
        if len(body) < 40:
            empty.append((n, body))
    assert not empty, empty


def test_equations_are_typeset_and_numbered_and_nothing_is_left_raw():
    text = " ".join(pages())
    for raw in ("$$", "\\frac{", "\\mathbf{", "\\begin{", "{{"):
        assert raw not in text, f"{raw!r} left unrendered"
    roles = re.findall(r"\{(?:cite|cite:t|doc|glue:text|numref|ref|eq)\}`", text)
    assert not roles, roles
    assert re.search(r"\(2\.1\)", text), "no numbered equation"


def test_progress_bars_are_left_out_of_print():
    text = " ".join(pages())
    assert not re.findall(r"\d+%\|", text), "a progress bar in print"
    assert re.search(r"\d+%\|", single_page().get_text()), "the pages have progress bars"


def test_the_bibliography_is_in_the_pdf():
    text = " ".join(pages())
    assert "References" in text
    assert "Attention is all you need" in text


def test_the_page_count_and_size_are_a_books():
    count = len(pages())
    assert 100 <= count <= 600, count
    assert PDF.stat().st_size < 60 * 2**20
