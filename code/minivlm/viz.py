"""Plotting and page helpers shared by the chapters."""

from __future__ import annotations

import inspect

from matplotlib.ticker import NullFormatter

from . import style


def setup() -> None:
    """One look for every figure of the book (minivlm.style); in a notebook, each figure a
    cell shows also carries its measurement (text size at the page's width, colour maps,
    colour bars, lines told apart without colour) in its output's metadata."""
    style.apply()
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to record into
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "display_formatter"):
        style.record_in_outputs(shell)


def show_source(obj):
    """Display the package's own source of a function or class, syntax-highlighted.

    The book shows the code that runs, never a copy of it, so page and package cannot drift.
    """
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")


def glue(name: str, value, display: bool = False):
    """myst_nb.glue where the book is built, so the prose can quote the value; a no-op
    elsewhere (Colab), where the cells print what the prose quotes."""
    try:
        from myst_nb import glue as _glue
    except ImportError:
        return
    _glue(name, value, display=display)


def claim(statement: str, holds) -> None:
    """Check a sentence of the prose against the run that the page shows, and print it.

    The prose states results in words ("two heads beat one", "above chance"); the cell that
    measures them passes the comparison behind the words, margin included, as `holds`. On a
    machine where it fails, the cell raises, and the build stops instead of printing a false
    sentence. What is printed does not depend on the run, so the output is the same on every
    machine where the claim is true.
    """
    if not isinstance(statement, str) or not statement:
        raise TypeError(f"statement must be a non-empty str, got {statement!r}")
    if hasattr(holds, "item") and (not hasattr(holds, "numel") or holds.numel() == 1):
        holds = holds.item()  # a NumPy bool, or a one-element tensor
    if not isinstance(holds, bool):
        raise TypeError(f"holds must be a bool (the comparison itself), got {holds!r}")
    if not bool(holds):
        raise AssertionError(f"the page says that {statement}, and this run does not show it")
    print(f"checked: {statement}")


def heatmap(
    ax,
    matrix,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    cmap: str = "viridis",
    colorbar: bool = True,
    **kwargs,
):
    """imshow of a 2-D tensor or array with labels and an optional colour bar."""
    data = matrix.detach().cpu().numpy() if hasattr(matrix, "detach") else matrix
    im = ax.imshow(data, cmap=cmap, **kwargs)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(False)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return im


def log_ticks(ax, values, axis: str = "x") -> None:
    """Label a log axis at `values` and nowhere else: on an axis that spans little more than
    a decade, matplotlib labels its minor ticks too, and the labels run into each other."""
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_ticks(list(values), [f"{v:,}" for v in values])
    target.set_minor_formatter(NullFormatter())


def show_image(ax, image, title: str = ""):
    """Show a (3, H, W) or (1, H, W) tensor in [0, 1] without axes."""
    data = image.detach().cpu()
    if data.dim() == 3 and data.shape[0] == 1:
        ax.imshow(data[0].numpy(), cmap="gray")
    else:
        ax.imshow(data.permute(1, 2, 0).clamp(0, 1).numpy())  # (C, H, W) -> (H, W, C) for imshow
    ax.set_title(title)
    ax.axis("off")
