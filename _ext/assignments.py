"""The graded assignments: each chapter's exercises as an otter-grader assignment.

    python _ext/assignments.py --out _build/assignments chapters/*.md   # make assignments

For every chapter this writes, from the chapter's own exercise directives, solution blocks
and minivlm.exercises checkers (nothing written a second time), and the points and minutes
of chapters/assignments.yml:

- student/<chapter>.ipynb: the exercises, with the code a student completes and no solution;
  its first cell installs minivlm and otter-grader when they are missing (as the chapters'
  notebooks do, so it runs in Colab) and writes the public tests that grader.check runs;
- instructor/<chapter>.ipynb: the same with every solution, and all the tests;
- <chapter>-autograder.zip: otter-grader's autograder (Gradescope's format; `otter run`
  grades with it locally), whose hidden tests call the full checkers.

A checked exercise (its solution calls a checker) becomes an autograded question: the
public test runs quick_check (does the function run, is its answer of the right kind), the
hidden test the checker, which names the mistake when there is one; all its points are the
hidden test's. The question it asks besides its function, if chapters/assignments.yml gives
it `written` points, and every other exercise become manually graded questions, with the
reference answer in the instructor's notebook only. The autograder runs the set-up cells and
the answers, not the chapter: an answer that needs the chapter's own results says so, and
its reference answer shows the code and the output of the book's run.

The master notebook in otter's format (assign.ipynb) is kept beside the three, for an
instructor who wants to change a question and run `otter assign` by hand.
"""

from __future__ import annotations

import argparse
import ast
import base64
import builtins
import copy
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jupytext
import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import notebooks  # noqa: E402  (the chapters' notebooks: prose translated out of MyST)

ROOT = notebooks.ROOT
CONFIG = ROOT / "chapters" / "assignments.yml"
v4 = nbformat.v4

# the marker in the set-up cell that the tests replace, student's and instructor's alike
TESTS_MARKER = "TESTS = {}  # the tests, filled in by make assignments"
INSTALL = re.compile(r'"(minivlm\[book\] @ git\+[^"]+)"\s*"([^"]+)"')
CHECK_CALL = re.compile(r"^check_\w+$")
EXERCISES = re.compile(r"^## (Review )?exercises$", re.I)  # the section that ends a chapter


# ---------------------------------------------------------------------------------------
# What the assignment is built from
# ---------------------------------------------------------------------------------------


@lru_cache
def config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


@lru_cache
def otter_requirement() -> str:
    """otter-grader as requirements.txt pins it: the version the students install."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.startswith("otter-grader=="):
            return line.strip()
    raise ValueError("requirements.txt does not pin otter-grader")


@dataclass
class Item:
    """One piece of a solution, in order: Markdown (translated), or a code cell as executed."""

    kind: str  # "markdown" or "code"
    text: str = ""
    cell: nbformat.NotebookNode | None = None


@dataclass
class Exercise:
    label: str
    heading: str  # "Exercise 1.2: Max pooling (checked)"
    prompt: list[str]  # the exercise's text, translated
    solution: list[Item] = field(default_factory=list)
    points: int = 0
    written: int = 0
    minutes: int = 0
    checker: str | None = None  # check_max_pool2d
    function: str | None = None  # my_max_pool2d: the name the checker is called with

    @property
    def name(self) -> str:
        """The question's name for otter (grader.check("pool")): the label after -ex-."""
        return self.label.split("-ex-", 1)[1].replace("-", "_")

    @property
    def checked(self) -> bool:
        return self.checker is not None


@dataclass
class Chapter:
    md: Path
    page: notebooks.Page
    title: str
    setup: list[nbformat.NotebookNode]  # the install cell and the imports, as executed
    exercises: list[Exercise]

    @property
    def name(self) -> str:
        return self.md.stem


def read_chapter(md: Path) -> Chapter:
    """The chapter's exercises, their solutions and its set-up cells."""
    md = Path(md).resolve()
    source = jupytext.read(md)
    executed = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    if notebooks.code_cells(source) != notebooks.code_cells(executed):
        raise ValueError(f"{md.name}'s notebook is not up to date: make notebooks")
    runs = iter(c for c in executed.cells if c.cell_type == "code")
    path = md.relative_to(ROOT).with_suffix("").as_posix()
    page = notebooks.Page(path, notebooks.glued_values(executed))
    translator = notebooks.Translator(page)
    values = config().get(md.stem, {})

    title, setup, exercises = None, [], []
    section = False  # inside "## Exercises"
    current: Exercise | None = None
    in_solution = False
    for cell in source.cells:
        if cell.cell_type == "code":
            run = next(runs)
            if in_solution:
                done = copy.deepcopy(run)
                done.source = cell.source  # without the notebook's "# @title" line
                done.metadata = {}
                current.solution.append(Item("code", cell=done))
            elif not section and len(setup) < 2:
                setup.append(cell)  # the install cell, then the imports
            continue
        lines = cell.source.split("\n")
        if title is None:
            title = lines[0].removeprefix("# ").strip()
        if not section:
            heading = [n for n, line in enumerate(lines) if EXERCISES.match(line.strip())]
            if not heading:
                continue
            section = True
            lines = lines[heading[0] + 1 :]
        n, prose = 0, []
        while n < len(lines):
            match = notebooks.FENCE.match(lines[n])
            if match and match.group("name") in ("exercise", "solution-start", "solution-end"):
                _flush(prose, current, in_solution, translator)
                prose = []
                d, n = notebooks.read_directive(lines, n)
                if d.name == "exercise":
                    label = d.options["label"]
                    if label not in values:
                        raise ValueError(f"{CONFIG.name} gives no points for {label}")
                    number = notebooks.exercise_labels()[label][1]
                    current = Exercise(
                        label,
                        f"{number}: {notebooks.roles(page, d.argument)}",
                        translator.prose(d.body),
                        **values[label],
                    )
                    exercises.append(current)
                elif d.name == "solution-start":
                    in_solution = True
                else:
                    in_solution = False
                continue
            prose.append(lines[n])
            n += 1
        _flush(prose, current, in_solution, translator)
    unknown = set(values) - {e.label for e in exercises}
    if unknown:
        raise ValueError(f"{CONFIG.name} names exercises that {md.name} lacks: {sorted(unknown)}")
    for exercise in exercises:
        _find_checker(exercise)
    return Chapter(md, page, title, setup, exercises)


def _flush(prose: list[str], exercise: Exercise | None, in_solution: bool, translator) -> None:
    """Prose of the exercises section: a solution's goes into it; the rest is the section's
    own (it has none today)."""
    text = notebooks.tidy(translator.prose(prose)) if prose else ""
    if not text:
        return
    if not in_solution or exercise is None:
        raise ValueError(f"prose outside an exercise and its solution: {text[:80]!r}")
    exercise.solution.append(Item("markdown", text))


def _find_checker(exercise: Exercise) -> None:
    """The checker a solution calls and the function it calls it with, if any."""
    for item in exercise.solution:
        if item.kind != "code":
            continue
        for node in ast.walk(ast.parse(_python(item.cell.source))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and CHECK_CALL.match(node.func.id)
                and len(node.args) == 1
                and isinstance(node.args[0], ast.Name)
            ):
                exercise.checker, exercise.function = node.func.id, node.args[0].id
                return


def _python(source: str) -> str:
    """A cell's source with IPython's magics commented out, for ast."""
    return re.sub(r"^(\s*)([%!])", r"\1#\2", source, flags=re.M)


# ---------------------------------------------------------------------------------------
# Names a solution reads from the chapter
# ---------------------------------------------------------------------------------------


def defined_names(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(_python(source))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def read_names(source: str) -> set[str]:
    tree = ast.parse(_python(source))
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def chapter_names(source: str, known: set[str]) -> list[str]:
    """The names the code reads that neither it, the set-up cells nor Python define."""
    return sorted(read_names(source) - defined_names(source) - known - set(dir(builtins)))


# ---------------------------------------------------------------------------------------
# The master notebook, in otter-grader's format
# ---------------------------------------------------------------------------------------


def raw(*lines: str) -> nbformat.NotebookNode:
    return v4.new_raw_cell("\n".join(lines))


def split_checked(source: str, function: str) -> tuple[str, str]:
    """A checked solution's cell as (the student's cell with the function's body between
    otter's solution markers, the rest of the cell): imports, the function and the call of
    the checker stay in the first; whatever else the solution does goes to the second."""
    lines = source.split("\n")
    tree = ast.parse(_python(source))
    keep, rest = [], []
    start = 0  # a statement owns the comments and blank lines above it
    for node in tree.body:
        chunk = lines[start : node.end_lineno]
        start = node.end_lineno
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            keep.extend(chunk)
        elif isinstance(node, ast.FunctionDef) and node.name == function:
            body_start = node.body[0].lineno - 1  # its first statement, 0-based
            if isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
                body_start = node.body[0].end_lineno  # a docstring stays with the signature
            head = chunk[: len(chunk) - (node.end_lineno - body_start)]
            indent = re.match(r"\s*", lines[body_start]).group(0)
            keep.extend(
                [
                    *head,
                    f"{indent}# BEGIN SOLUTION",
                    *lines[body_start : node.end_lineno],
                    f"{indent}# END SOLUTION",
                ]
            )
        elif (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and CHECK_CALL.match(node.value.func.id)
        ):
            keep.extend(chunk)
        else:
            rest.extend(chunk)
    return "\n".join(keep).strip("\n"), "\n".join(rest).strip("\n")


def public_test(exercise: Exercise) -> str:
    """The test grader.check runs: the function runs and answers with the right kind."""
    f, checker = exercise.function, exercise.checker
    return "\n".join(
        [
            '""" # BEGIN TEST CONFIG',
            "points: 0",
            f'success_message: "{f} runs and its answer has the expected kind; the hidden test '
            f'runs {checker}, as you can"',
            '""" # END TEST CONFIG',
            f"def test_{exercise.name}_runs({f}):",
            "    import contextlib",
            "    import io",
            "",
            f"    from minivlm.exercises import {checker}, quick_check",
            "",
            "    with contextlib.redirect_stdout(io.StringIO()):",
            f"        result = quick_check({checker}, {f})",
            "    assert result, str(result)",
            "",
            f"test_{exercise.name}_runs({f})",
        ]
    )


def hidden_test(exercise: Exercise) -> str:
    """The autograder's test: the full checker, whose message names the mistake."""
    f, checker = exercise.function, exercise.checker
    return "\n".join(
        [
            '""" # BEGIN TEST CONFIG',
            "hidden: true",
            f"points: {exercise.points}",
            '""" # END TEST CONFIG',
            f"def test_{exercise.name}_checker({f}):",
            "    import contextlib",
            "    import io",
            "",
            f"    from minivlm.exercises import {checker}",
            "",
            "    with contextlib.redirect_stdout(io.StringIO()):",
            f"        result = {checker}({f})",
            "    assert result, str(result)",
            "",
            f"test_{exercise.name}_checker({f})",
        ]
    )


def reference_cells(items: list[Item], known: set[str], page: notebooks.Page) -> list:
    """A reference answer's cells for the instructor: its prose; its code as a cell to run,
    or, when the code reads the chapter's own results, as the code and the output of the
    book's run (a cell here would fail without the chapter)."""
    cells = []
    for item in items:
        if item.kind == "markdown":
            cells.append(v4.new_markdown_cell(item.text))
            continue
        needs = chapter_names(item.cell.source, known)
        if not needs:
            known |= defined_names(item.cell.source)
            cell = copy.deepcopy(item.cell)
            cell.source = "\n".join(["# BEGIN SOLUTION", cell.source, "# END SOLUTION"])
            cells.append(cell)
        else:
            cells.append(v4.new_markdown_cell(run_elsewhere(item.cell, needs, page)))
    return cells


def run_elsewhere(cell, needs: list[str], page: notebooks.Page) -> str:
    """A solution's code that needs the chapter, with the output of the book's run."""
    names = ", ".join(f"`{n}`" for n in needs)
    out = [
        f"In [the chapter's notebook]({colab_url(page)}), after its other cells "
        f"(this code reads {names}):",
        "",
        "```python",
        cell.source.strip("\n"),
        "```",
    ]
    text, images = [], []
    for output in cell.get("outputs", []):
        if output.get("metadata", {}).get("scrapbook"):
            continue  # a glued value: the text quotes it
        if output.output_type == "stream":
            text.append(output.text)
        elif "image/png" in output.get("data", {}):
            images.append(output.data["image/png"])
        elif "text/plain" in output.get("data", {}):
            text.append(output.data["text/plain"])
    if text or images:
        out += ["", "The book's run printed:" if text else "The book's run drew:"]
    if text:
        out += ["", "```", "".join(text).strip("\n"), "```"]
    for png in images:
        data = png if isinstance(png, str) else base64.b64encode(png).decode()
        out += ["", f'<img src="data:image/png;base64,{data.strip()}" alt="the book\'s figure">']
    return "\n".join(out)


def colab_url(page: notebooks.Page) -> str:
    """The chapter's notebook in Colab, as the book's launch button opens it."""
    book = notebooks.config()
    repository = book["repository"]["url"].removeprefix("https://github.com/")
    colab = book["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{repository}/blob/{book['repository']['branch']}/{page.path}.ipynb"


def needs_note(needs: list[str], page: notebooks.Page) -> str:
    names = ", ".join(f"`{n}`" for n in needs)
    return (
        f"*This question uses the chapter's own results ({names}): work in "
        f"[the chapter's notebook]({colab_url(page)}) (it opens in Colab), and write your "
        f"answer here.*"
    )


def setup_cell(chapter: Chapter) -> nbformat.NotebookNode:
    """The first cell: the chapter's install, otter-grader's, and the tests written where
    grader.check reads them (a notebook opened alone, in Colab, has no other file)."""
    match = INSTALL.search(chapter.setup[0].source)
    if not match:
        raise ValueError(f"{chapter.md.name}: no install source in its first code cell")
    source = match.group(1) + match.group(2)
    code = "\n".join(
        [
            "# Set-up for Colab and other fresh environments: install the book's package and",
            "# otter-grader when they are missing (an installed PyTorch is left alone), then",
            "# write this assignment's tests where grader.check reads them.",
            "import os",
            "from pathlib import Path",
            "",
            "try:",
            "    import minivlm",
            "except ImportError:",
            f'    source = os.environ.get("MINIVLM_SOURCE", "{source}")',
            '    %pip install --quiet "{source}"',
            "try:",
            "    import otter",
            "except ImportError:",
            f'    %pip install --quiet "{otter_requirement()}"',
            "    import otter",
            "",
            TESTS_MARKER,
            f'tests_dir = Path("tests") / "{chapter.name}"',
            "tests_dir.mkdir(parents=True, exist_ok=True)",
            "for name, test in TESTS.items():",
            '    (tests_dir / f"{name}.py").write_text(test)',
            "grader = otter.Notebook(tests_dir=str(tests_dir))",
        ]
    )
    cell = v4.new_code_cell(code)
    cell.metadata = {"cellView": "form", "jupyter": {"source_hidden": True}}
    return cell


def introduction(chapter: Chapter) -> str:
    page = chapter.page
    auto = [e for e in chapter.exercises if e.checked]
    manual = len(chapter.exercises) - len(auto) + sum(1 for e in auto if e.written)
    points_auto = sum(e.points for e in auto)
    points_manual = sum(e.written if e.checked else e.points for e in chapter.exercises)
    number = f"Chapter {page.number}" if page.number else "The chapter"
    lines = [
        f"# Assignment: {chapter.title}",
        "",
        f"> The exercises of {number} of *{notebooks.config()['title']}*: "
        f"[read the chapter]({page.url(page.path)}) first.",
        "",
        f"**{len(auto)} questions checked by the autograder ({points_auto} points), "
        f"{manual} graded by hand ({points_manual} points).**",
        "",
        "- Run the first cells: they install what is missing and import what the exercises use.",
    ]
    if auto:
        lines += [
            "- A function to write has `...` where its body goes. `grader.check(...)` below it "
            "runs a quick public test: does the function run, and is its answer of the right "
            "kind? The checker that the exercise names compares it with the reference and "
            "names the usual mistakes; the autograder runs that checker.",
            "- The autograder runs this notebook's cells, not the chapter's: your functions "
            "may use what the set-up cells import, and nothing the chapter computed.",
        ]
    if manual:
        lines += [
            "- Answer the other questions in the cells that say *Type your answer here*; "
            "use code cells of your own for the computations.",
        ]
    lines += [
        "- Hand in this notebook (the `.ipynb` file), saved after a last run of all its cells."
    ]
    return "\n".join(lines)


def master_notebook(chapter: Chapter, zip_requirements: str) -> nbformat.NotebookNode:
    """The assignment in otter-grader's master format: questions, solutions and tests."""
    page = chapter.page
    known = set()
    for cell in chapter.setup:
        known |= defined_names(cell.source)
    imports = copy.deepcopy(chapter.setup[1])
    imports.metadata = {}
    cells = [
        raw(
            "# ASSIGNMENT CONFIG",
            yaml.safe_dump(
                {
                    "name": chapter.name,
                    "requirements": zip_requirements,
                    "overwrite_requirements": False,
                    "init_cell": False,
                    "check_all_cell": False,
                    "export_cell": False,
                    "run_tests": False,
                    "tests": {"files": True, "ok_format": False},
                    "python_version": "3.11",
                    "generate": {"show_stdout": True, "show_hidden": True},
                    "suppress_no_tests_warning": not any(e.checked for e in chapter.exercises),
                },
                sort_keys=False,
            ).strip(),
        ),
        v4.new_markdown_cell(introduction(chapter)),
        setup_cell(chapter),
        imports,
    ]
    for e in chapter.exercises:
        prompt = [f"### {e.heading}", "", *e.prompt]
        if e.checked:
            code = next(i for i in e.solution if i.kind == "code" and e.checker in i.cell.source)
            student, rest = split_checked(code.cell.source, e.function)
            answer = v4.new_code_cell(student)
            if not rest:
                answer.outputs = code.cell.get("outputs", [])
            before = e.solution[: e.solution.index(code)]
            after = e.solution[e.solution.index(code) + 1 :]
            cells += [
                raw("# BEGIN QUESTION", f"name: {e.name}", f"points: {e.points}"),
                v4.new_markdown_cell(notebooks.tidy(prompt)),
                raw("# BEGIN SOLUTION"),
                *([] if e.written else reference_cells(before, known, page)),
                answer,
                *([] if e.written else reference_cells(after, known, page)),
                raw("# END SOLUTION"),
                raw("# BEGIN TESTS"),
                v4.new_code_cell(public_test(e)),
                v4.new_code_cell(hidden_test(e)),
                raw("# END TESTS"),
                raw("# END QUESTION"),
            ]
            known |= defined_names(student)
            rest_items = [Item("code", cell=_with_source(code.cell, rest))] if rest else []
            for item in rest_items:
                item.cell.outputs = []  # the split cell's outputs were the whole cell's
            if e.written:
                note = [needs_note(needs, page)] if (needs := _needs(rest, known)) else []
                cells += [
                    raw(
                        "# BEGIN QUESTION",
                        f"name: {e.name}_written",
                        "manual: true",
                        f"points: {e.written}",
                    ),
                    v4.new_markdown_cell(
                        notebooks.tidy(
                            [
                                f"**The written part of {e.heading.split(':')[0]}**: answer "
                                f"the question it asks besides the function.",
                                *(["", *note] if note else []),
                            ]
                        )
                    ),
                    raw("# BEGIN SOLUTION"),
                    *reference_cells(before + rest_items + after, known, page),
                    raw("# END SOLUTION"),
                    raw("# END QUESTION"),
                ]
            elif rest_items:
                raise ValueError(
                    f"{e.label}: its solution computes more after the checker; give the "
                    f"question it answers `written` points in {CONFIG.name}"
                )
        else:
            needs = sorted(
                {n for i in e.solution if i.kind == "code" for n in _needs(i.cell.source, known)}
            )
            cells += [
                raw("# BEGIN QUESTION", f"name: {e.name}", "manual: true", f"points: {e.points}"),
                v4.new_markdown_cell(
                    notebooks.tidy(prompt + (["", needs_note(needs, page)] if needs else []))
                ),
                raw("# BEGIN SOLUTION"),
                *reference_cells(e.solution, known, page),
                raw("# END SOLUTION"),
                raw("# END QUESTION"),
            ]
    notebook = v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )
    return notebook


def _needs(source: str, known: set[str]) -> list[str]:
    return chapter_names(source, known) if source else []


def _with_source(cell, source: str):
    cell = copy.deepcopy(cell)
    cell.source = source
    return cell


# ---------------------------------------------------------------------------------------
# otter assign, and the three files
# ---------------------------------------------------------------------------------------


def zip_requirements(chapter: Chapter) -> str:
    """What the autograder's image installs besides otter-grader: the book's package, with
    PyTorch's CPU build (grading needs no GPU, and the CUDA build is gigabytes larger)."""
    match = INSTALL.search(chapter.setup[0].source)
    return "\n".join(
        [
            "--extra-index-url https://download.pytorch.org/whl/cpu",
            "torch",
            match.group(1) + match.group(2),
        ]
    )


def fill_tests(notebook, tests: dict[str, str]) -> None:
    """Put the tests into the set-up cell, in place of the marker."""
    cell = next(c for c in notebook.cells if TESTS_MARKER in c.source)
    body = ",\n".join(f"    {name!r}: {text!r}" for name, text in sorted(tests.items()))
    cell.source = cell.source.replace(
        TESTS_MARKER, "TESTS = {\n" + body + ",\n}" if tests else "TESTS = {}"
    )


def build(chapter: Chapter, out: Path) -> dict:
    """Write the chapter's assignment into out/<chapter>; returns what it holds."""
    from otter.assign import main as otter_assign

    where = out / chapter.name
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "requirements.txt").write_text(zip_requirements(chapter) + "\n")
        master = master_notebook(chapter, "requirements.txt")
        nbformat.write(master, tmp / f"{chapter.name}.ipynb")
        otter_assign(str(tmp / f"{chapter.name}.ipynb"), str(tmp / "dist"), no_pdfs=True)
        dist = tmp / "dist"
        for kind, folder in (("student", "student"), ("instructor", "autograder")):
            notebook = nbformat.read(dist / folder / f"{chapter.name}.ipynb", as_version=4)
            tests = {p.stem: p.read_text() for p in sorted((dist / folder / "tests").glob("*.py"))}
            fill_tests(notebook, tests)
            if kind == "student":
                for cell in notebook.cells:
                    if cell.cell_type == "code":
                        cell.outputs, cell.execution_count = [], None
            (where / kind).mkdir()
            nbformat.write(notebook, where / kind / f"{chapter.name}.ipynb")
        (zipped,) = (dist / "autograder").glob("*.zip")
        shutil.copy(zipped, where / f"{chapter.name}-autograder.zip")
        shutil.copy(tmp / f"{chapter.name}.ipynb", where / "assign.ipynb")
    return {
        "questions": len(chapter.exercises) + sum(1 for e in chapter.exercises if e.written),
        "auto": sum(1 for e in chapter.exercises if e.checked),
        "points": sum(e.points + e.written for e in chapter.exercises),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="+", type=Path, help="chapters/<name>.md")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "assignments")
    args = parser.parse_args(argv)
    for md in args.chapters:
        start = time.perf_counter()
        chapter = read_chapter(md)
        held = build(chapter, args.out.resolve())
        print(
            f"{chapter.name}: {held['questions']} questions ({held['auto']} autograded), "
            f"{held['points']} points, in {time.perf_counter() - start:.1f} s",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
