"""Every chapter's Markdown and its committed notebook (Colab, nbval) say the same thing."""

from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))
INSTALL_SOURCE = (
    '"minivlm[book] @ git+https://github.com/vlm-foundations/vlm-foundations-book"\n'
    '        "#subdirectory=code"'
)


def cells(notebook):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in notebook.cells]


def test_there_are_chapters():
    assert len(CHAPTERS) >= 2


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_notebook_in_sync_with_markdown(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run `make notebooks` and commit it"
    source = jupytext.read(md)
    committed = nbformat.read(ipynb, as_version=4)
    assert cells(committed) == cells(source), (
        f"{ipynb.name} is out of sync with {md.name}: run `make notebooks` and commit both"
    )


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_notebook_is_executed_without_errors(md):
    committed = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), f"{md.stem}.ipynb has unexecuted cells"
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{md.stem}.ipynb was not executed top to bottom"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{md.stem}.ipynb stores an error: {errors[0].ename}: {errors[0].evalue}"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_first_cell_installs_the_package_only_when_missing(md):
    first = next(c for c in jupytext.read(md).cells if c.cell_type == "code").source
    assert "import minivlm" in first and "except ImportError" in first
    assert INSTALL_SOURCE in first, "the first cell must install minivlm from the repository's code/ folder"
    assert "torch" not in first.replace("PyTorch", ""), "the first cell must never (re)install torch"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_prose_relies_on_compared_outputs(md):
    tagged = [c for c in jupytext.read(md).cells if "nbval-check-output" in c.metadata.get("tags", [])]
    assert tagged, f"{md.name} has no cell tagged nbval-check-output: nbval would only run it"
