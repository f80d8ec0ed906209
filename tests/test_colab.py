"""Every committed chapter notebook, and every student notebook of the assignments, runs as
a student meets it in Colab.

A fresh virtual environment holds only PyTorch, the Jupyter kernel and ipywidgets, as a
Colab runtime does before the first cell, and the harness that runs the notebooks
(nbclient, and nbval with pytest). Each notebook is copied to another working directory and run top to bottom,
unchanged: its first cell finds no `minivlm` (nor, in an assignment, otter-grader) and
installs it with %pip, the package from this checkout instead of GitHub (MINIVLM_SOURCE),
and must leave PyTorch as it was. The first notebook of the test run to need a package
installs it; the later ones find it installed, as in a runtime that opens a second
notebook. Every chapter's first cell is the same code, and so is every assignment's install
(test_first_cells_are_the_same_code), so one install shown is each one shown.

The chapters run under nbval (`--nbval-lax`, as pytest.ini sets it), on the second set of
numerical kernels (the kernel minivlm-second-kernels, installed into the runtime): every
claim must hold and every cell tagged nbval-check-output must print what the committed
notebook shows, on kernels other than those that computed it. The values glued for the
book's pages are not compared here, since outside the book a glue shows nothing (Colab
has no myst-nb); tests/test_book_execution.py compares them, in the book's own execution.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import torch
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
TORCH = torch.__version__.split("+")[0]  # the version this checkout pins


def run(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if result.returncode:
        pytest.fail(
            f"{' '.join(map(str, cmd))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result.stdout


def distributions_of(name: str) -> set[str]:
    """The distribution `name` of this environment and every one it requires, here."""
    found, todo = set(), [name]
    while todo:
        dist = metadata.distribution(todo.pop())
        if dist.name.lower() in found:
            continue
        found.add(dist.name.lower())
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return found


def link_torch(into: Path) -> None:
    """PyTorch and what it requires, as this environment has them, linked into a folder:
    what a Colab runtime has before the first cell, without copying 700 MB per test run.
    Each distribution's top-level modules and its .dist-info, so that pip sees them."""
    into.mkdir()
    for name in distributions_of("torch"):
        dist = metadata.distribution(name)
        for top in {f.parts[0] for f in dist.files or []}:
            source = Path(dist.locate_file(top))
            if top.endswith((".pth", "__pycache__")) or not source.exists() or top == "..":
                continue
            if not (into / top).exists():
                (into / top).symlink_to(source)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """(python, env, home): a fresh venv with torch, ipykernel and nbclient, nothing else.
    torch is this environment's own, linked (the version requirements.txt pins)."""
    home = tmp_path_factory.mktemp("colab")
    venv = home / "venv"
    run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    link_torch(home / "torch")
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    (Path(purelib.strip()) / "preinstalled-torch.pth").write_text(f"{home / 'torch'}\n")
    # the harness, at the versions of the book's environment; and ipywidgets, which Colab
    # has (without it, tqdm's progress bars, inside transformers, warn on stderr instead)
    harness = [
        f"{name}=={metadata.version(name)}"
        for name in ("nbclient", "nbval", "pytest", "ipywidgets")
    ]
    run([python, "-m", "pip", "install", "--quiet", "ipykernel", *harness])
    # the second set of numerical kernels, as a kernel of this runtime, for nbval
    shutil.copytree(ROOT / "tests" / "kernels", home / "jupyter" / "kernels")
    # the environment of a fresh shell with this venv first: nothing of the book's .venv
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if ".venv" not in p]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(
        PATH=os.pathsep.join([str(venv / "bin"), *path]),
        JUPYTER_DATA_DIR=str(home / "jupyter"),  # the venv's own python3 kernel, no other
        JUPYTER_PATH="",
    )
    return python, env, home


@pytest.fixture(scope="module")
def source(runtime):
    """A copy of code/: pip builds a local project in its own folder, and that folder
    should not be the checkout's."""
    _, _, home = runtime
    copy = home / "code"
    shutil.copytree(
        ROOT / "code", copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    return f"minivlm[book] @ {copy.as_uri()}"


def installed(python, env) -> dict[str, str]:
    listing = json.loads(run([python, "-m", "pip", "list", "--format", "json"], env=env))
    return {p["name"].lower(): p["version"] for p in listing}


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 7


# the packages that a notebook's first cell has installed into this test run's runtime
INSTALLED_BY_A_FIRST_CELL: set[str] = set()


def nbval_options() -> list[str]:
    """The options of pytest.ini that make nbval compare the tagged cells under the second
    kernels, its sanitizer's path made absolute."""
    parser = configparser.ConfigParser()
    parser.read(ROOT / "pytest.ini")
    options = parser["pytest"]["addopts"].split()
    nbval = []
    for n, option in enumerate(options):
        if option == "--nbval-lax":
            nbval.append(option)
        elif option in ("--nbval-kernel-name", "--nbval-sanitize-with"):
            value = options[n + 1]
            nbval += [option, str(ROOT / value) if option == "--nbval-sanitize-with" else value]
    return nbval


def without_glue_records(notebook: Path) -> None:
    """The notebook without the records of its glued values, which only the book reads
    (outside the book a glue records nothing, so nbval would miss them)."""
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            outputs = cell.get("outputs", [])
            cell["outputs"] = [o for o in outputs if not o.get("metadata", {}).get("scrapbook")]
    notebook.write_text(json.dumps(nb))


def run_notebook(
    python, env, notebook: Path, packages: tuple[str, ...], compare: bool = False
) -> None:
    """Run notebook top to bottom in the runtime, from another folder; packages are those its
    first cell installs when missing: each is removed first unless a first cell has already
    installed it in this test run. With compare, under nbval, on the second kernels."""
    before = installed(python, env)
    for package in packages:
        if package in before and package not in INSTALLED_BY_A_FIRST_CELL:
            run([python, "-m", "pip", "uninstall", "--quiet", "--yes", package], env=env)
    before = installed(python, env)
    folder = notebook.parent
    if compare:
        (folder / "pytest.ini").write_text("[pytest]\n")  # none of the checkout's settings
        without_glue_records(notebook)
        command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "pytest.ini"]
        command += ["--rootdir", ".", *nbval_options()]
        run([*command, "--nbval-cell-timeout=900", notebook.name], cwd=folder, env=env)
    else:
        execute = python.parent / "jupyter-execute"  # nbclient's command line; fails on an error
        run([execute, "--timeout=600", "--inplace", notebook.name], cwd=folder, env=env)
    after = installed(python, env)
    for package in packages:
        assert package in after, f"the first cell did not install {package}"
        INSTALLED_BY_A_FIRST_CELL.add(package)
    assert after["torch"] == before["torch"], "installing the packages replaced PyTorch"


def first_cell(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


def test_first_cells_are_the_same_code(assignments_built):
    assert len({first_cell(nb) for nb in NOTEBOOKS}) == 1
    setups = {
        re.sub(r"TESTS = \{(\n.*?\n)?\}\n|\"\w+\"\n", "", first_cell(nb), flags=re.S)
        for nb in assignments_built.glob("*/student/*.ipynb")
        if "import otter" in first_cell(nb)  # the summary's has nothing to autograde
    }
    assert len(setups) == 1 and "%pip install" in setups.pop()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_a_fresh_colab_like_runtime_and_shows_what_it_shows(
    runtime, source, notebook, tmp_path
):
    python, env, _ = runtime
    work = tmp_path / "elsewhere"  # not the repository: nothing to import from the cwd
    work.mkdir()
    shutil.copy(notebook, work / notebook.name)
    run_notebook(
        python, {**env, "MINIVLM_SOURCE": source}, work / notebook.name, ("minivlm",), compare=True
    )


# ---------------------------------------------------------------------------------------
# The students' assignments (make assignments): the student notebook of every chapter
# ---------------------------------------------------------------------------------------

CHAPTER_NAMES = [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("chapter", CHAPTER_NAMES)
def test_student_assignment_runs_in_a_fresh_colab_like_runtime(
    runtime, source, assignments_built, chapter, tmp_path
):
    """The blank student notebook, as handed out: its first cell installs the package and
    otter-grader, and every grader.check runs its public test, offline, and says what is
    missing."""
    python, env, _ = runtime
    work = tmp_path / "elsewhere"
    work.mkdir()
    notebook = work / f"{chapter}.ipynb"
    shutil.copy(assignments_built / chapter / "student" / notebook.name, notebook)
    packages = (
        ("minivlm", "otter-grader") if "import otter" in first_cell(notebook) else ("minivlm",)
    )
    run_notebook(python, {**env, "MINIVLM_SOURCE": source}, notebook, packages)
    executed = json.loads(notebook.read_text())
    checks = [
        c
        for c in executed["cells"]
        if c["cell_type"] == "code" and "grader.check(" in "".join(c["source"])
    ]
    for cell in checks:
        shown = json.dumps(cell["outputs"])
        # the public test ran, and says that the function is not written yet
        assert "results" in shown and "got NoneType" in shown, shown[:2000]
