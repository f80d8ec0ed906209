"""The book as one PDF: Chromium prints the book's single-page build.

    python _ext/pdf.py _build/pdf/_build/singlehtml _build/pdf/vlm-foundations.pdf

`make pdf` builds the single page first (`jupyter-book build --builder singlehtml`, with the
chapters' outputs from the execution cache that `make book` fills) and then runs this. The
PDF is the book as its pages show it, with its figures and outputs, its equations typeset
by MathJax, numbered as on the pages, and its bibliography, and:

- a title page with the book's title, its version and date, its licences and its address,
  and on its back the colophon: the licences in words, how to cite the book, where its
  errata are, how the PDF was made;
- a table of contents in the book's parts, with the page of every chapter and section,
  each a link; the PDF's bookmarks are the same, parts, chapters and sections;
- every page of the book from a new page, figures, tables and short code cells never
  split across two pages; a line of code too long for the page wraps under a mark;
- the solutions open; left out, what only a screen can use: the navigation, the buttons,
  the search, the set-up cell that installs the package on Colab, the progress bars;
- from the contents on, the page number in every page's footer, the book's title and
  version in its header (CSS page margin boxes).

Chromium prints twice: the first print's bookmarks (read back with poppler's pdftohtml)
give the page each heading lands on, and the second prints the contents with them.
"""

from __future__ import annotations

import argparse
import html
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import edition  # noqa: E402  (_ext/edition.py: the version, its date, the licences)
import local_web  # noqa: E402  (_ext/local_web.py: Chromium, a local web server)

ROOT = Path(__file__).resolve().parents[1]
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
    # empty, but boxes on a page of their own before the title page's named page
    "#pst-scroll-pixel-helper",
    ".pst-async-banner-revealer",
]
PRINT_CSS = """
html, body { background: white !important; }
body { font-size: 10.5pt; }
.bd-main .bd-content .bd-article-container { max-width: none; padding: 0; }
.bd-page-width { max-width: none; }
%(hidden)s { display: none !important; }
/* a new page for every page of the book, from the marker that the single-page build puts
   before it (left inline, before the break, the marker made a page of its own, blank, when
   the page before was full), and for the contents */
span[id^="document-"] { display: block; break-before: page; }
.pdf-contents, .pdf-book { break-before: page; }
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
/* an output too long to move whole to the next page without leaving a page nearly empty is
   split (LINES marks it), and a cell's code stays with the start of its output */
.cell_output.pdf-split { break-inside: auto; }
div.cell_input { break-after: avoid; }
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
.pdf-colophon { break-before: page; padding-top: 80%%; font-size: 9pt; }
.pdf-colophon p { margin: 0.5em 0; }
/* an address broken at one of its hyphens misreads: addresses shown as text are kept whole */
a.pdf-address, .pdf-front a { white-space: nowrap; }
/* the instructors' tables: the mistakes the checkers name get the room */
.assignment-overview table { width: 100%%; table-layout: fixed; }
.assignment-overview th:nth-child(1) { width: 30%%; }
.assignment-overview th:nth-child(2) { width: 19%%; }
.assignment-overview th:nth-child(3), .assignment-overview th:nth-child(4) { width: 8%%; }
.pdf-title .book { font-size: 30pt; font-weight: 600; margin-bottom: 0.3em; }
.pdf-title .subtitle { font-size: 14pt; margin-bottom: 3em; text-wrap: balance; }
.pdf-title p { margin: 0.4em 0; }
.pdf-contents .h1like { font-size: 20pt; font-weight: 600; margin-bottom: 0.6em; }
.pdf-contents ol { list-style: none; padding-left: 0; }
.pdf-contents li { display: flex; gap: 0.5em; margin: 0.15em 0; }
.pdf-contents li .leader { flex: 1; border-bottom: 1px dotted #888; margin-bottom: 0.3em; }
.pdf-contents li.level-1 { font-weight: 600; margin-top: 0.6em; }
.pdf-contents li.part { display: block; font-style: italic; font-size: 12pt; color: #444;
                        margin-top: 1.2em; border-bottom: 1px solid #ccc; }
.pdf-contents li.level-2 { padding-left: 1.5em; }
.pdf-contents .page { font-variant-numeric: tabular-nums; min-width: 2em; text-align: right; }
"""
# the running header and the page number, in the page's margin boxes; the title page and the
# colophon (the named page `front`) have neither
PAGE_CSS = """
@page {
  size: A4; margin: 20mm 18mm;
  @top-left { content: "%(title)s"; font: 7pt sans-serif; color: #555; }
  @top-right { content: "version %(version)s"; font: 7pt sans-serif; color: #555; }
  @bottom-center { content: counter(page); font: 8pt sans-serif; color: #333; }
}
@page front {
  @top-left { content: none; } @top-right { content: none; } @bottom-center { content: none; }
}
.pdf-title, .pdf-colophon { page: front; }
"""
# a line of code too long for the page wraps, its continuation indented under a mark in the
# margin of the block: each line of a <pre> becomes a block of its own (LINES), whose rows
# after the first show the mark, from one picture of a column of marks below an empty row.
# Only lines long enough to wrap carry it: longer than LONG characters, well under the 96
# that every code block holds in print (measured at the page's 658-pixel width).
LONG = 60
SPLIT = 8  # an output of more lines may be split across pages
MARK_ROWS = 40  # the rows of one line that can show the mark; a longer line shows 40


def continuation_marks() -> str:
    """A data: URL of the picture behind a long line: the mark ↪ on every row but the first,
    in DejaVu Sans (matplotlib's own copy). Drawn as a PNG it adds little to the PDF; the
    same marks as SVG nearly doubled the PDF's size."""
    import base64
    import io

    import matplotlib
    from PIL import Image, ImageDraw, ImageFont

    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    side = 40  # pixels of one row of the picture
    picture = Image.new("LA", (side, side * MARK_ROWS), (0, 0))
    draw = ImageDraw.Draw(picture)
    mark = ImageFont.truetype(str(font), 30)
    for row in range(1, MARK_ROWS):
        draw.text((4, row * side), "\u21aa", font=mark, fill=(136, 255))
    png = io.BytesIO()
    picture.save(png, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()


def code_css() -> str:
    return f"""
main pre {{ background: #f6f8fa !important; }}
main div.highlight {{ background: #f6f8fa !important; }}
.pdf-line {{ display: block; padding-left: 1.6em; text-indent: -1.6em; min-height: 1lh; }}
.pdf-line.pdf-long {{
  background: url("{continuation_marks()}") 0.2em 0 / 1.2em {MARK_ROWS}lh no-repeat;
}}
"""


# outputs that are only progress bars (tqdm's: how far a run got, at what speed, on the
# machine that built the book) are left out of print
PROGRESS = r"""() => {
  const bar = /\d+%\|[^|\n]*\|\s*\d+\/\d+\s*\[/;
  for (const output of document.querySelectorAll('main .cell_output .output')) {
    // the text of its <pre>: the output also holds its copy button's label
    const text = [...output.querySelectorAll('pre')].map(pre => pre.textContent).join('\n');
    const lines = text.split('\n').filter(line => line.trim());
    if (lines.length && lines.every(line => bar.test(line))) {
      output.style.display = 'none';
    }
  }
}"""
LINES = r"""([long, split]) => {
  // each line of every <pre> in its own block, its highlighting kept (Pygments' spans hold
  // text only, and a span that holds a line break, a string over lines, is cut in two)
  for (const pre of document.querySelectorAll('main pre')) {
    const lines = [[]];
    for (const node of [...pre.childNodes]) {
      node.textContent.split('\n').forEach((part, n) => {
        if (n > 0) lines.push([]);
        if (!part) return;
        const piece = node.cloneNode(false);
        piece.textContent = part;
        lines.at(-1).push(piece);
      });
    }
    if (lines.length > 1 && !lines.at(-1).length) lines.pop();
    const output = pre.closest('.cell_output');
    if (output && lines.length > split) output.classList.add('pdf-split');
    pre.replaceChildren(...lines.map(pieces => {
      const line = document.createElement('span');
      line.className = 'pdf-line';
      line.append(...pieces);
      if (line.textContent.length > long) line.classList.add('pdf-long');
      return line;
    }));
  }
}"""
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


def in_parts(contents: list[dict]) -> None:
    """Give each page of the book in `contents` its file and its part (_toc.yml's caption,
    None for the first page): the pages of the book are the contents' level-1 entries, in
    the order of the table of contents."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [(toc["root"], None)]
    files += [(c["file"], part["caption"]) for part in toc["parts"] for c in part["chapters"]]
    pages = [entry for entry in contents if entry["level"] == 1]
    if len(pages) != len(files):
        raise SystemExit(
            f"the single page shows {len(pages)} pages of the book, _toc.yml lists {len(files)}"
        )
    part = None
    for entry in contents:
        if entry["level"] == 1:
            entry["file"], part = files[pages.index(entry)]
        entry["part"] = part


def colophon(chromium: str) -> str:
    """The colophon, the back of the title page: the edition, the licences, the citation,
    the sources of others' material, and how the PDF was made."""
    from importlib.metadata import version as installed

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    version, day = edition.edition()
    repository = config["repository"]["url"].rstrip("/")
    baseurl = config["html"]["baseurl"].rstrip("/")
    licence, licence_url = edition.TEXT_LICENCE
    paragraphs = [
        f"{html.escape(config['title'])}: an executable course book on the foundations of "
        f"vision-language models. Version {version}, {edition.in_words(day)}. "
        f"© {config['copyright']} {html.escape(config['author'])}.",
        f"The text and the figures are licensed under {licence} "
        f'(<a href="{licence_url}">{licence_url}</a>): they may be copied, adapted and shared, '
        "also commercially, with credit to the book and adaptations under the same licence. "
        f"The code is licensed under the {edition.CODE_LICENCE} licence "
        f'(<a href="{repository}/blob/main/LICENSE">{repository}/blob/main/LICENSE</a>). '
        "The photograph of Grace Hopper is a US Navy photograph in the public domain; the "
        "handwritten digits are the UCI repository's Optical Recognition of Handwritten "
        "Digits (Alpaydin and Kaynak, 1998).",
        f"To cite: {html.escape(config['author'])}, <i>{html.escape(config['title'])}</i>, "
        f"version {version}, {edition.in_words(day)}, "
        f'<a href="{baseurl}/">{baseurl}/</a>.',
        "Corrections are listed, version by version, on the errata page at the end of the "
        f'book and at <a href="{baseurl}/errata.html">{baseurl}/errata.html</a>.',
        "The numbers in the text were computed by the code beside them when the book was "
        "built, or are cited, and the figures were drawn by that code. This PDF prints that "
        "build: Jupyter Book "
        f"{installed('jupyter-book')} made it one page, MathJax typeset its equations, and "
        f"Chromium {html.escape(chromium)} printed it.",
    ]
    return "\n".join(f"<p>{p}</p>" for p in paragraphs)


def front_matter(contents: list[dict], pages: dict[str, int] | None, back: str = "") -> str:
    """The title page, its back (the colophon, `back`) and the table of contents, as HTML;
    pages: heading id -> page."""
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
    rows, part = [], None
    for entry in contents:
        if entry.get("part") != part:
            part = entry["part"]
            rows.append(f'<li class="part">{html.escape(part)}</li>')
        page = "000" if pages is None else str(pages[entry["id"]])
        rows.append(
            f'<li class="level-{entry["level"]}"><a href="#{entry["id"]}">{entry["html"]}</a>'
            f'<span class="leader"></span><span class="page">{page}</span></li>'
        )
    return "\n".join(
        [
            *title,
            f'<div class="pdf-colophon">{back}</div>',
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


def prepare(page, url: str, title: str, version: str) -> list[dict]:
    """Open the single page, typeset, laid out for print; the headings of its contents."""
    page.goto(url, wait_until="load")
    page.wait_for_function(
        "() => !window.MathJax || (window.MathJax.startup && window.MathJax.startup.promise)",
        timeout=60000,
    )
    page.evaluate("() => window.MathJax ? window.MathJax.startup.promise : null")
    page.emulate_media(media="print")
    page.add_style_tag(content=PRINT_CSS % {"hidden": ", ".join(SCREEN_ONLY)})
    quoted = {
        k: v.replace("\\", "\\\\").replace('"', '\\"')
        for k, v in {"title": title, "version": version}.items()
    }
    page.add_style_tag(content=PAGE_CSS % quoted)
    page.add_style_tag(content=code_css())
    page.evaluate(PROGRESS)
    page.evaluate(LINES, [LONG, SPLIT])
    page.evaluate(
        "() => document.querySelectorAll('a[href^=\"http\"]').forEach(a =>"
        " a.textContent.trim().startsWith('http') && a.classList.add('pdf-address'))"
    )
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


def print_pdf(page, path: Path) -> None:
    page.pdf(
        path=str(path),
        format="A4",
        print_background=True,
        prefer_css_page_size=True,  # PAGE_CSS: the margins, the header and the page number
        outline=True,
        tagged=True,
    )


def finish(pdf: Path, contents: list[dict], pages: dict[str, int]) -> None:
    """The PDF's bookmarks made from the contents' own titles: the parts, each page of the
    book in its part, and its sections (Chromium's repeat the hidden copies of a heading's
    words and drop its math), shown when the PDF opens; and its metadata."""
    from pypdf import PdfWriter

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    version, day = edition.edition()
    writer = PdfWriter(clone_from=str(pdf))
    writer.root_object.pop("/Outlines", None)
    part = part_mark = chapter = None
    for entry in contents:
        page = pages[entry["id"]] - 1
        if entry["level"] == 1:
            if entry["part"] != part:  # a part: its first page's page
                part = entry["part"]
                part_mark = writer.add_outline_item(title=part, page_number=page) if part else None
            chapter = writer.add_outline_item(
                title=entry["text"], page_number=page, parent=part_mark
            )
        else:
            writer.add_outline_item(title=entry["text"], page_number=page, parent=chapter)
    writer.page_mode = "/UseOutlines"
    # Chromium's own bookmarks, replaced above, would stay in the file unreferenced
    writer.compress_identical_objects(remove_duplicates=False, remove_unreferenced=True)
    licence, _ = edition.TEXT_LICENCE
    writer.add_metadata(
        {
            "/Title": config["title"],
            "/Author": config["author"],
            "/Subject": f"version {version}, {edition.in_words(day)}",
            "/Keywords": "vision-language models, transformers, attention, CLIP, LLaVA",
            "/Rights": f"Text and figures: {licence}. Code: {edition.CODE_LICENCE}.",
            "/Creator": "Jupyter Book (single-page build), printed by Chromium",
        }
    )
    with open(pdf, "wb") as f:
        writer.write(f)


def build(singlehtml: Path, out: Path) -> dict:
    from playwright.sync_api import sync_playwright

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    version, _ = edition.edition()
    root = yaml.safe_load((ROOT / "_toc.yml").read_text())["root"]
    try:
        chromium = local_web.chromium_path()
    except FileNotFoundError as missing:
        raise SystemExit(str(missing)) from None
    start = time.perf_counter()
    with local_web.serve(singlehtml) as site, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        # the single page, under the book's first page's name
        headings = prepare(page, f"{site}/{root}.html", config["title"], version)
        contents = [h for h in headings if h["level"]]
        in_parts(contents)
        with tempfile.TemporaryDirectory() as tmp:
            first = Path(tmp) / "first.pdf"
            set_front_matter(page, front_matter(contents, None, colophon(browser.version)))
            print_pdf(page, first)
            marks = [page_number for _, page_number in outline(first)]
        if len(marks) != len(headings):
            raise SystemExit(
                f"the PDF's bookmarks ({len(marks)}) are not the page's headings "
                f"({len(headings)}): a heading is shown in one and not the other"
            )
        pages = {h["id"]: mark for h, mark in zip(headings, marks) if h["level"]}
        set_front_matter(page, front_matter(contents, pages, colophon(browser.version)))
        out.parent.mkdir(parents=True, exist_ok=True)
        print_pdf(page, out)
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
