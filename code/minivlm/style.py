"""One look for every figure of the book, and the measurements that hold each figure to it.

A figure must be readable by a reader who does not see colours as most do, and at the size
the page shows it:

- lines and bars take Okabe and Ito's colours, chosen to stay distinct under the common
  colour-vision deficiencies, and each line also its own dash pattern, so that two compared
  lines differ in more than colour (WCAG 1.4.1, use of colour);
- a heat map takes a perceptually uniform colour map, whose lightness grows evenly with the
  value, and carries a colour bar that gives its scale;
- no text is smaller than MIN_TEXT_PX pixels as the page shows it: a figure wider than the
  text column is shrunk to the column, and its text with it;
- no text runs into another, or into the picture or heat map of another panel.

`measure` reads these off a drawn figure; `problems` says which a figure breaks. The book's
chapters record the measurement of every figure they show in its output's metadata
(minivlm.viz.setup), and the tests hold every figure of every chapter to the bars.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
from cycler import cycler
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.text import Text

# Okabe and Ito (2008), "Color Universal Design", in the order lines take them: the first
# five have a contrast of at least 3:1 on white (WCAG 1.4.11, graphical objects)
OKABE_ITO = {
    "blue": "#0072B2",
    "vermilion": "#D55E00",
    "green": "#009E73",
    "black": "#000000",
    "purple": "#CC79A7",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
}
DASHES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (1, 3)), (0, (3, 3))]
# the colour maps whose lightness changes evenly along the map (matplotlib's perceptually
# uniform sequential maps), and the greys for pictures that are grey (digits, photographs)
UNIFORM = {"viridis", "cividis", "magma", "inferno", "plasma"}
GREYS = {"gray", "gray_r", "Greys", "Greys_r", "binary", "binary_r"}
# the text column of a chapter in a 1280-pixel-wide browser window: a wider figure is shrunk
# to it (measured by tests/test_browser.py)
PAGE_PX = 688
MIN_TEXT_PX = 9.0
DPI = 110


def apply() -> None:
    """The book's look, as matplotlib's defaults."""
    mpl.rcParams.update(
        {
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "figure.figsize": (6.4, 3.6),
            "axes.prop_cycle": cycler(color=list(OKABE_ITO.values()), linestyle=DASHES),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "image.cmap": "viridis",
            "font.size": 10,
        }
    )


def _shown_texts(fig) -> list[Text]:
    """The texts that the drawn figure shows: visible, not empty, and not the tick labels
    or axis labels of an Axes whose axis is off."""
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = [axis.label, axis.get_offset_text()]
            labels += [t.label1 for t in axis.get_major_ticks() + axis.get_minor_ticks()]
            labels += [t.label2 for t in axis.get_major_ticks() + axis.get_minor_ticks()]
            if not ax.axison or not axis.get_visible():
                hidden.update(labels)
            else:  # ticks outside the view are kept but not drawn
                lo, hi = sorted(axis.get_view_interval())
                slack = (hi - lo) * 1e-9
                for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                    if not lo - slack <= tick.get_loc() <= hi + slack:
                        hidden.update((tick.label1, tick.label2))
    return [
        t
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t not in hidden and t.figure is fig
    ]


def measure(fig) -> dict:
    """What a reader needs of the figure `fig`, once drawn, at the page's width:

    - `smallest_text_px`: its smallest text, in CSS pixels, as the page shows it;
    - `heat_maps`: for each image of values (not a picture in colour), its colour map and
      whether a colour bar gives its scale;
    - `same_looking_lines`: pairs of labelled lines on one Axes that differ only in colour;
    - `overlapping_texts`: pairs of texts drawn over one another, or over an image of
      another Axes (a title under the picture above it), the image named "[image]".
    """
    width_px = fig.get_figwidth() * fig.dpi
    shrink = min(1.0, PAGE_PX / width_px)
    sizes = [t.get_fontsize() for t in _shown_texts(fig)]
    smallest = min(sizes) * fig.dpi / 72 * shrink if sizes else None
    images = [im for ax in fig.axes for im in ax.get_images() if isinstance(im, AxesImage)]
    # a colour bar's own Axes draws its scale as an image or a mesh of the same map
    with_bar = {id(im) for im in images if getattr(im, "colorbar", None) is not None}
    bars = [im for im in images if id(im) in with_bar]
    heat_maps = []
    for im in images:
        if np.ndim(im.get_array()) != 2:  # RGB(A): a picture, with colours of its own
            continue
        name = im.get_cmap().name
        shared = any(
            b.get_cmap().name == name
            and b.norm.vmin == im.norm.vmin
            and b.norm.vmax == im.norm.vmax
            for b in bars
        )
        heat_maps.append({"cmap": name, "colour_bar": id(im) in with_bar or shared})
    same = []
    for ax in fig.axes:
        lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
        for i, a in enumerate(lines):
            for b in lines[i + 1 :]:
                if _pattern(a) == _pattern(b):
                    same.append([a.get_label(), b.get_label()])
    return {
        "smallest_text_px": None if smallest is None else round(smallest, 2),
        "heat_maps": heat_maps,
        "same_looking_lines": same,
        "overlapping_texts": _overlapping(fig, images),
    }


OVERLAP_PX = 1.0  # two boxes that share less than this, across and down, only touch


def _overlapping(fig, images) -> list[list[str]]:
    """Pairs of shown texts whose drawn boxes overlap, and texts over an image that another
    Axes shows (a text on its own Axes' image, such as a heat map's cell values, is meant)."""
    renderer = fig.canvas.get_renderer()
    texts = _shown_texts(fig)
    boxes = [t.get_window_extent(renderer) for t in texts]

    def meet(a, b) -> bool:
        across = min(a.x1, b.x1) - max(a.x0, b.x0)
        down = min(a.y1, b.y1) - max(a.y0, b.y0)
        return across > OVERLAP_PX and down > OVERLAP_PX

    out = []
    for i, a in enumerate(texts):
        for j in range(i + 1, len(texts)):
            if meet(boxes[i], boxes[j]):
                out.append([a.get_text(), texts[j].get_text()])
        for im in images:
            if im.axes is not a.axes and meet(boxes[i], im.get_window_extent(renderer)):
                out.append([a.get_text(), "[image]"])
    return out


def _pattern(line: Line2D):
    """What tells a line apart without its colour: its dashes and its marker. (matplotlib
    names a custom dash pattern "--" like the plain dashes, and keeps the pattern itself in
    an attribute of its own, with no public getter.)"""
    style = line.get_linestyle()
    _, dashes = getattr(line, "_unscaled_dash_pattern", (None, None))
    drawn = None if style in ("None", "", " ") else (style, tuple(dashes or ()))
    marker = line.get_marker()
    return drawn, None if marker in ("None", None, "", " ") else marker


def problems(measured: dict) -> list[str]:
    """What in a figure's measurement falls short of the book's bars, in words."""
    out = []
    px = measured["smallest_text_px"]
    if px is not None and px < MIN_TEXT_PX:
        out.append(f"text of {px:.1f} px at the page's width (at least {MIN_TEXT_PX:g})")
    for heat in measured["heat_maps"]:
        if heat["cmap"] in GREYS:
            continue
        if heat["cmap"] not in UNIFORM:
            out.append(f"a heat map in {heat['cmap']!r}, not a perceptually uniform map")
        if not heat["colour_bar"]:
            out.append(f"a heat map in {heat['cmap']!r} without a colour bar")
    for a, b in measured["same_looking_lines"]:
        out.append(f"lines {a!r} and {b!r} differ only in colour")
    for a, b in measured.get("overlapping_texts", []):
        out.append(f"text {a!r} runs into {b!r}")
    return out


def record_in_outputs(shell) -> None:
    """Make IPython put `measure`'s result into the metadata of every figure a cell shows,
    next to the PNG, where the book's tests read it (the PNG itself is unchanged)."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    # pyplot loads its backend at the first figure, and IPython's inline backend, as it
    # loads, registers the PNG formatter that this wraps: load it now (no figure is open
    # yet for switch_backend to close)
    plt.switch_backend(mpl.get_backend())

    png = shell.display_formatter.formatters["image/png"]
    try:
        draw = png.lookup_by_type(Figure)
    except KeyError:  # figures are not shown as PNG here: nothing to measure
        return
    if getattr(draw, "measures", False):  # setup() run twice: once is enough
        return

    def draw_and_measure(fig):
        drawn = draw(fig)
        data, metadata = drawn if isinstance(drawn, tuple) else (drawn, {})
        # the PNG is drawn cropped to its contents, which leaves the texts placed where the
        # crop put them and the images where the figure does: lay the figure out again, as
        # drawn but uncropped, so that texts and images are measured in one frame
        fig.draw_without_rendering()
        return data, {**metadata, "minivlm": measure(fig)}

    draw_and_measure.measures = True
    png.for_type(Figure, draw_and_measure)
