"""The chapters' notebooks, generated from their MyST Markdown for Colab and Jupyter.

`chapters/<name>.md` is the one source of a chapter. Its notebook `chapters/<name>.ipynb` is
what the launch buttons open, what nbval re-executes, and what the Colab-like test runs:
the chapter's code cells, executed, and its Markdown translated out of MyST, which a plain
Jupyter front end cannot read:

- a glued value becomes the number the book's own run computed, marked as such (a dotted
  underline whose tooltip says so); the cells print the reader's own run below;
- a citation becomes "(Liu et al., 2023)", linked to the book's references page online,
  and each notebook ends with the list of the works it cites;
- a cross-reference becomes a link to the book's page online;
- an exercise becomes a numbered heading with its text; its solution a closed `<details>`
  block (prose and code), and the solution's code cell stays, to run, with its source
  collapsed; the students' notebooks (`--students`) have no solution at all;
- an admonition becomes a block quote under its title; math and figures stay as they are.

    python _ext/notebooks.py --execute chapters/llava.md   # execute, then translate
    python _ext/notebooks.py chapters/llava.md             # translate the prose only
    python _ext/notebooks.py --students DIR chapters/*.md  # students' notebooks into DIR

Translating the prose only keeps the committed notebook's outputs, and refuses when the
chapter's code has changed since they were computed. Either way, the chapter's first cell,
which installs the package where it is missing (Colab), is pointed at the repository that
_config.yml names, in the Markdown and in the notebook: set the address there and run
`make prose`. Anything MyST that this module does
not know stops it with an error, so that no raw syntax reaches a notebook unnoticed.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import jupytext
import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bibliography  # noqa: E402  (_ext/bibliography.py: the author-year labels)
import edition  # noqa: E402  (_ext/edition.py: the version, the ref its install takes)

ROOT = Path(__file__).resolve().parents[1]

GLUE_TITLE = "the book's run"
GLUE_NOTE = (
    "Numbers in the text with a dotted underline are those of the book's own run; "
    "the cells print this run's, which can differ in the last digits from machine to "
    "machine, and by more after training."
)
SOLUTION_TAG = "solution"  # the tag of a solution's code cell in the generated notebook

ROLE = re.compile(r"\{([a-z][a-z:-]*)\}`([^`]*)`")
FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[a-z][a-z-]*)\}\s*(?P<argument>.*)$")
CODE_FENCE = re.compile(r"^(`{3,}|~{3,})")
TARGET = re.compile(r"^\(([\w.:-]+)\)=\s*$")
ADMONITIONS = {
    "note",
    "tip",
    "hint",
    "important",
    "warning",
    "caution",
    "attention",
    "danger",
    "error",
    "seealso",
}


class MystError(ValueError):
    """MyST syntax the translation does not know: it would reach the notebook raw."""


# ---------------------------------------------------------------------------------------
# The book: its address, its chapters and their numbers, its bibliography
# ---------------------------------------------------------------------------------------


@lru_cache
def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def base_url() -> str:
    url = config().get("html", {}).get("baseurl", "")
    if not url.startswith("https://"):
        raise ValueError(
            f"_config.yml's html.baseurl must be the book's https address, got {url!r}"
        )
    return url.rstrip("/") + "/"


def repository() -> str:
    """The repository's address: _config.yml's repository.url, the one place it is set."""
    url = config().get("repository", {}).get("url", "")
    if not url.startswith("https://"):
        raise ValueError(
            f"_config.yml's repository.url must be the repository's https address, got {url!r}"
        )
    return url.rstrip("/")


# the package as the first cell of every chapter installs it, from the repository's code/ at
# a git ref: "minivlm[book] @ git+<url>@<ref>" then "#subdirectory=code"
INSTALL = re.compile(r'"minivlm\[book\] @ git\+(?P<url>[^"#@]+)(?:@(?P<ref>[^"#@]+))?"')


def install_ref() -> str:
    """This version's tag, or the branch while the version is in development."""
    branch = config().get("repository", {}).get("branch", "main")
    return edition.install_ref(edition.edition()[0], branch)


def follow_repository(source: str) -> str:
    """`source`, a chapter's Markdown or a cell, with the package installed from the
    repository that _config.yml names, at this version's tag (`install_ref`)."""
    return INSTALL.sub(f'"minivlm[book] @ git+{repository()}@{install_ref()}"', source)


@lru_cache
def chapters() -> dict[str, int | None]:
    """Every page of the table of contents (path without suffix) -> its chapter number, as
    Jupyter Book numbers them: on through the numbered parts, None outside them."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbers, n = {toc["root"]: None}, 0
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            n += bool(part.get("numbered"))
            numbers[chapter["file"]] = n if part.get("numbered") else None
    return numbers


def page_title(page: str) -> str:
    source = (ROOT / page).with_suffix(".md").read_text()
    match = re.search(r"^# (.+)$", source, re.M)
    if not match:
        raise MystError(f"{page}.md has no '# title' line")
    return match.group(1).strip()


def authors_label(key: str) -> tuple[str, str]:
    """(authors, year) as the book's author-year citations write them."""
    if key not in bibliography.labels():
        raise MystError(f"citation key {key!r} is not in references.bib")
    return bibliography.labels()[key]


def reference_url(key: str) -> str:
    from docutils.nodes import make_id  # the anchor bibtex_cite_id "{key}" gives each entry

    return f"{base_url()}references.html#{make_id(key)}"


def reference_entry(key: str) -> str:
    """One entry of a notebook's reference list, formatted as the book's bibliography."""
    from pybtex.plugin import find_plugin

    style = find_plugin(
        "pybtex.style.formatting", config()["sphinx"]["config"].get("bibtex_default_style", "plain")
    )()
    formatted = next(iter(style.format_entries([bibliography.database().entries[key]])))
    who, year = authors_label(key)
    text = " ".join(formatted.text.render_as("markdown").split())
    return f"- [{who} ({year})]({reference_url(key)}). {text}"


# ---------------------------------------------------------------------------------------
# Inline roles
# ---------------------------------------------------------------------------------------


@dataclass
class Page:
    """What the translation of one chapter needs and collects."""

    path: str  # "chapters/llava", as in _toc.yml
    glue: dict[str, str]  # glued name -> its text/plain in the book's run
    students: bool = False
    cited: list[str] = field(default_factory=list)
    exercises: dict[str, str] = field(default_factory=dict)  # label -> "Exercise 5.1"
    counts: dict[str, int] = field(default_factory=dict)  # what was translated

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    @property
    def number(self) -> int | None:
        return chapters().get(self.path)

    def url(self, page: str) -> str:
        return f"{base_url()}{page}.html"


def split_target(text: str) -> tuple[str | None, str]:
    """`title <target>` -> (title, target); `target` -> (None, target)."""
    match = re.fullmatch(r"(.*?)\s*<([^<>]+)>", text.strip(), re.S)
    return (match.group(1), match.group(2)) if match else (None, text.strip())


def glue_text(page: Page, content: str) -> str:
    from myst_nb.core.variables import format_plain_text  # myst-nb's own formatting

    name, _, spec = content.partition(":")
    if name not in page.glue:
        raise MystError(f"{page.path}: {{glue:text}}`{content}` names no glued value of the run")
    text = format_plain_text(page.glue[name], spec)
    return f'<abbr title="{GLUE_TITLE}">{text}</abbr>'


def cite(page: Page, role: str, content: str) -> str:
    keys = [k.strip() for k in content.split(",") if k.strip()]
    page.cited.extend(k for k in keys if k not in page.cited)
    labels = [authors_label(k) for k in keys]
    if role in ("cite", "cite:p"):
        inner = "; ".join(
            f"[{who}, {year}]({reference_url(k)})" for k, (who, year) in zip(keys, labels)
        )
        return f"({inner})"
    if role == "cite:t":
        return ", ".join(
            f"[{who} ({year})]({reference_url(k)})" for k, (who, year) in zip(keys, labels)
        )
    raise MystError(f"{page.path}: the citation role {{{role}}} is not translated")


def doc(page: Page, content: str) -> str:
    title, target = split_target(content)
    here = Path(page.path).parent
    linked = target.lstrip("/") if target.startswith("/") else os.path.normpath(here / target)
    if linked not in chapters():
        raise MystError(f"{page.path}: {{doc}}`{content}` names no page of _toc.yml")
    return f"[{title or page_title(linked)}]({page.url(linked)})"


@lru_cache
def exercise_labels() -> dict[str, tuple[str, str]]:
    """label -> (page, "Exercise 5.1") for every labelled exercise of the book."""
    labels = {}
    for page, number in chapters().items():
        source = (ROOT / page).with_suffix(".md").read_text()
        exercises = re.findall(r"^(`{3,})\{exercise\}.*\n((?::[\w-]+:.*\n)*)", source, re.M)
        for n, (_, options) in enumerate(exercises, start=1):
            label = re.search(r"^:label:\s*(\S+)", options, re.M)
            if label:
                labels[label.group(1)] = (
                    page,
                    f"Exercise {number}.{n}" if number else f"Exercise {n}",
                )
    return labels


def ref(page: Page, role: str, content: str) -> str:
    """A reference to a labelled exercise: a link to it on the book's page online (its
    anchor there is its label)."""
    title, label = split_target(content)
    if label not in exercise_labels():
        raise MystError(f"{page.path}: {{{role}}}`{content}` names no label the book defines")
    target, name = exercise_labels()[label]
    return f"[{title or name}]({page.url(target)}#{label})"


def roles(page: Page, text: str) -> str:
    """Every inline role of a line of prose, translated."""

    def translate(match: re.Match) -> str:
        role, content = match.group(1), match.group(2)
        page.count(role)
        if role == "glue:text":
            return glue_text(page, content)
        if role.startswith("cite"):
            return cite(page, role, content)
        if role == "doc":
            return doc(page, content)
        if role in ("ref", "numref"):
            return ref(page, role, content)
        if role == "math":
            return f"${content}$"
        raise MystError(f"{page.path}: the role {{{role}}} is not translated")

    out, position = [], 0
    for match in ROLE.finditer(text):
        out.append(text[position : match.start()])
        out.append(translate(match))
        position = match.end()
    out.append(text[position:])
    return "".join(out)


# ---------------------------------------------------------------------------------------
# Block structure: directives, exercises and solutions, across cells
# ---------------------------------------------------------------------------------------


@dataclass
class Directive:
    name: str
    argument: str
    options: dict[str, str]
    body: list[str]


def read_directive(lines: list[str], start: int) -> tuple[Directive, int]:
    """The directive opening at lines[start]; returns it and the index after its fence."""
    match = FENCE.match(lines[start])
    fence = match.group("fence")
    end = start + 1
    while end < len(lines) and lines[end].rstrip() != fence:
        end += 1
    if end == len(lines):
        raise MystError(f"the directive {{{match.group('name')}}} is never closed")
    body = lines[start + 1 : end]
    options = {}
    while body and re.match(r"^:[\w-]+:", body[0]):
        key, _, value = body.pop(0)[1:].partition(":")
        options[key] = value.strip()
    return Directive(match.group("name"), match.group("argument").strip(), options, body), end + 1


def tidy(lines: list[str]) -> str:
    """Markdown without runs of blank lines, except inside fenced code."""
    out, fence = [], None
    for line in lines:
        code = CODE_FENCE.match(line.strip())
        if fence is None and code:
            fence = code.group(1)
        elif fence is not None and line.strip() == fence:
            fence = None
        if fence is None and not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line)
    return "\n".join(out).strip()


def quote(lines: list[str]) -> list[str]:
    return [f"> {line}".rstrip() for line in lines]


class Translator:
    """Walks a chapter's cells once, in order, and writes the notebook's cells."""

    def __init__(self, page: Page):
        self.page = page
        self.cells: list[dict] = []
        self.markdown: list[str] = []  # the Markdown cell being written
        self.solution: list[str] | None = None  # the open solution's <details> body
        self.solution_code: list[dict] = []
        self.solution_label = ""
        self.n_exercises = 0

    # the cells written ---------------------------------------------------------------
    def flush(self) -> None:
        text = tidy(self.markdown)
        if text:
            self.cells.append(nbformat.v4.new_markdown_cell(text))
        self.markdown = []

    def emit(self, lines: list[str]) -> None:
        (self.solution if self.solution is not None else self.markdown).extend(lines)

    # prose -----------------------------------------------------------------------------
    def prose(self, lines: list[str]) -> list[str]:
        """Translated lines of Markdown without directives (an admonition's body, say)."""
        saved, self.markdown, solution = self.markdown, [], self.solution
        self.solution = None
        self.markdown_lines(lines)
        out, self.markdown, self.solution = self.markdown, saved, solution
        return out

    def markdown_lines(self, lines: list[str]) -> None:
        n, in_code = 0, None
        while n < len(lines):
            line = lines[n]
            if in_code:  # a fenced code block: verbatim
                self.emit([line])
                if line.strip() == in_code:
                    in_code = None
                n += 1
                continue
            if FENCE.match(line):
                directive, n = read_directive(lines, n)
                self.directive(directive)
                continue
            code = CODE_FENCE.match(line)
            if code:
                in_code = code.group(1)
                self.emit([line])
                n += 1
                continue
            if TARGET.match(line):
                raise MystError(f"{self.page.path}: the target {line.strip()} is not translated")
            if line.strip() == "+++":
                n += 1
                continue
            self.emit([roles(self.page, line)])
            n += 1

    def directive(self, d: Directive) -> None:
        page = self.page
        page.count(d.name)
        if d.name == "admonition" or d.name in ADMONITIONS:
            title = d.argument if d.name == "admonition" else d.name.capitalize()
            self.emit(quote([f"**{roles(page, title)}**", ""] + self.prose(d.body)) + [""])
        elif d.name == "exercise":
            self.n_exercises += 1
            number = f"{page.number}.{self.n_exercises}" if page.number else str(self.n_exercises)
            label = d.options.get("label", "")
            if label:
                page.exercises[label] = f"Exercise {number}"
            title = f": {roles(page, d.argument)}" if d.argument else ""
            self.emit([f"### Exercise {number}{title}", ""] + self.prose(d.body) + [""])
        elif d.name == "solution-start":
            if self.solution is not None:
                raise MystError(f"{page.path}: a solution opens inside another")
            self.solution_label = page.exercises.get(d.argument, d.argument)
            self.solution, self.solution_code = [], []
            if d.body:
                self.solution.extend(self.prose(d.body))
        elif d.name == "solution-end":
            if self.solution is None:
                raise MystError(f"{page.path}: solution-end without solution-start")
            self.close_solution()
        elif d.name == "solution":
            self.solution_label = page.exercises.get(d.argument, d.argument)
            self.solution, self.solution_code = [], []
            self.solution.extend(self.prose(d.body))
            self.close_solution()
        else:
            raise MystError(f"{page.path}: the directive {{{d.name}}} is not translated")

    def close_solution(self) -> None:
        body, code = self.solution, self.solution_code
        self.solution = None
        if not self.page.students:
            summary = f"Solution to {self.solution_label}"
            self.markdown.extend(
                [
                    "<details>",
                    f"<summary><b>{summary}</b></summary>",
                    "",
                    *body,
                    "",
                    "</details>",
                    "",
                ]
            )
            if code:
                self.markdown.extend(["The next cell, collapsed, runs the solution's code.", ""])
        self.flush()
        if not self.page.students:
            self.cells.extend(code)

    # cells -----------------------------------------------------------------------------
    def code_cell(self, cell: dict) -> None:
        if self.solution is None:
            self.flush()
            self.cells.append(cell)
            return
        # a solution's code: shown inside <details>, and kept as a collapsed cell to run
        self.solution.extend(["```python", *cell.source.rstrip("\n").split("\n"), "```", ""])
        cell = copy.deepcopy(cell)
        cell.metadata.setdefault("tags", [])
        if SOLUTION_TAG not in cell.metadata.tags:
            cell.metadata.tags.append(SOLUTION_TAG)
        cell.metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
        cell.metadata["cellView"] = "form"  # Colab: the source collapsed under its title
        cell.source = f"# @title {self.solution_label}: the solution's code\n{cell.source}"
        self.solution_code.append(cell)

    def markdown_cell(self, cell: dict) -> None:
        self.markdown_lines(cell.source.split("\n"))
        if self.solution is None:
            self.flush()


# ---------------------------------------------------------------------------------------
# The notebook
# ---------------------------------------------------------------------------------------


def glued_values(notebook) -> dict[str, str]:
    """Every value a cell glued in this executed notebook: name -> text/plain."""
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            scrapbook = output.get("metadata", {}).get("scrapbook")
            if scrapbook:
                prefix = scrapbook.get("mime_prefix", "")
                values[scrapbook["name"]] = output["data"][prefix + "text/plain"]
    return values


def code_cells(notebook) -> list[tuple[str, list[str]]]:
    """The code of a notebook as the chapter has it: source (without the solution's
    title line) and tags (without the solution tag)."""
    out = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = cell.source
        if SOLUTION_TAG in cell.metadata.get("tags", []):
            source = source.split("\n", 1)[1]
        tags = [t for t in cell.metadata.get("tags", []) if t != SOLUTION_TAG]
        out.append((source.strip(), sorted(tags)))
    return out


def translate(md: Path, executed, students: bool = False) -> tuple[nbformat.NotebookNode, Page]:
    """The notebook of chapter `md`, from the outputs of `executed` (the chapter's cells,
    executed): Markdown translated out of MyST, code cells and outputs as executed."""
    md = Path(md).resolve()
    source = jupytext.read(md)
    for cell in executed.cells:  # the install cell as the Markdown's, which main() has set
        if cell.cell_type == "code":
            cell.source = follow_repository(cell.source)
    if code_cells(source) != code_cells(executed):
        raise ValueError(
            f"{md.name}'s code differs from the executed notebook's: execute it again "
            f"(make notebooks CHAPTERS=chapters/{md.name})"
        )
    # a page of the book is named as in _toc.yml; any other (a test's) as if it were in chapters/
    path = md.relative_to(ROOT) if md.is_relative_to(ROOT) else Path("chapters") / md.name
    page = Page(path.with_suffix("").as_posix(), glued_values(executed), students)
    translator = Translator(page)
    runs = iter(c for c in executed.cells if c.cell_type == "code")
    for cell in source.cells:
        if cell.cell_type == "markdown":
            translator.markdown_cell(cell)
        elif cell.cell_type == "code":
            run = copy.deepcopy(next(runs))
            run.metadata = copy.deepcopy(cell.metadata)
            run.source = cell.source
            translator.code_cell(run)
        else:
            raise MystError(f"{md.name}: a {cell.cell_type} cell is not translated")
    if translator.solution is not None:
        raise MystError(f"{md.name}: a solution is never closed")
    translator.flush()
    cells = translator.cells
    about(cells, page)
    if page.cited:
        cells.append(
            nbformat.v4.new_markdown_cell(
                "\n".join(
                    [
                        "## References",
                        "",
                        f"The works this chapter cites; every work the book cites is on "
                        f"its [references page]({base_url()}references.html).",
                        "",
                        *(reference_entry(k) for k in page.cited),
                    ]
                )
            )
        )
    notebook = nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "colab": {"provenance": [], "toc_visible": True},
        },
    )
    for n, cell in enumerate(notebook.cells):  # stable ids: a regenerated notebook diffs clean
        cell["id"] = f"{md.stem}-{n}"
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.metadata = {k: v for k, v in cell.metadata.items() if v or k == "tags"}
            if not cell.metadata.get("tags"):
                cell.metadata.pop("tags", None)
    nbformat.validate(notebook)
    return notebook, page


def about(cells: list, page: Page) -> None:
    """Under the title: where the chapter lives online, and what the marked numbers are."""
    first = cells[0]
    if first.cell_type != "markdown" or not first.source.startswith("# "):
        raise MystError(f"{page.path}: the first cell must start with the chapter's '# title'")
    title, _, rest = first.source.partition("\n")
    where = f"Chapter {page.number} of " if page.number else "A page of "
    note = [
        f"> {where}*{config()['title']}*: [read it online]({page.url(page.path)}), with its "
        f"figures and outputs as the book's build computed them."
    ]
    if page.glue:
        note += [">", f"> {GLUE_NOTE}"]
    if page.students:
        note += [
            ">",
            "> This is the students' edition: the exercises are here, their solutions are not.",
        ]
    first.source = "\n".join([title, "", *note, "", rest.lstrip("\n")]).rstrip("\n")


def execute(md: Path):
    """The chapter's cells, executed top to bottom in chapters/, as nbval and Colab run them."""
    from nbclient import NotebookClient

    notebook = jupytext.read(md)
    notebook.metadata.pop("jupytext", None)
    NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path(md).parent)}},
    ).execute()
    seconds = []  # what each cell took, from the timestamps nbclient records
    for n, cell in enumerate(notebook.cells):
        times = cell.metadata.get("execution", {})
        if "iopub.execute_input" in times and "shell.execute_reply" in times:
            start, end = (
                datetime.fromisoformat(times[k].replace("Z", "+00:00"))
                for k in ("iopub.execute_input", "shell.execute_reply")
            )
            seconds.append(((end - start).total_seconds(), n, cell.source.split("\n")[0][:60]))
    print(
        f"{Path(md).name}: {sum(t for t, _, _ in seconds):.1f} s in its cells; the slowest:",
        file=sys.stderr,
    )
    for t, n, first_line in sorted(seconds, reverse=True)[:12]:
        print(f"  {t:6.1f} s  cell {n:3}  {first_line}", file=sys.stderr)
    return notebook


def write(notebook, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="+", type=Path, help="chapters/<name>.md")
    parser.add_argument(
        "--execute",
        action="store_true",
        help="execute the chapter first (else reuse the committed outputs)",
    )
    parser.add_argument(
        "--students",
        type=Path,
        metavar="DIR",
        help="write the students' notebooks, without solutions, into DIR",
    )
    args = parser.parse_args(argv)
    for md in args.chapters:
        md = md.resolve()
        if md.suffix != ".md":
            raise SystemExit(f"expected a chapter's .md file, got {md}")
        ipynb = md.with_suffix(".ipynb")
        text = md.read_text()
        if follow_repository(text) != text and not args.students:
            md.write_text(follow_repository(text))
            print(f"{md.name}: installs the package from {repository()}", file=sys.stderr)
        executed = execute(md) if args.execute else nbformat.read(ipynb, as_version=4)
        if args.students:
            notebook, page = translate(md, executed, students=True)
            write(notebook, args.students / ipynb.name)
        else:
            notebook, page = translate(md, executed)
            write(notebook, ipynb)
        counts = ", ".join(f"{n} {k}" for k, n in sorted(page.counts.items()))
        print(f"{ipynb.name}: {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
