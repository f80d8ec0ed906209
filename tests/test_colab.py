"""Every committed chapter notebook runs as a student meets it in Colab.

A fresh virtual environment holds only PyTorch and the Jupyter kernel, as a Colab runtime
does before the first cell. Each notebook is copied to another working directory and run
top to bottom, unchanged: its first cell finds no `minivlm` and installs it with %pip, from
this checkout instead of GitHub (MINIVLM_SOURCE), and must leave PyTorch as it was. Between
notebooks the package is uninstalled again, so that every first cell really installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

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


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """(python, env, home): a fresh venv with torch, ipykernel and nbclient, nothing else."""
    home = tmp_path_factory.mktemp("colab")
    venv = home / "venv"
    run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "--quiet", f"torch=={TORCH}", "ipykernel", "nbclient"])
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


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_a_fresh_colab_like_runtime(runtime, source, notebook, tmp_path):
    python, env, _ = runtime
    env = {**env, "MINIVLM_SOURCE": source}
    before = installed(python, env)
    if "minivlm" in before:  # a fresh runtime for every notebook, as far as the package goes
        run([python, "-m", "pip", "uninstall", "--quiet", "--yes", "minivlm"], env=env)
        before = installed(python, env)
    assert "minivlm" not in before
    work = tmp_path / "elsewhere"  # not the repository: nothing to import from the cwd
    work.mkdir()
    shutil.copy(notebook, work / notebook.name)
    execute = python.parent / "jupyter-execute"  # nbclient's command line; fails on an error
    run([execute, "--timeout=600", notebook.name], cwd=work, env=env)
    after = installed(python, env)
    assert "minivlm" in after, "the first cell did not install the package"
    assert after["torch"] == before["torch"], "installing the package replaced PyTorch"
