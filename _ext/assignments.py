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
hidden test own_work (the function calls none that computes the answer already) and then the
checker, which names the mistake when there is one; all its points are the hidden test's.
Students and the autograder install the package at this checkout's commit.
The question it asks besides its function, if chapters/assignments.yml gives it `written`
points, and every other exercise become manually graded questions, with the
reference answer in the instructor's notebook only. The autograder runs the set-up cells and
the answers, not the chapter: an answer that needs the chapter's own results says so, and
its reference answer shows the code and the output of the book's run.

The master notebook in otter's format, instructor/assign.ipynb, is kept for an instructor who
wants to change a question and run `otter assign` by hand. A chapter without a checked
exercise would get no autograder, and its student notebook would install no otter-grader.
"""

from __future__ import annotations

import argparse
import ast
import base64
import builtins
import copy
import re
import shutil
import subprocess
import symtable
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

    @property
    def autograded(self) -> list[Exercise]:
        """The checked exercises: the autograder grades their functions."""
        return [e for e in self.exercises if e.checked]

    @property
    def by_hand(self) -> int:
        """The questions graded by hand: the other exercises and the written questions."""
        return (
            len(self.exercises) - len(self.autograded) + sum(e.written > 0 for e in self.exercises)
        )

    @property
    def points_auto(self) -> int:
        return sum(e.points for e in self.autograded)

    @property
    def points_hand(self) -> int:
        return sum(e.written if e.checked else e.points for e in self.exercises)

    @property
    def minutes(self) -> int:
        return sum(e.minutes for e in self.exercises)


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
    """Prose of the exercises section, which belongs to the open solution: prose anywhere
    else in the section has no place in an assignment, and stops the build."""
    text = notebooks.tidy(translator.prose(prose)) if prose else ""
    if not text:
        return
    if not in_solution or exercise is None:
        raise ValueError(f"prose outside an exercise and its solution: {text[:80]!r}")
    exercise.solution.append(Item("markdown", text))


def checker_call(node: ast.AST) -> tuple[str, str] | None:
    """(checker, function) when node is a call check_x(my_x), else None."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and CHECK_CALL.match(node.func.id)
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Name)
    ):
        return node.func.id, node.args[0].id
    return None


def _find_checker(exercise: Exercise) -> None:
    """The checker a solution calls and the function it calls it with, if any."""
    for item in exercise.solution:
        if item.kind != "code":
            continue
        for node in ast.walk(ast.parse(_python(item.cell.source))):
            if checker_call(node):
                exercise.checker, exercise.function = checker_call(node)
                return


def _python(source: str) -> str:
    """A cell's source with IPython's magics commented out, for ast."""
    return re.sub(r"^(\s*)([%!])", r"\1#\2", source, flags=re.M)


# ---------------------------------------------------------------------------------------
# Names a solution reads from the chapter
# ---------------------------------------------------------------------------------------


def defined_names(source: str) -> set[str]:
    """The names a cell binds at its top level (imports, functions, assignments): what the
    cells after it can read. A function's own arguments and locals are not among them."""
    table = symtable.symtable(_python(source), "cell", "exec")
    return {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}


def read_names(source: str) -> set[str]:
    """The names a cell reads from outside itself: at its top level or, inside its
    functions, as globals, less what it binds at its top level."""
    top = symtable.symtable(_python(source), "cell", "exec")
    read = set()

    def walk(table) -> None:
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (table is top or symbol.is_global()):
                read.add(symbol.get_name())
        for child in table.get_children():
            walk(child)

    walk(top)
    return read - defined_names(source)


def chapter_names(source: str, known: set[str]) -> list[str]:
    """The names the code reads that neither it, the set-up cells nor Python define."""
    return sorted(read_names(source) - known - set(dir(builtins)))


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
        elif isinstance(node, ast.Expr) and checker_call(node.value):
            keep.extend(chunk)
        else:
            rest.extend(chunk)
    return "\n".join(keep).strip("\n"), "\n".join(rest).strip("\n")


def _test(exercise: Exercise, config: list[str], kind: str, imports: str, check: str) -> str:
    """A test cell in otter's format: its configuration, then a function of the student's
    function that runs `check` with the checker's printed line held back, and its call."""
    f = exercise.function
    return "\n".join(
        [
            '""" # BEGIN TEST CONFIG',
            *config,
            '""" # END TEST CONFIG',
            f"def test_{exercise.name}_{kind}({f}):",
            "    import contextlib",
            "    import io",
            "",
            f"    from minivlm.exercises import {imports}",
            "",
            "    with contextlib.redirect_stdout(io.StringIO()):",
            f"        result = {check}",
            "    assert result, str(result)",
            "",
            f"test_{exercise.name}_{kind}({f})",
        ]
    )


def public_test(exercise: Exercise) -> str:
    """The test grader.check runs: the function runs and answers with the right kind."""
    f, checker = exercise.function, exercise.checker
    config = [
        "points: 0",
        f'success_message: "{f} runs, and its answer is of the expected kind. The '
        f'autograder runs {checker}, which you can run yourself"',
    ]
    return _test(
        exercise, config, "runs", f"{checker}, quick_check", f"quick_check({checker}, {f})"
    )


def hidden_test(exercise: Exercise) -> str:
    """The autograder's test: the function is the student's own work (it calls none of the
    functions that compute the answer already), and the full checker accepts it; the message
    of either names what is wrong."""
    f, checker = exercise.function, exercise.checker
    config = ["hidden: true", f"points: {exercise.points}"]
    check = f"own_work({checker}, {f}) and {checker}({f})"
    return _test(exercise, config, "checker", f"{checker}, own_work", check)


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


def needs_note(page: notebooks.Page) -> str:
    """What a student reads under a question that needs the chapter's results. (The names
    the reference answer reads are not listed: they would say how to answer.)"""
    return (
        f"*This question needs the chapter's own results (its trained models, data and "
        f"tables): work in [the chapter's notebook]({colab_url(page)}) (it opens in Colab), "
        f"where they are, and write your answer in the cell below, with the code you ran "
        f"there between ``` fences.*"
    )


CHECK_LINE = re.compile(r"^(correct|not yet): ")  # the line a checker prints


def split_outputs(outputs: list) -> tuple[list, list]:
    """A checked solution cell's outputs, split as its code is: the checker's line (and the
    CheckResult it returns) for the student's function, the rest for what follows it."""
    checker, rest = [], []
    for output in outputs:
        if output.get("output_type") == "stream":
            lines = output.text.splitlines(keepends=True)
            mine = "".join(line for line in lines if CHECK_LINE.match(line))
            other = "".join(line for line in lines if not CHECK_LINE.match(line))
            for text, into in ((mine, checker), (other, rest)):
                if text:
                    into.append(nbformat.v4.new_output("stream", name=output.name, text=text))
        elif "CheckResult(" in output.get("data", {}).get("text/plain", ""):
            checker.append(output)
        else:
            rest.append(output)
    return checker, rest


@lru_cache
def commit() -> str | None:
    """The commit this checkout is at, or None outside a git checkout."""
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def install_source(chapter: Chapter) -> str:
    """The chapter's install source (the book's repository), at this checkout's commit: the
    students and the autograder get the checkers the assignment was built and tested with,
    whatever the repository's main branch holds later."""
    match = INSTALL.search(chapter.setup[0].source)
    if not match:
        raise ValueError(f"{chapter.md.name}: no install source in its first code cell")
    url, subdirectory = match.group(1), match.group(2)
    if not commit():
        return url + subdirectory
    url = re.sub(r"(git\+https://[^@]+)@[^@]+$", r"\1", url)  # the commit, not the chapter's ref
    return f"{url}@{commit()}{subdirectory}"


def setup_cell(chapter: Chapter) -> nbformat.NotebookNode:
    """The first cell: the chapter's install, otter-grader's, and the tests written where
    grader.check reads them (a notebook opened alone, in Colab, has no other file). Without
    an autograded question, the chapter's install only."""
    source = install_source(chapter)
    install = [
        "import os",
        "from pathlib import Path",
        "",
        "try:",
        "    import minivlm",
        "except ImportError:",
        f'    source = os.environ.get("MINIVLM_SOURCE", "{source}")',
        '    %pip install --quiet "{source}"',
    ]
    if not chapter.autograded:
        code = [
            "# @title Set-up: the book's package",
            "# Set-up for Colab and other fresh environments: install the book's package when",
            "# it is missing (an installed PyTorch is left alone).",
            *install,
        ]
    else:
        code = [
            "# @title Set-up: the book's package, otter-grader and this assignment's tests",
            "# Set-up for Colab and other fresh environments: install the book's package and",
            "# otter-grader when they are missing (an installed PyTorch is left alone), then",
            "# write this assignment's tests where grader.check reads them.",
            *install,
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
    cell = v4.new_code_cell("\n".join(code))
    cell.metadata = {"cellView": "form", "jupyter": {"source_hidden": True}}
    return cell


def introduction(chapter: Chapter) -> str:
    page, auto = chapter.page, chapter.autograded
    number = f"Chapter {page.number}" if page.number else "The chapter"
    grading = f"Graded by hand: {chapter.by_hand} answers ({chapter.points_hand} points)."
    if auto:
        grading = (
            f"Autograded: the functions of {len(auto)} exercises ({chapter.points_auto} points). "
            + grading
        )
    lines = [
        f"# Assignment: {chapter.title}",
        "",
        f"> The exercises of {number} of *{notebooks.config()['title']}*: "
        f"[read the chapter]({page.url(page.path)}) first. They refer to its figures, "
        f"formulas and results: *above* means in the chapter.",
        "",
        f"**{grading}**",
        "",
        "- Run the first cells: they install what is missing and import what the exercises use.",
    ]
    if auto:
        lines += [
            "- A function to write has `...` where its body goes. `grader.check(...)` below it "
            "runs a quick public test: does the function run, and is its answer of the right "
            "kind? The checker that the exercise names compares your function with the "
            "reference and names the usual mistakes; run it as often as you like. The "
            "autograder runs that checker, and refuses a function that calls one that computes "
            "the answer already (the package's or PyTorch's).",
            "- The autograder runs this notebook's cells, not the chapter's: your functions "
            "may use what the set-up cells import, and nothing the chapter computed.",
        ]
    lines += [
        "- Write your answers to the questions graded by hand in the cells that say *Type "
        "your answer here*; add code cells of your own for the computations.",
        "- Hand in this notebook (the `.ipynb` file), saved after a last run of all its cells.",
    ]
    return "\n".join(lines)


def master_notebook(chapter: Chapter, requirements: str) -> nbformat.NotebookNode:
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
                    "requirements": requirements,
                    "overwrite_requirements": False,
                    "init_cell": False,
                    "check_all_cell": False,
                    "export_cell": False,
                    "run_tests": False,
                    "tests": {"files": True, "ok_format": False},
                    "python_version": "3.11",
                    "generate": {"show_stdout": True, "show_hidden": True},
                    "suppress_no_tests_warning": not chapter.autograded,
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
            answer.outputs, rest_outputs = split_outputs(code.cell.get("outputs", []))
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
                item.cell.outputs = rest_outputs
            if e.written:
                note = [needs_note(page)] if _needs(rest, known) else []
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
                                f"**{e.heading.split(':')[0]}, its written question.** Answer "
                                f"here the question that the exercise (above) asks besides "
                                f"the function.",
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
                    notebooks.tidy(prompt + (["", needs_note(page)] if needs else []))
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
    return "\n".join(
        ["--extra-index-url https://download.pytorch.org/whl/cpu", "torch", install_source(chapter)]
    )


def fill_tests(notebook, tests: dict[str, str]) -> None:
    """Put the tests into the set-up cell, in place of the marker."""
    cell = next((c for c in notebook.cells if TESTS_MARKER in c.source), None)
    if cell is None:  # nothing is autograded: no tests
        return
    body = ",\n".join(f"    {name!r}: {text!r}" for name, text in sorted(tests.items()))
    cell.source = cell.source.replace(
        TESTS_MARKER, "TESTS = {\n" + body + ",\n}" if tests else "TESTS = {}"
    )


def build(chapter: Chapter, out: Path) -> None:
    """Write the chapter's assignment into out/<chapter>."""
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
        if chapter.autograded:  # else there is nothing to autograde
            (zipped,) = (dist / "autograder").glob("*.zip")
            shutil.copy(zipped, where / f"{chapter.name}-autograder.zip")
        shutil.copy(tmp / f"{chapter.name}.ipynb", where / "instructor" / "assign.ipynb")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="+", type=Path, help="chapters/<name>.md")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "assignments")
    args = parser.parse_args(argv)
    for md in args.chapters:
        start = time.perf_counter()
        chapter = read_chapter(md)
        build(chapter, args.out.resolve())
        auto = len(chapter.autograded)
        print(
            f"{chapter.name}: {auto + chapter.by_hand} questions ({auto} autograded), "
            f"{chapter.points_auto + chapter.points_hand} points, "
            f"in {time.perf_counter() - start:.1f} s",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
