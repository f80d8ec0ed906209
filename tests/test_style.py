"""minivlm.style: the book's look for figures, and the measurement that holds a figure to it,
each bar shown to catch the figure that breaks it."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from minivlm import style  # noqa: E402


@pytest.fixture(autouse=True)
def book_style():
    with matplotlib.rc_context():
        style.apply()
        yield
    plt.close("all")


def drawn(fig):
    fig.canvas.draw()
    return style.measure(fig)


def contrast_on_white(colour: str) -> float:
    def channel(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in to_rgb(colour))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def test_lines_take_okabe_itos_colours_and_each_its_own_dashes():
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()
    assert cycle["color"] == list(style.OKABE_ITO.values())
    assert len(set(map(str, cycle["linestyle"]))) == len(cycle["linestyle"]) == 8
    # the first five colours, those a figure uses first, stand out from a white page (3:1)
    assert all(contrast_on_white(c) >= 3 for c in cycle["color"][:5])
    fig, ax = plt.subplots()
    for k in range(6):
        ax.plot([0, 1], [k, k], label=f"run {k}")
    assert drawn(fig)["same_looking_lines"] == []


def test_lines_that_differ_only_in_colour_are_caught():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], "-", label="train")
    ax.plot([0, 1], [1, 0], "-", label="test")
    ax.plot([0, 1], [1, 1], "o", label="points")  # a marker without a line: told apart
    measured = drawn(fig)
    assert measured["same_looking_lines"] == [["train", "test"]]
    assert style.problems(measured) == ["lines 'train' and 'test' differ only in colour"]


def test_text_is_measured_at_the_size_the_page_shows_it():
    fig, ax = plt.subplots(figsize=(4, 3))  # narrower than the page's column: shown as drawn
    ax.set_title("title", fontsize=12)
    ax.set_xlabel("x", fontsize=8)
    assert drawn(fig)["smallest_text_px"] == pytest.approx(8 * style.DPI / 72, abs=0.01)
    wide, ax = plt.subplots(figsize=(12, 3))  # 1,320 pixels, shrunk to the 688 of the column
    ax.set_xlabel("x", fontsize=8)
    px = 8 * style.DPI / 72 * style.PAGE_PX / (12 * style.DPI)
    measured = drawn(wide)
    assert measured["smallest_text_px"] == pytest.approx(px, abs=0.01)
    assert style.problems(measured) == [f"text of {px:.1f} px at the page's width (at least 9)"]


def test_the_labels_of_a_hidden_axis_do_not_count():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(np.zeros((4, 4, 3)))
    ax.tick_params(labelsize=2)
    ax.axis("off")
    ax.set_title("a picture", fontsize=10)
    assert drawn(fig)["smallest_text_px"] == pytest.approx(10 * style.DPI / 72, abs=0.01)


def test_a_heat_map_needs_a_uniform_map_and_a_colour_bar():
    fig, axes = plt.subplots(1, 4, figsize=(8, 2), layout="constrained")
    data = np.arange(16.0).reshape(4, 4)
    good = axes[0].imshow(data)
    fig.colorbar(good, ax=axes[0])
    axes[1].imshow(data, cmap="jet")
    axes[2].imshow(np.zeros((4, 4, 3)))  # a picture in colour: not a heat map
    axes[3].imshow(data, cmap="gray_r")  # a grey picture (a digit): no scale needed
    measured = drawn(fig)
    assert measured["heat_maps"] == [
        {"cmap": "viridis", "colour_bar": True},
        {"cmap": "jet", "colour_bar": False},
        {"cmap": "gray_r", "colour_bar": False},
    ]
    assert style.problems(measured) == [
        "a heat map in 'jet', not a perceptually uniform map",
        "a heat map in 'jet' without a colour bar",
    ]


def test_one_colour_bar_serves_maps_on_the_same_scale():
    fig, axes = plt.subplots(1, 3, figsize=(6, 2))
    ims = [ax.imshow(np.random.rand(4, 4), cmap="magma", vmin=0, vmax=1) for ax in axes]
    fig.colorbar(ims[0], ax=axes)
    assert all(h["colour_bar"] for h in drawn(fig)["heat_maps"])
    axes[2].imshow(np.random.rand(4, 4), cmap="magma", vmin=0, vmax=5)  # another scale
    assert [h["colour_bar"] for h in drawn(fig)["heat_maps"]] == [True, True, True, False]


def test_text_run_into_other_text_or_another_panels_picture_is_caught():
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.loglog([256, 4096], [1, 10], "o")  # log ticks' own labels at 300 and 400 collide
    assert ["$\\mathdefault{3\\times10^{2}}$", "$\\mathdefault{4\\times10^{2}}$"] in drawn(fig)[
        "overlapping_texts"
    ]
    ax.set_xticks([256, 1024, 4096], ["256", "1024", "4096"], minor=False)
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    assert drawn(fig)["overlapping_texts"] == []

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(2, 3))
    for ax in (top, bottom):
        ax.imshow(np.zeros((8, 8)), cmap="gray")
        ax.axis("off")
    bottom.set_title("a title under the picture above", y=1.3)
    assert drawn(fig)["overlapping_texts"] == [["a title under the picture above", "[image]"]]
    assert style.problems(drawn(fig)) == [
        "text 'a title under the picture above' runs into '[image]'"
    ]
    bottom.set_title("a title", y=1.0)
    bottom.text(4, 4, "0.5", ha="center")  # a value on its own heat map is meant
    assert drawn(fig)["overlapping_texts"] == []


def test_a_notebook_records_each_figures_measurement_in_its_output():
    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib.figure import Figure

    shell = InteractiveShell.instance()
    png = shell.display_formatter.formatters["image/png"]
    png.for_type(Figure, lambda fig: b"\x89PNG")  # what the inline backend registers
    style.record_in_outputs(shell)
    style.record_in_outputs(shell)  # a second set-up wraps nothing twice
    fig, ax = plt.subplots(figsize=(12, 3))
    ax.set_title("small", fontsize=6)
    data, metadata = shell.display_formatter.format(fig)
    assert data["image/png"] == b"\x89PNG"
    recorded = metadata["image/png"]["minivlm"]
    assert recorded == style.measure(fig) and recorded["smallest_text_px"] < style.MIN_TEXT_PX


def test_a_figure_cropped_for_its_png_is_measured_uncropped():
    import io

    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib.figure import Figure

    def png_cropped(fig):  # what the inline backend does: the PNG cropped to its contents
        out = io.BytesIO()
        fig.canvas.print_figure(out, format="png", bbox_inches="tight")
        return out.getvalue()

    shell = InteractiveShell.instance()
    shell.display_formatter.formatters["image/png"].for_type(Figure, png_cropped)
    style.record_in_outputs(shell)
    fig, (ax, other) = plt.subplots(1, 2, figsize=(10, 3.6))
    image = ax.imshow(np.random.rand(41, 41))
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="÷ its maximum")
    other.bar(range(10), range(10))
    fig.tight_layout()
    # the crop moves the label left by the width of the margin it cuts, over the image, in
    # the figure's own frame: measured there, it would seem to run into it
    _, metadata = shell.display_formatter.format(fig)
    assert metadata["image/png"]["minivlm"]["overlapping_texts"] == []


# --- every figure of every chapter, as its committed notebook records it ----------------

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "chapters").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_of_the_chapter_meets_the_books_bars(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    figures = [
        (n, output)
        for n, cell in enumerate(cells)
        if cell["cell_type"] == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert figures, f"{notebook.name} shows no figure"
    for n, output in figures:
        measured = output.get("metadata", {}).get("image/png", {}).get("minivlm")
        assert measured is not None, f"cell {n}: a figure drawn without minivlm.viz.setup()"
        assert style.problems(measured) == [], f"{notebook.name}, cell {n}: {measured}"
