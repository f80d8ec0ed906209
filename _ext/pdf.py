"""The book as one PDF: Chromium prints the book's single-page build.

    python _ext/pdf.py _build/pdf/_build/singlehtml _build/pdf/vlm-foundations.pdf

`make pdf` builds the single page first (`jupyter-book build --builder singlehtml`, with the
chapters' outputs from the execution cache that `make book` fills) and then runs this. The
PDF is the book as its pages show it, with its figures and outputs, its equations typeset
by MathJax, numbered as on the pages, and its bibliography, and:

- a title page with the book's title, its version and date, its licences and its address;
- a table of contents with the page of every chapter and section, each a link, and the
  same headings as the PDF's bookmarks;
- every page of the book from a new page, figures, tables and short code cells never
  split across two pages;
- the solutions open; left out, what only a screen can use: the navigation, the buttons,
  the search, the set-up cell that installs the package on Colab;
- the page number in every page's footer, the book's title and version in its header.

Chromium prints twice: the first print's bookmarks (read back with poppler's pdftohtml)
give the page each heading lands on, and the second prints the contents with them.
"""

from __future__ import annotations

import argparse
import functools
import html
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import edition  # noqa: E402  (_ext/edition.py: the version, its date, the licences)

ROOT = Path(__file__).resolve().parents[1]
MARGINS = {"top": "20mm", "bottom": "20mm", "left": "18mm", "right": "18mm"}
# what only a screen can use, and the set-up cell that installs the package on Colab
SCREEN_ONLY = [
    ".bd-header",
    ".bd-header-article",
    ".bd-sidebar-primary",
    ".bd-sidebar-secondary",
    ".bd-footer-article",
    ".bd-footer-content",
    ".prev-next-area",
    ".headerlink",
    "button",
    ".copybtn",
    "details.hide",
    "#pst-back-to-top",
    ".search-button-field",
    "nav.bd-links",
    "#jb-print-docs-body",
]
PRINT_CSS = """
@page { size: A4; }
html, body { background: white !important; }
body { font-size: 10.5pt; }
.bd-main .bd-content .bd-article-container { max-width: none; padding: 0; }
.bd-page-width { max-width: none; }
%(hidden)s { display: none !important; }
/* a new page for every page of the book, and for the contents */
span[id^="document-"] + section, .pdf-contents, .pdf-book { break-before: page; }
/* the theme prints the first page's title in a header of its own, which this leaves out */
main article section > h1 { display: block !important; }
h1, h2, h3, h4, .admonition-title { break-after: avoid; }
figure, img, .cell_output, div.math-wrapper, mjx-container[display=true], tr {
  break-inside: avoid;
}
div.cell_input, div.cell_input div, div.cell_input pre {
  display: block !important; overflow: visible !important; break-inside: auto !important;
}
/* a cell's code is kept on one page where it fits, and split where it cannot fit, not left as
   an empty box on one page with its code on the next (a block that scrolls cannot be split,
   so nothing scrolls in print) */
div.cell_input div.highlight, div.cell_input pre, .cell_output pre { break-inside: auto; }
.pdf-contents { break-after: page; }
/* a line of code or output too long for the page wraps instead of running off it */
pre { white-space: pre-wrap !important; overflow-wrap: anywhere; max-height: none;
      font-size: 8.5pt; line-height: 1.35; overflow: visible !important; }
div.cell_output, div.highlight { overflow: visible !important; }
/* the solutions, open */
.toggle-hidden, .dropdown .toggle-details__container { display: block !important; }
details.solution, details.dropdown { display: block; }
a { text-decoration: none; }
.pdf-title { text-align: center; padding-top: 30%%; }
.pdf-title .book { font-size: 30pt; font-weight: 600; margin-bottom: 0.3em; }
.pdf-title .subtitle { font-size: 14pt; margin-bottom: 3em; }
.pdf-title p { margin: 0.4em 0; }
.pdf-contents .h1like { font-size: 20pt; font-weight: 600; margin-bottom: 0.6em; }
.pdf-contents ol { list-style: none; padding-left: 0; }
.pdf-contents li { display: flex; gap: 0.5em; margin: 0.15em 0; }
.pdf-contents li .leader { flex: 1; border-bottom: 1px dotted #888; margin-bottom: 0.3em; }
.pdf-contents li.level-1 { font-weight: 600; margin-top: 0.6em; }
.pdf-contents li.level-2 { padding-left: 1.5em; }
.pdf-contents .page { font-variant-numeric: tabular-nums; min-width: 2em; text-align: right; }
"""
HEADER = (
    '<div style="font-size:7pt; width:100%; padding:0 18mm; color:#555; '
    'display:flex; justify-content:space-between;">'
    "<span>{title}</span><span>version {version}</span></div>"
)
FOOTER = (
    '<div style="font-size:8pt; width:100%; text-align:center; color:#333;">'
    '<span class="pageNumber"></span></div>'
)
# Every heading that is shown, in the order of the page, as Chromium makes its bookmarks;
# those of the contents: the first page's title, then each page of the book (a section after
# the marker that the single-page build puts before every page) and its sections.
HEADINGS = r"""() => {
  const all = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map(h => `main ${h}`).join(', ');
  const shown = [...document.querySelectorAll(all)]
    .filter(h => h.checkVisibility() && !h.closest('.pdf-front'));
  const pages = [document.querySelector('main article section'),
                 ...document.querySelectorAll('span[id^="document-"] + section')];
  const level = h => {  // 1: a page of the book; 2: a section of one; 0: deeper
    const section = h.parentElement;
    return pages.includes(section) ? 1 : pages.includes(section.parentElement) ? 2 : 0;
  };
  // a heading's words, its math as TeX (MathJax keeps it), for the bookmarks
  const tex = new Map(Array.from(window.MathJax?.startup?.document?.math || [],
                                 item => [item.typesetRoot, item.math]));
  const tidy = t => t.replace(/\\sqrt\{([^}]*)\}/g, '√$1')
    .replace(/\\(mathbf|mathrm|text|operatorname)\{([^}]*)\}/g, '$2').replace(/[{}\\]/g, '');
  const plain = node => {
    if (node.nodeType === Node.TEXT_NODE) return node.textContent;
    if (node.nodeType !== Node.ELEMENT_NODE || node.matches('.headerlink, mjx-assistive-mml')) {
      return '';
    }
    if (tex.has(node)) return tidy(tex.get(node));
    return [...node.childNodes].map(plain).join('');
  };
  return shown.map((h, n) => {
    // the single page keeps each page's ids, which repeat from page to page ("exercises"):
    // the contents link to an id of the heading's own
    h.id = `pdf-heading-${n}`;
    const copy = h.cloneNode(true);
    copy.querySelectorAll('.headerlink, mjx-assistive-mml').forEach(e => e.remove());
    // the title as the page shows it, its math typeset, for the contents
    return {level: level(h), id: h.id, html: copy.innerHTML.trim(),
            text: plain(h).replace(/\s+/g, ' ').trim()};
  });
}"""


def chromium_path() -> str:
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser"):
        path = name and shutil.which(name)
        if path:
            return path
    raise SystemExit(
        "Chromium is missing: `make tools` installs Debian's chromium, or set CHROMIUM"
    )


def serve(folder: Path) -> str:
    """A local web server for `folder`, for as long as this process runs."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def front_matter(contents: list[dict], pages: dict[str, int] | None) -> str:
    """The title page and the table of contents, as HTML; pages: heading id -> page."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    version, day = edition.edition()
    repository = config["repository"]["url"].rstrip("/")
    licence, licence_url = edition.TEXT_LICENCE
    title = [
        '<div class="pdf-title">',
        f'<p class="book">{html.escape(config["title"])}</p>',
        '<p class="subtitle">An executable course book on the foundations of '
        "vision-language models</p>",
        f"<p>{html.escape(config['author'])}</p>",
        f"<p>Version {version}, {edition.in_words(day)}</p>",
        f'<p><a href="{config["html"]["baseurl"]}">{config["html"]["baseurl"]}</a></p>',
        f'<p><a href="{repository}">{repository}</a></p>',
        f'<p style="margin-top:3em">Text and figures: <a href="{licence_url}">{licence}</a>. '
        f'Code: <a href="{repository}/blob/main/LICENSE">{edition.CODE_LICENCE}</a>.</p>',
        "</div>",
    ]
    rows = []
    for entry in contents:
        page = "000" if pages is None else str(pages[entry["id"]])
        rows.append(
            f'<li class="level-{entry["level"]}"><a href="#{entry["id"]}">{entry["html"]}</a>'
            f'<span class="leader"></span><span class="page">{page}</span></li>'
        )
    return "\n".join(
        [
            *title,
            '<div class="pdf-contents"><p class="h1like">Contents</p><ol>',
            *rows,
            "</ol></div>",
        ]
    )


def outline(pdf: Path, titles: bool = False) -> list[tuple]:
    """(depth, page) of each bookmark of `pdf`, in the order of the document, with its title
    too when `titles`; depth 1 for the top level. Chromium makes a bookmark of every heading,
    nested by heading level."""
    xml = subprocess.run(
        ["pdftohtml", "-xml", "-stdout", "-i", "-q", str(pdf)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    marks, depth = [], 0
    for tag, page, title in re.findall(r'<(/?outline)>|<item page="(\d+)">(.*?)</item>', xml):
        if tag == "outline":
            depth += 1
        elif tag == "/outline":
            depth -= 1
        else:
            title = html.unescape(re.sub(r"<[^>]+>", "", title))
            marks.append((depth, int(page), title) if titles else (depth, int(page)))
    return marks


def prepare(page, url: str) -> list[dict]:
    """Open the single page, typeset, laid out for print; the headings of its contents."""
    page.goto(url, wait_until="load")
    page.wait_for_function(
        "() => !window.MathJax || (window.MathJax.startup && window.MathJax.startup.promise)",
        timeout=60000,
    )
    page.evaluate("() => window.MathJax ? window.MathJax.startup.promise : null")
    page.emulate_media(media="print")
    page.add_style_tag(content=PRINT_CSS % {"hidden": ", ".join(SCREEN_ONLY)})
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    page.evaluate(
        "() => Promise.all([...document.images].map(i => i.complete ? null :"
        " new Promise(r => { i.onload = i.onerror = r; })))"
    )
    return page.evaluate(HEADINGS)


def set_front_matter(page, markup: str) -> None:
    page.evaluate(
        """markup => {
          document.querySelector('.pdf-front')?.remove();
          const front = document.createElement('div');
          front.className = 'pdf-front';
          front.innerHTML = markup;
          const main = document.querySelector('main article, main');
          main.prepend(front);
        }""",
        markup,
    )


def print_pdf(page, path: Path, title: str, version: str) -> None:
    page.pdf(
        path=str(path),
        format="A4",
        margin=MARGINS,
        print_background=True,
        display_header_footer=True,
        header_template=HEADER.format(title=html.escape(title), version=version),
        footer_template=FOOTER,
        outline=True,
        tagged=True,
    )


def finish(pdf: Path, contents: list[dict], pages: dict[str, int]) -> None:
    """The PDF's bookmarks made from the contents' own titles, a page of the book and its
    sections (Chromium's repeat the hidden copies of a heading's words and drop its math),
    shown when the PDF opens; and its metadata."""
    from pypdf import PdfWriter

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    version, day = edition.edition()
    writer = PdfWriter(clone_from=str(pdf))
    writer.root_object.pop("/Outlines", None)
    chapter = None
    for entry in contents:
        page = pages[entry["id"]] - 1
        if entry["level"] == 1:
            chapter = writer.add_outline_item(entry["text"], page)
        else:
            writer.add_outline_item(entry["text"], page, parent=chapter)
    writer.page_mode = "/UseOutlines"
    licence, _ = edition.TEXT_LICENCE
    writer.add_metadata(
        {
            "/Title": config["title"],
            "/Author": config["author"],
            "/Subject": f"version {version}, {edition.in_words(day)}",
            "/Keywords": "vision-language models, transformers, attention, CLIP, LLaVA",
            "/Rights": f"Text and figures: {licence}. Code: {edition.CODE_LICENCE}.",
        }
    )
    with open(pdf, "wb") as f:
        writer.write(f)


def build(singlehtml: Path, out: Path) -> dict:
    from playwright.sync_api import sync_playwright

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    version, _ = edition.edition()
    root = yaml.safe_load((ROOT / "_toc.yml").read_text())["root"]
    url = f"{serve(singlehtml)}/{root}.html"  # the single page, under the book's first page's name
    start = time.perf_counter()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        headings = prepare(page, url)
        contents = [h for h in headings if h["level"]]
        with tempfile.TemporaryDirectory() as tmp:
            first = Path(tmp) / "first.pdf"
            set_front_matter(page, front_matter(contents, None))
            print_pdf(page, first, config["title"], version)
            marks = [page_number for _, page_number in outline(first)]
        if len(marks) != len(headings):
            raise SystemExit(
                f"the PDF's bookmarks ({len(marks)}) are not the page's headings "
                f"({len(headings)}): a heading is shown in one and not the other"
            )
        pages = {h["id"]: mark for h, mark in zip(headings, marks) if h["level"]}
        set_front_matter(page, front_matter(contents, pages))
        out.parent.mkdir(parents=True, exist_ok=True)
        print_pdf(page, out, config["title"], version)
        browser.close()
    if [page_number for _, page_number in outline(out)] != marks:
        raise SystemExit("the contents moved the pages they list: print again")
    finish(out, contents, pages)
    return {"headings": len(contents), "seconds": time.perf_counter() - start}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("singlehtml", type=Path, help="the single-page build's folder")
    parser.add_argument("pdf", type=Path, help="the PDF to write")
    args = parser.parse_args(argv)
    if not (args.singlehtml / "index.html").exists():
        raise SystemExit(f"{args.singlehtml} has no index.html: build the single page first")
    done = build(args.singlehtml, args.pdf)
    size = args.pdf.stat().st_size / 2**20
    print(
        f"{args.pdf}: {done['headings']} headings in its contents, {size:.1f} MiB, "
        f"printed in {done['seconds']:.0f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
