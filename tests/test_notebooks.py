"""Every chapter's notebook is generated from its Markdown, executed, and reads in a plain
Jupyter front end (Colab, JupyterLab) as the chapter reads in the book."""

import re
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from myst_nb.core.variables import format_plain_text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
import notebooks  # noqa: E402  (_ext/notebooks.py, the generator)

CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))
# the package from the repository's code/, the repository as _config.yml names it
# at this version's tag (or the branch while the version is in development)
INSTALL_SOURCE = (
    f'"minivlm[book] @ git+{notebooks.repository()}@{notebooks.install_ref()}"\n'
    '        "#subdirectory=code"'
)

# MyST that a plain Jupyter front end shows raw: roles, directives, targets, options
MYST = [
    re.compile(r"\{[a-z][a-z:-]*\}`"),  # {cite}`key`, {glue:text}`name`
    re.compile(r"^\s*(`{3,}|:{3,})\{", re.M),  # ```{exercise}
    re.compile(r"^\s*\([\w.:-]+\)=\s*$", re.M),  # (label)=
    re.compile(r"^:(label|class|name|tags|nonumber):", re.M),
]
GLUE_ROLE = re.compile(r"\{glue:text\}`([^`]*)`")
EXERCISE = re.compile(r"^`{3,}\{exercise\}", re.M)


def committed(md: Path):
    return nbformat.read(md.with_suffix(".ipynb"), as_version=4)


def markdown(notebook) -> list[str]:
    return [c.source for c in notebook.cells if c.cell_type == "markdown"]


def myst_left(text: str) -> list[str]:
    return [m.group(0) for pattern in MYST for m in pattern.finditer(text)]


def number(md: Path) -> int:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] if part.get("numbered") for c in part["chapters"]]
    return files.index(f"chapters/{md.stem}") + 1


def test_there_are_chapters():
    assert len(CHAPTERS) >= 2


def test_the_syntax_check_finds_myst():
    text = "A {cite}`x` and\n```{exercise} Title\n:label: y\n```\n(target)=\n"
    assert len(myst_left(text)) == 4
    assert not myst_left("Plain $x^{2}$ and `code` and {braces} and ```python")


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_notebook_is_generated_from_its_chapter(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run `make notebooks` and commit it"
    notebook = committed(md)
    # raises when the chapter's code differs from the notebook's executed code
    expected, _ = notebooks.translate(md, notebook)
    as_cells = lambda nb: [(c.cell_type, c.source, c.metadata) for c in nb.cells]  # noqa: E731
    assert as_cells(notebook) == as_cells(expected), (
        f"{ipynb.name} is out of date with {md.name}: run `make prose` (prose changed) or "
        f"`make notebooks CHAPTERS=chapters/{md.name}` (code changed), and commit both"
    )
    assert notebook.metadata == expected.metadata


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_no_myst_syntax_left_in_the_notebook(md):
    left = [s for text in markdown(committed(md)) for s in myst_left(text)]
    assert not left, f"{md.stem}.ipynb shows MyST raw: {left[:5]}"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_every_glued_value_is_shown_as_the_books_number(md):
    notebook = committed(md)
    values = notebooks.glued_values(notebook)
    roles = GLUE_ROLE.findall(md.read_text())
    assert roles, f"{md.name} glues nothing"
    text = "\n".join(markdown(notebook))
    for role in roles:
        name, _, spec = role.partition(":")
        shown = (
            f'<abbr title="{notebooks.GLUE_TITLE}">{format_plain_text(values[name], spec)}</abbr>'
        )
        assert shown in text, f"{md.stem}.ipynb does not show {name} as {shown}"
    assert text.count("<abbr title=") == len(roles)
    assert notebooks.GLUE_NOTE in text, "the notebook must say whose run the numbers are"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_citations_link_to_the_references_and_are_listed(md):
    keys = {
        k.strip()
        for group in re.findall(r"\{cite(?::[pt])?\}`([^`]*)`", md.read_text())
        for k in group.split(",")
    }
    cells = markdown(committed(md))
    assert cells[-1].startswith("## References")
    base = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["baseurl"]
    for key in keys:
        link = f"]({base}references.html#{key})"
        assert link in cells[-1], f"{key} missing from the notebook's reference list"
        assert any(link in text for text in cells[:-1]), f"{key} is not cited as a link"
    listed = re.findall(r"^- \[([^\]]+)\]", cells[-1], re.M)
    assert len(listed) == len(keys)
    assert len(set(listed)) == len(listed), f"two works cited alike: {sorted(listed)}"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_exercises_are_numbered_and_solutions_closed(md):
    notebook = committed(md)
    text = "\n".join(markdown(notebook))
    n = len(EXERCISE.findall(md.read_text()))
    headings = re.findall(r"^### Exercise (\d+)\.(\d+)", text, re.M)
    assert headings == [(str(number(md)), str(k)) for k in range(1, n + 1)]
    assert text.count("<details>") == n and "<details open" not in text
    assert text.count("<summary><b>Solution to Exercise") == n
    for cell in notebook.cells:
        if "solution" in cell.metadata.get("tags", []):
            assert cell.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}
            assert cell.metadata["cellView"] == "form"
            assert cell.source.startswith(f"# @title Exercise {number(md)}.")


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_students_notebook_has_every_exercise_and_no_solution(md):
    default = committed(md)
    students, _ = notebooks.translate(md, default, students=True)
    text = "\n".join(markdown(students))
    n = len(EXERCISE.findall(md.read_text()))
    assert len(re.findall(r"^### Exercise ", text, re.M)) == n
    assert "<details>" not in text and "Solution to" not in text and "students' edition" in text
    solutions = [c.source for c in default.cells if "solution" in c.metadata.get("tags", [])]
    code = [c.source for c in students.cells if c.cell_type == "code"]
    assert solutions and not set(solutions) & set(code)
    assert code == [
        c.source for c in default.cells if c.cell_type == "code" and c.source not in solutions
    ]
    assert not any(line in text for s in solutions for line in s.split("\n")[1:] if len(line) > 30)


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_and_notebook_are_not_paired(md):
    # a notebook paired with its Markdown would write the translated prose back into it
    header = jupytext.read(md).metadata.get("jupytext", {})
    assert "formats" not in header, f"{md.name} pairs itself with a notebook: remove `formats:`"
    assert "jupytext" not in committed(md).metadata


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_notebook_is_executed_without_errors(md):
    code = [c for c in committed(md).cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), f"{md.stem}.ipynb has unexecuted cells"
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{md.stem}.ipynb was not executed top to bottom"
    )
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{md.stem}.ipynb stores an error: {errors[0].ename}: {errors[0].evalue}"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_first_cell_installs_the_package_only_when_missing(md):
    first = next(c for c in jupytext.read(md).cells if c.cell_type == "code").source
    assert "import minivlm" in first and "except ImportError" in first
    assert INSTALL_SOURCE in first, (
        "the first cell must install minivlm from the repository's code/ folder, at the "
        "version's tag"
    )
    assert "torch" not in first.replace("PyTorch", ""), (
        "the first cell must never (re)install torch"
    )


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_prose_relies_on_compared_outputs(md):
    tagged = [
        c for c in jupytext.read(md).cells if "nbval-check-output" in c.metadata.get("tags", [])
    ]
    assert tagged, f"{md.name} has no cell tagged nbval-check-output: nbval would only run it"
