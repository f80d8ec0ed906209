"""Execute every chapter notebook, one after the other, and print each one's time.

    .venv/bin/python benchmarks/chapters.py            # every chapter
    .venv/bin/python benchmarks/chapters.py clip llava # some of them

Targets on a 2-core CPU: at most 60 s a chapter (90 s for the CLIP and LLaVA chapters,
which train models) and 5 minutes for the whole book.
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"
BUDGET = {"clip": 90.0, "llava": 90.0}


def main(names: list[str]) -> None:
    paths = (
        [CHAPTERS / f"{n}.ipynb" for n in names]
        if names
        else sorted(CHAPTERS.glob("*.ipynb"))
    )
    total = 0.0
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(
            notebook, timeout=600, resources={"metadata": {"path": str(CHAPTERS)}}
        ).execute()
        seconds = time.perf_counter() - start
        total += seconds
        budget = BUDGET.get(path.stem, 60.0)
        print(f"{path.stem:12} {seconds:6.1f} s   (budget {budget:.0f} s)", flush=True)
    print(f"{'total':12} {total:6.1f} s   (budget 300 s)")


if __name__ == "__main__":
    main(sys.argv[1:])
