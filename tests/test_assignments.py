"""The graded assignments (make assignments, _ext/assignments.py), graded as an instructor
grades them: with each chapter's autograder zip and otter-grader, on the instructor's
notebook (full marks), the blank student notebook (nothing) and student notebooks that make
one of the mistakes a checker names (that question's points lost, and the mistake named in
the feedback). No student file may hold a solution, a hidden test or an instructor's link.
Every student notebook also runs in a fresh Colab-like runtime: tests/test_colab.py.
"""

from __future__ import annotations

import copy
import csv
import json
import re
import sys
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
import assignments  # noqa: E402  (_ext/assignments.py)
import grade  # noqa: E402  (_ext/grade.py: make grade)

CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))
CONFIG = yaml.safe_load((ROOT / "chapters" / "assignments.yml").read_text())

# One named mistake per checked question, made in the book's own solution: (what the
# solution has, what the mistaken one has instead, a phrase the checker's message must hold).
MISTAKES = {
    "cnn": {
        "conv2d": ("windows, weight)", "windows, weight.flip(-2, -1))", "the kernel is flipped"),
        "pool": ("windows.amax(dim=(-2, -1))", "windows.mean(dim=(-2, -1))", "average pooling"),
        "rf": ("jump *= s", "jump *= 1", "times the jump"),
    },
    "attention": {
        "attention": (" / math.sqrt(q.shape[-1])", "", "not divided by sqrt(d_k)"),
        "causal": (".tril()", ".tril().logical_not()", "True must mean 'may attend'"),
        "pe": (
            "angles.sin(), angles.cos()",
            "angles.cos(), angles.sin()",
            "sin and cos are swapped",
        ),
    },
    "evolution": {
        "infonce": (
            "(F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2",
            "F.cross_entropy(logits, targets)",
            "only the image-to-text direction",
        ),
        "nexttoken": ("ignore_index=-100,", 'ignore_index=-100, reduction="sum",', "summed"),
    },
    "clip": {
        "patchify": ("permute(1, 3, 0, 2, 4)", "permute(3, 1, 0, 2, 4)", "column by column"),
        "recall": ("similarity.topk(k", "similarity.T.topk(k", "down the columns"),
    },
    "llava": {
        "labels": ("labels[..., :n_prompt] = -100", "pass", "nothing is masked"),
        "turns": ("for start in starts:", "for start in starts[:1]:", "only the first answer"),
    },
    "challenges": {
        "gap": (").norm().item()", ").square().sum().item()", "the squared distance"),
        "wino": (
            '"group": (text & image).float().mean().item()',
            '"group": (text.float().mean() + image.float().mean()).item() / 2',
            "the mean of the text and image scores",
        ),
        "int8": (
            "W.abs().amax(dim=1, keepdim=True)",
            "W.abs().amax().expand(len(W), 1)",
            "per-tensor",
        ),
    },
}


# ---------------------------------------------------------------------------------------
# The assignments, built once, and every submission graded once (two at a time)
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def built(assignments_built) -> Path:
    return assignments_built


def notebook(built: Path, chapter: str, kind: str):
    return nbformat.read(built / chapter / kind / f"{chapter}.ipynb", as_version=4)


def answer_cells(nb, exercises) -> dict[str, nbformat.NotebookNode]:
    """The code cell of each checked question: the one that defines its function."""
    cells = {}
    for e in exercises:
        (cell,) = [
            c
            for c in nb.cells
            if c.cell_type == "code" and re.search(rf"^def {e.function}\(", c.source, re.M)
        ]
        cells[e.name] = cell
    return cells


@lru_cache
def checked(chapter: str) -> tuple:
    """The chapter's checked exercises, in order."""
    return tuple(
        e
        for e in assignments.read_chapter(ROOT / "chapters" / f"{chapter}.md").exercises
        if e.checked
    )


def mistaken(built: Path, chapter: str, wrong: set[str]):
    """The student notebook with the book's solutions filled in, and the named mistake made
    in the questions of `wrong`."""
    exercises = checked(chapter)
    student = notebook(built, chapter, "student")
    solutions = answer_cells(notebook(built, chapter, "instructor"), exercises)
    for name, cell in answer_cells(student, exercises).items():
        source = re.sub(r"^\s*# (BEGIN|END) SOLUTION\n", "", solutions[name].source, flags=re.M)
        if name in wrong:
            right, mistake, _ = MISTAKES[chapter][name]
            assert source.count(right) == 1, (
                f"{chapter}/{name}: the solution no longer has {right!r}"
            )
            source = source.replace(right, mistake)
        cell.source = source
    return student


def halves(chapter: str) -> list[set[str]]:
    """The checked questions in two groups (every other one): a notebook with the mistakes of
    one group and the solutions of the other shows both that a mistake loses its question's
    points and that it costs no other question any."""
    names = [e.name for e in checked(chapter)]
    return [set(names[0::2]), set(names[1::2])]


GRADED_CHAPTERS = [md.stem for md in CHAPTERS if md.stem in MISTAKES]


@pytest.fixture(scope="session")
def graded(built, tmp_path_factory) -> dict:
    """Every submission the tests look at, graded as `make grade` grades a folder of them:
    (chapter, kind) -> {question: (score, points, feedback)}; each folder keeps the
    grades.csv and feedback/ it wrote."""
    results = {}
    for chapter in GRADED_CHAPTERS:
        folder = tmp_path_factory.mktemp(chapter)
        versions = {
            "instructor": notebook(built, chapter, "instructor"),
            "blank": notebook(built, chapter, "student"),
        }
        for n, wrong in enumerate(halves(chapter)):
            versions[f"mistakes-{n}"] = mistaken(built, chapter, wrong)
        for kind, nb in versions.items():
            nbformat.write(nb, folder / f"{kind}.ipynb")
        zipped = built / chapter / f"{chapter}-autograder.zip"
        for kind, result in grade.grade_folder(folder, zipped).items():
            results[chapter, kind] = result
        results[chapter, "folder"] = folder
    return results


# ---------------------------------------------------------------------------------------
# What is built
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_has_its_assignment(built, md):
    chapter = assignments.read_chapter(md)
    where = built / md.stem
    for path in ("student", "instructor"):
        assert (where / path / f"{md.stem}.ipynb").is_file()
    assert (where / "instructor" / "assign.ipynb").is_file()  # otter's master, for otter assign
    autograded = any(e.checked for e in chapter.exercises)
    assert (where / f"{md.stem}-autograder.zip").is_file() == autograded
    student = notebook(built, md.stem, "student")
    checks = re.findall(r'grader\.check\("(\w+)"\)', "\n".join(c.source for c in student.cells))
    assert checks == [e.name for e in chapter.exercises if e.checked]
    manual = [c for c in student.cells if "<!-- BEGIN QUESTION -->" in c.source]
    assert len(manual) == sum(1 for e in chapter.exercises if not e.checked or e.written)
    # every exercise of the chapter, and the points of the configuration
    assert {e.label for e in chapter.exercises} == set(CONFIG[md.stem])
    setup = student.cells[1]
    assert setup.cell_type == "code" and "%pip install" in setup.source
    assert ("import otter" in setup.source) == autograded


def test_every_checker_has_a_mistake_here():
    named = {
        e.checker for md in CHAPTERS for e in assignments.read_chapter(md).exercises if e.checked
    }
    from minivlm import exercises

    assert named == {n for n in exercises.__all__ if n.startswith("check_")}
    for chapter, questions in MISTAKES.items():
        assert set(questions) == {e.name for e in checked(chapter)}, chapter


# ---------------------------------------------------------------------------------------
# Grading
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("chapter", GRADED_CHAPTERS)
def test_the_instructors_notebook_gets_full_marks(graded, chapter):
    results = graded[chapter, "instructor"]
    points = {e.name: e.points for e in checked(chapter)}
    assert {q: r[:2] for q, r in results.items()} == {q: (p, p) for q, p in points.items()}
    for question, (_, _, feedback) in results.items():
        assert "failed" not in feedback.lower(), (question, feedback)


@pytest.mark.parametrize("chapter", GRADED_CHAPTERS)
def test_the_grades_table_and_the_feedback(graded, chapter):
    """make grade's grades.csv: one row per submission, a column per autograded question."""
    folder = graded[chapter, "folder"]
    with open(folder / "grades.csv") as f:
        rows = {row["submission"]: row for row in csv.DictReader(f)}
    names = sorted(e.name for e in checked(chapter))
    total = sum(e.points for e in checked(chapter))
    assert set(rows) == {"instructor.ipynb", "blank.ipynb", "mistakes-0.ipynb", "mistakes-1.ipynb"}
    assert list(next(iter(rows.values())))[1:-2] == names
    assert (
        float(rows["instructor.ipynb"]["total"]) == total == float(rows["blank.ipynb"]["possible"])
    )
    assert float(rows["blank.ipynb"]["total"]) == 0
    for n in (0, 1):
        lost = sum(e.points for e in checked(chapter) if e.name in halves(chapter)[n])
        assert float(rows[f"mistakes-{n}.ipynb"]["total"]) == total - lost
        said = (folder / "feedback" / f"mistakes-{n}.txt").read_text()
        for name in halves(chapter)[n]:
            assert MISTAKES[chapter][name][2] in said


@pytest.mark.parametrize("chapter", GRADED_CHAPTERS)
def test_the_blank_student_notebook_gets_nothing(graded, chapter):
    results = graded[chapter, "blank"]
    assert set(results) == {e.name for e in checked(chapter)}
    for question, (score, possible, feedback) in results.items():
        assert score == 0 and possible > 0, (question, score)
        assert "got NoneType" in feedback, feedback  # what `...` returns, said


@pytest.mark.parametrize("chapter", GRADED_CHAPTERS)
@pytest.mark.parametrize("half", [0, 1])
def test_a_named_mistake_loses_exactly_its_questions_points(graded, chapter, half):
    results = graded[chapter, f"mistakes-{half}"]
    wrong = halves(chapter)[half]
    for question, (score, possible, feedback) in results.items():
        if question in wrong:
            assert score == 0, (question, feedback)
            phrase = MISTAKES[chapter][question][2]
            assert phrase in feedback, (question, phrase, feedback)
        else:
            assert score == possible > 0, (question, feedback)


# ---------------------------------------------------------------------------------------
# What students get, and what they must not
# ---------------------------------------------------------------------------------------


SOLUTION_TAG = "otter_assign_solution_cell"


def text_of(nb) -> str:
    """Everything a notebook holds that a reader could see: its cells and its metadata."""
    return "\n".join([*(c.source for c in nb.cells), json.dumps(nb.metadata)])


def solution_text(instructor) -> list[str]:
    """Every line that only a solution has: the code between otter's solution markers and
    the lines of the reference answers (less those the exercise's own text has too), the
    hidden tests' names, and the address of the instructors' page."""
    public = "\n".join(
        re.sub(r"# BEGIN SOLUTION\n.*?# END SOLUTION", "", c.source, flags=re.S)
        for c in instructor.cells
        if SOLUTION_TAG not in c.metadata.get("tags", []) and "TESTS = {" not in c.source
    )
    lines = []
    for cell in instructor.cells:
        if SOLUTION_TAG not in cell.metadata.get("tags", []):
            continue
        inside = re.findall(r"# BEGIN SOLUTION\n(.*?)# END SOLUTION", cell.source, re.S)
        lines += "\n".join(inside).split("\n") if inside else cell.source.split("\n")
    lines = [line.strip() for line in lines if len(line.strip()) >= 12]
    lines = [line for line in lines if line not in public]
    setup = next((c.source for c in instructor.cells if "TESTS = {" in c.source), "")
    return lines + re.findall(r"def (test_\w+_checker)", setup) + ["instructors.html"]


def leaks(student, instructor) -> list[str]:
    """The lines only a solution has that a student notebook holds (cells or metadata)."""
    text = text_of(student)
    return [line for line in solution_text(instructor) if line in text]


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_no_student_file_holds_a_solution_or_a_hidden_test(built, md):
    student = notebook(built, md.stem, "student")
    instructor = notebook(built, md.stem, "instructor")
    assert solution_text(instructor), "the instructor's notebook has no solutions"
    assert leaks(student, instructor) == []
    text = text_of(student)
    assert "hidden=True" not in text and "otter_assign_solution_cell" not in text
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
    # and the check can fail: a solution's line, a hidden test, pasted into a copy
    planted = copy.deepcopy(student)
    line = solution_text(instructor)[0]
    planted.cells.append(nbformat.v4.new_markdown_cell(line))
    assert leaks(planted, instructor) == [line]


@pytest.mark.parametrize("chapter", GRADED_CHAPTERS)
def test_the_student_notebook_holds_only_the_public_tests(built, chapter):
    student = notebook(built, chapter, "student")
    setup = next(c for c in student.cells if "TESTS = {" in c.source)
    names = [e.name for e in checked(chapter)]
    assert sorted(re.findall(r"def (test_\w+)\(", setup.source)) == sorted(
        f"test_{n}_runs" for n in names
    )
    assert "points=0, hidden=False" in setup.source
