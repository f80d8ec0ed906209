"""The CI's guards, each shown to fail on the break it exists for.

A small book with this book's configuration is built strictly, as `make book` builds
this one: it must build when nothing is wrong, and fail on a cell that raises, on a broken
cross-reference and on a citation missing from the bibliography. nbval, with the book's
options (pytest.ini), must fail when an output the prose relies on changes, and the
Markdown-notebook comparison of test_notebooks.py must notice an edit on either side. (The
comparison of glued values, in the book's own execution, is shown to fail in
tests/test_book_execution.py.)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import jupytext
import nbformat
import pytest
from test_notebooks import notebooks

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
HEADER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""


def page(body: str) -> str:
    return HEADER + textwrap.dedent(body)


def build(tmp_path: Path, pages: dict[str, str]) -> subprocess.CompletedProcess:
    """Build a book of these pages with the book's _config.yml, extensions and bibliography,
    by the Makefile's strict command."""
    book = tmp_path / "book"
    book.mkdir()
    for name in ("_config.yml", "references.bib", "references.md"):
        shutil.copy(ROOT / name, book / name)
    for folder in ("_ext", "_static"):
        shutil.copytree(ROOT / folder, book / folder)
    # the edition that every page's footer gives (_ext/edition.py reads it from the package)
    (book / "code" / "minivlm").mkdir(parents=True)
    shutil.copy(ROOT / "code" / "minivlm" / "__init__.py", book / "code" / "minivlm")
    (book / "intro.md").write_text("# A small book\n\nSee {cite}`vaswani2017attention`.\n")
    chapters = "\n".join(f"  - file: {name}" for name in [*pages, "references"])
    (book / "_toc.yml").write_text(f"format: jb-book\nroot: intro\nchapters:\n{chapters}\n")
    for name, text in pages.items():
        (book / f"{name}.md").write_text(text)
    # from inside the small book: its execution cache (_build/.jupyter_cache) is its own
    return subprocess.run(
        [JUPYTER_BOOK, "build", "-W", "-n", "--keep-going", "."],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=book,
    )


GOOD = page("""
    # Fine

    A reference to {doc}`intro`, a citation {cite}`radford2021learning`, and a cell.

    ```{code-cell} ipython3
    print(1 + 1)
    ```
""")


def test_a_sound_book_builds(tmp_path):
    result = build(tmp_path, {"fine": GOOD})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_a_failing_cell_fails_the_build(tmp_path):
    broken = page("""
        # Broken

        ```{code-cell} ipython3
        raise ValueError("this cell fails")
        ```
    """)
    result = build(tmp_path, {"fine": GOOD, "broken": broken})
    assert result.returncode != 0
    assert "this cell fails" in result.stdout + result.stderr


def test_a_broken_reference_and_a_missing_citation_fail_the_build(tmp_path):
    dangling = page("""
        # Dangling

        A reference to {doc}`no-such-page` and a citation {cite}`nobody2099nothing`.
    """)
    result = build(tmp_path, {"fine": GOOD, "dangling": dangling})
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "no-such-page" in log
    assert "nobody2099nothing" in log


def tagged_notebook(path: Path, source: str, output) -> Path:
    """A notebook of one cell tagged nbval-check-output, with `output` as its saved output."""
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["nbval-check-output"]})
    cell.outputs = [output]
    cell.execution_count = 1
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def notebook_with_output(tmp_path: Path, stored: str) -> Path:
    """A notebook whose one tagged cell prints 0.25, with `stored` as its saved output."""
    output = nbformat.v4.new_output("stream", name="stdout", text=stored)
    return tagged_notebook(tmp_path / "numbers.ipynb", "print(1 / 4)", output)


def nbval(notebook: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-c",
            str(ROOT / "pytest.ini"),
            "--rootdir",
            str(notebook.parent),
            str(notebook),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_nbval_fails_when_an_output_the_prose_relies_on_changes(tmp_path):
    assert nbval(notebook_with_output(tmp_path, "0.25\n")).returncode == 0
    changed = nbval(notebook_with_output(tmp_path, "0.5\n"))
    assert changed.returncode != 0, changed.stdout[-2000:]
    assert "0.5" in changed.stdout and "0.25" in changed.stdout


def test_the_generated_notebook_notices_an_edit_on_either_side(tmp_path):
    md = tmp_path / "chapter.md"
    md.write_text(
        page("""
        # A chapter

        Some prose, {cite}`vaswani2017attention`.

        ```{code-cell} ipython3
        :tags: [nbval-check-output]

        print(2)
        ```
    """)
    )
    executed = jupytext.read(md)  # as if executed: the generator needs code cells only
    generated = lambda: notebooks.translate(md, executed)[0]  # noqa: E731
    cells = lambda nb: [(c.cell_type, c.source, c.metadata) for c in nb.cells]  # noqa: E731
    committed = generated()
    assert "Some prose, ([Vaswani et al., 2017](" in committed.cells[0].source
    original = md.read_text()
    md.write_text(original.replace("Some prose", "Other prose"))
    assert cells(generated()) != cells(committed), "a prose edit went unnoticed"
    for edit in (("print(2)", "print(3)"), (":tags: [nbval-check-output]\n", "")):
        md.write_text(original.replace(*edit))
        with pytest.raises(ValueError, match="execute it again"):
            generated()
    md.write_text(original)
    assert cells(generated()) == cells(committed)


@pytest.mark.parametrize(
    "myst",
    ["A {term}`word` role.", "```{figure} x.png\n```", "(a-target)=", "{glue:text}`not_glued`"],
)
def test_the_generator_refuses_myst_it_does_not_translate(tmp_path, myst):
    md = tmp_path / "chapter.md"
    md.write_text(page("# A chapter\n\n") + myst + "\n")
    with pytest.raises(notebooks.MystError):
        notebooks.translate(md, jupytext.read(md))
