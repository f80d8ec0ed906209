"""Grade a folder of submitted notebooks with an assignment's autograder, locally (no Docker).

    python _ext/grade.py --autograder _build/assignments/cnn/cnn-autograder.zip SUBMISSIONS
    make grade ASSIGNMENT=cnn SUBMISSIONS=path/to/folder               # the same

otter-grader's own `otter grade` runs each submission in a Docker container; `otter run`
grades one notebook without one. This runs otter run's grading (otter.api.grade_submission)
on every .ipynb of SUBMISSIONS, two at a time, and writes into SUBMISSIONS:

- grades.csv: one row per submission, the score of each autograded question, `total` (their
  sum) and `possible` (the autograded points);
- feedback/<submission>.txt: what the student would read on Gradescope, question by question,
  with the checker's message that names a mistake.

The questions graded by hand are not in the CSV: they are graded on Gradescope, or by reading
the notebooks, with the reference answers of the instructor's notebook. Nothing isolates the
students' code from this machine (otter grade's containers would): grade where you would run
it yourself.
"""

from __future__ import annotations

import argparse
import csv
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def grade(submission: Path, autograder: Path) -> dict[str, tuple[float, float, str]]:
    """One submission: question -> (score, points, feedback)."""
    from otter.api import grade_submission

    results = grade_submission(str(submission), str(autograder), quiet=True)
    return {
        name: (test.score, test.possible, test.summary())
        for name, test in sorted(results.results.items())
    }


def grade_all(jobs: list[tuple[Path, Path]], workers: int = 2) -> list[dict]:
    """Every (submission, autograder) graded, in order, `workers` at a time (each submission
    runs in a kernel of its own)."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(grade, *zip(*jobs)))


def grade_folder(folder: Path, autograder: Path, workers: int = 2) -> dict[str, dict]:
    """Grade every notebook of folder; write grades.csv and feedback/ there. Returns
    submission name -> question -> (score, points, feedback)."""
    if not Path(autograder).is_file():
        raise FileNotFoundError(f"no autograder at {autograder}: run make assignments first")
    notebooks = sorted(Path(folder).glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no .ipynb submissions in {folder}")
    results = grade_all([(nb, autograder) for nb in notebooks], workers)
    questions = sorted({q for result in results for q in result})
    feedback = Path(folder) / "feedback"
    feedback.mkdir(exist_ok=True)
    with open(Path(folder) / "grades.csv", "w", newline="") as f:
        table = csv.writer(f)
        table.writerow(["submission", *questions, "total", "possible"])
        for path, result in zip(notebooks, results):
            scores = [result[q][0] if q in result else 0 for q in questions]
            points = sum(result[q][1] for q in result)
            table.writerow([path.name, *scores, sum(scores), points])
            text = "\n\n".join(f"{q}: {s:g} of {p:g}\n{said}" for q, (s, p, said) in result.items())
            (feedback / f"{path.stem}.txt").write_text(text + "\n")
    return {path.stem: result for path, result in zip(notebooks, results)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="a folder of submitted .ipynb files")
    parser.add_argument("--autograder", type=Path, required=True, help="<chapter>-autograder.zip")
    parser.add_argument("--workers", type=int, default=2, help="submissions graded at once")
    args = parser.parse_args(argv)
    try:
        results = grade_folder(args.submissions, args.autograder, args.workers)
    except FileNotFoundError as error:
        raise SystemExit(str(error)) from None
    print(f"graded {len(results)} submissions: {args.submissions / 'grades.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
