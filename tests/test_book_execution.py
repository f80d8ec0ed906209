"""The book's own execution against the committed notebooks.

`make book` executes every chapter afresh, on the machine that builds it and with the
default numerical kernels, into its execution cache (_build/.jupyter_cache); the pages show
those outputs and those glued values. The committed notebooks (chapters/*.ipynb) are what
Colab opens and what the prose of the notebooks quotes. For every chapter, here:

every cell tagged `nbval-check-output` shows what the committed notebook shows, compared as
nbval compares them (`--nbval-lax`, with the sanitizer of tests/nbval_sanitize.cfg): what
it prints, and the values it glues for the prose, floats excepted. Counts and words are
what any machine computes, while a float's last bits differ from one processor to the next
(what the prose concludes from a float, a cell checks with `claim`).

tests/test_colab.py executes every notebook a second time, under the second set of
numerical kernels, with nbval, in a fresh Colab-like environment.
"""

from __future__ import annotations

import configparser
import re
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import coalesce_streams, transform_streams_for_comparison
from test_notebooks import notebooks  # _ext/notebooks.py

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))
CACHE = ROOT / "_build" / ".jupyter_cache"
GLUE = "application/papermill.record/"
# what nbval does not compare (its skip list, images included, as without --nbdime)
SKIPPED = {
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "name",
    "execution_count",
    "application/vnd.jupyter.widget-view+json",
    "image/png",
    "image/jpeg",
}


def sanitizers() -> list[tuple[re.Pattern, str]]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "tests" / "nbval_sanitize.cfg")
    return [(re.compile(parser[s]["regex"], re.M), parser[s]["replace"]) for s in parser.sections()]


SANITIZERS = sanitizers()


def sanitize(text) -> str:
    text = "".join(text) if isinstance(text, list) else str(text)
    for pattern, replacement in SANITIZERS:
        text = pattern.sub(replacement, text)
    return text


def compared(outputs: list) -> dict[str, list[str]]:
    """The outputs of a cell as nbval compares them: consecutive stream outputs merged (how a
    kernel cuts what a cell prints into outputs depends on when it flushes), each key of each
    output (the MIME types of its data flattened) with its values in order, sanitized."""
    flat = defaultdict(list)
    merged = coalesce_streams([nbformat.from_dict(o) for o in outputs])
    for output in transform_streams_for_comparison(merged):
        for key, value in output.items():
            if key == "data":
                for mime, data in value.items():
                    if mime not in SKIPPED:
                        flat[mime].append(sanitize(data))
            elif key not in SKIPPED:
                flat[key].append(sanitize(value))
    return dict(flat)


def differences(committed, executed) -> list[str]:
    """Where `executed` differs from `committed` in what nbval compares: the outputs of the
    cells tagged nbval-check-output, glued values included."""
    code = [
        [c for c in notebook.cells if c.cell_type == "code"] for notebook in (committed, executed)
    ]
    # the code as the chapter has it: a committed solution's cell has a title line for Colab
    if [s for s, _ in notebooks.code_cells(committed)] != [
        s for s, _ in notebooks.code_cells(executed)
    ]:
        return ["the code differs: the committed notebook is out of date"]
    found = []
    for n, (c, e) in enumerate(zip(*code)):
        if "nbval-check-output" in c.metadata.get("tags", []):
            stored, shown = compared(c.outputs), compared(e.outputs)
            if stored != shown:
                found.append(f"code cell {n} shows {shown}, the committed notebook {stored}")
    return found


def executed_by_the_book(md: Path):
    """The chapter as `make book` last executed it, from the execution cache."""
    from jupyter_cache import get_cache

    if not CACHE.is_dir():
        pytest.fail("the execution cache is missing: run `make book` first")
    records = [r for r in get_cache(str(CACHE)).list_cache_records() if r.uri == str(md)]
    if not records:
        pytest.fail(f"{md.name} was never executed by `make book`")
    latest = max(records, key=lambda r: r.created)
    return get_cache(str(CACHE)).get_cache_bundle(latest.pk).nb


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_the_books_execution_shows_what_the_committed_notebook_shows(md):
    committed = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    assert differences(committed, executed_by_the_book(md)) == []


def notebook(source: str, outputs: list, tagged: bool = True):
    cell = nbformat.v4.new_code_cell(source, outputs=outputs)
    if tagged:
        cell.metadata["tags"] = ["nbval-check-output"]
    return nbformat.v4.new_notebook(cells=[cell])


def glue_output(name: str, text: str):
    return nbformat.v4.new_output(
        "display_data",
        data={f"{GLUE}text/plain": text},
        metadata={"scrapbook": {"mime_prefix": GLUE, "name": name}},
    )


def printed(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


@pytest.mark.parametrize(
    "stored, executed, same",
    [
        ("4547473508864641", "4547473508864641", True),
        ("4.547473508864641e-12", "3.637978807091713e-12", True),  # another CPU's last bits
        ("0.9345794392523364", "0.8060747663551402", True),  # a float: checked by claims
        ("3999", "3999", True),
        ("3999", "4000", False),  # a glued count is compared
        ("'ViT-B/16'", "'ViT-B/32'", False),  # and a glued word
    ],
)
def test_glued_counts_and_words_are_compared_but_not_float_bits(stored, executed, same):
    # the values a checked cell glues, stored and shown
    committed = notebook("glue('x', v)", [glue_output("x", stored)])
    run = notebook("glue('x', v)", [glue_output("x", executed)])
    assert (differences(committed, run) == []) == same


def test_a_checked_cell_that_prints_otherwise_is_found_and_an_unchecked_one_is_not():
    assert (
        differences(
            notebook("print(1/4)", [printed("0.25\n")]), notebook("print(1/4)", [printed("0.25\n")])
        )
        == []
    )
    changed = differences(
        notebook("print(1/4)", [printed("0.25\n")]), notebook("print(1/4)", [printed("0.5\n")])
    )
    assert changed and "0.5" in changed[0]
    unchecked = [notebook("print(x)", [printed(t)], tagged=False) for t in ("1\n", "2\n")]
    assert differences(*unchecked) == []


def test_what_a_cell_prints_is_compared_however_the_kernel_cut_it_into_outputs():
    whole = notebook("print(a); print(b)", [printed("first\nsecond\n")])
    cut = notebook("print(a); print(b)", [printed("first\n"), printed("second\n")])
    assert differences(whole, cut) == []
    other = notebook("print(a); print(b)", [printed("first\n"), printed("third\n")])
    assert differences(whole, other)
