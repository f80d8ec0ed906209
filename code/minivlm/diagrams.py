"""Diagrams of a LLaVA, drawn from the model and its data rather than by hand.

Each function draws on a matplotlib Axes what the objects it is given say: the positions of a
training sequence and their labels (`sequence`), which parts a training stage updates
(`stages`), and which patches feed which visual token in each projector (`projector_paths`).
A diagram that is computed cannot drift from the code it describes.
"""

from __future__ import annotations

import math

import torch
from matplotlib.patches import FancyArrowPatch, Rectangle

from .llama import IGNORE_INDEX
from .projectors import merge_blocks
from .style import OKABE_ITO

# one colour per kind of box, from the book's colour-blind-safe palette (minivlm.style)
COLOURS = {
    "text": OKABE_ITO["orange"],  # prompt tokens
    "image": OKABE_ITO["sky"],  # image tokens
    "answer": OKABE_ITO["green"],  # tokens the loss scores
    "special": "#BBBBBB",  # grey: <bos>, <eos>, padding
    "trained": OKABE_ITO["vermilion"],
    "frozen": "#999999",
    "patch": OKABE_ITO["sky"],
    "token": OKABE_ITO["purple"],  # what the language model receives
}


# the size of every text: legible (minivlm.style's 9 pixels) in a figure of up to 10 inches,
# which the page shrinks to its column
TEXT = 9.5


def _box(ax, x, y, w, h, colour, text="", fontsize=TEXT, hatch=None):
    ax.add_patch(
        Rectangle((x, y), w, h, facecolor=colour, edgecolor="black", lw=0.6, hatch=hatch, zorder=2)
    )
    if text:  # on a white ground, readable over any fill or hatching
        ax.text(
            x + w / 2,
            y + h / 2,
            text,
            ha="center",
            va="center",
            fontsize=fontsize,
            zorder=3,
            bbox=dict(facecolor="white", alpha=0.85, lw=0, pad=1.0),
        )


def _bare(ax, width, height):
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")


def sequence(
    ax,
    tokens: list[str],
    labels: list[int],
    vocab=None,
    image_token: str = "<image>",
    special=("<bos>", "<eos>", "<pad>"),
    ignore_index: int = IGNORE_INDEX,
    max_image: int = 3,
) -> dict[str, int]:
    """A training sequence, one box per position: its input token above, its label below
    ("-100" where the loss ignores it; the label's token when vocab, id -> str, is given).
    Runs of image tokens longer than max_image are drawn as max_image boxes and an ellipsis.
    Returns the number of positions of each kind."""
    if len(tokens) != len(labels):
        raise ValueError(
            f"tokens and labels must have one entry per position, got {len(tokens)} tokens "
            f"and {len(labels)} labels"
        )
    kinds = []
    for token, label in zip(tokens, labels):
        if label != ignore_index:
            kinds.append("answer")  # scored by the loss, <eos> included
        elif token == image_token:
            kinds.append("image")
        elif token in special:
            kinds.append("special")
        else:
            kinds.append("text")
    # which positions to draw: every one, but long runs of image tokens shortened
    shown, run = [], 0
    for n, kind in enumerate(kinds):
        run = run + 1 if kind == "image" else 0
        if (
            kind != "image"
            or run <= max_image - 1
            or n + 1 == len(kinds)
            or kinds[n + 1] != "image"
        ):
            shown.append(n)
        elif shown[-1] != "...":
            shown.append("...")
    x = 0.0
    for n in shown:
        if n == "...":
            ax.text(x + 0.5, 1.45, "…", ha="center", va="center", fontsize=12)
            x += 1.0
            continue
        if labels[n] == ignore_index:
            label = str(ignore_index)
        else:
            label = vocab[labels[n]] if vocab is not None else str(labels[n])
        # a box as wide as its token: a long word ("<image>") in a box of the common width
        # would run over the boxes beside it
        width = max(0.95, 0.15 * len(tokens[n]) + 0.25)
        _box(ax, x, 1.0, width, 0.9, COLOURS[kinds[n]], tokens[n])
        ax.text(
            x + width / 2,
            0.55,
            label,
            ha="center",
            va="center",
            fontsize=TEXT,
            color="black" if labels[n] != ignore_index else "#555555",
        )
        x += width + 0.05
    ax.text(-0.2, 1.45, "input", ha="right", va="center", fontsize=TEXT)
    ax.text(-0.2, 0.55, "label", ha="right", va="center", fontsize=TEXT)
    _bare(ax, x, 2.2)
    ax.set_xlim(-1.6, x)
    counts = {kind: kinds.count(kind) for kind in ("special", "text", "image", "answer")}
    handles = [
        Rectangle((0, 0), 1, 1, facecolor=COLOURS[k], edgecolor="black", lw=0.6) for k in counts
    ]
    names = {
        "special": "<bos>, padding",
        "text": "prompt",
        "image": "image tokens",
        "answer": "scored by the loss",
    }
    ax.legend(
        handles,
        [f"{names[k]} ({counts[k]})" for k in counts],
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=4,
        fontsize=TEXT,
        frameon=False,
    )
    return counts


def stages(axes, model, parts=("vision_tower", "projector", "language_model")) -> dict:
    """One panel per training stage: the model's parts left to right, each drawn as trained
    (some of its parameters are in model.trainable_parameters(stage)) or frozen, with its
    parameter count. Returns {stage: {part: trained?}}."""
    axes = list(axes)
    if len(axes) != 2:
        raise ValueError(f"axes must hold one Axes per stage, 2, got {len(axes)}")
    names = {
        "vision_tower": "vision tower",
        "projector": "projector",
        "language_model": "language model",
    }
    out = {}
    for stage, ax in zip((1, 2), axes):
        trainable = {id(p) for p in model.trainable_parameters(stage)}
        out[stage] = {}
        for k, part in enumerate(parts):
            module = getattr(model, part)
            params = list(module.parameters())
            trained = any(id(p) in trainable for p in params)
            out[stage][part] = trained
            n = sum(p.numel() for p in params)
            _box(
                ax,
                3.2 * k,
                0,
                2.4,
                1.4,
                COLOURS["trained" if trained else "frozen"],
                f"{names.get(part, part)}\n{n:,}\n{'trained' if trained else 'frozen'}",
                hatch=None if trained else "//",
            )
            if k:
                ax.add_patch(
                    FancyArrowPatch(
                        (3.2 * k - 0.8, 0.7), (3.2 * k, 0.7), arrowstyle="->", mutation_scale=10
                    )
                )
        ax.set_title(f"stage {stage}", fontsize=TEXT)
        _bare(ax, 3.2 * len(parts) - 0.8, 1.4)
    return out


def merge_sources(side: int, merge: int) -> list[list[int]]:
    """For each token of a patch merger over a side x side grid, the patches it concatenates,
    read off projectors.merge_blocks applied to the patches' indices."""
    return _blocks(side * side, merge)


def _blocks(n_patches: int, merge: int) -> list[list[int]]:
    indices = torch.arange(n_patches).view(1, n_patches, 1)  # (1, N, 1): each patch its index
    return merge_blocks(indices, merge)[0].tolist()  # (N / k^2, k^2)


def projector_paths(axes, n_patches: int, merge: int, n_queries: int) -> dict[str, int]:
    """Which patches feed which visual token, for a square grid of n_patches: one token per
    patch (linear, MLP), one per merge x merge block (patch merger), and n_queries tokens
    that each read every patch (Q-Former). Returns the number of tokens of each."""
    axes = list(axes)
    if len(axes) != 3:
        raise ValueError(f"axes must hold one Axes per projector, 3, got {len(axes)}")
    blocks = _blocks(n_patches, merge)  # raises unless the patches form a square grid
    side = math.isqrt(n_patches)
    tokens = {"linear / MLP": n_patches, "patch merger": len(blocks), "Q-Former": n_queries}
    for ax, (name, n_tokens) in zip(axes, tokens.items()):
        # the patch grid on the left, the tokens in a column on the right
        for r in range(side):
            for c in range(side):
                if name == "patch merger":  # one shade per block of merge x merge patches
                    block = (r // merge) * (side // merge) + c // merge
                    shade = torch.linspace(0.35, 1.0, n_tokens)[block].item()
                    colour = (0.34 * shade, 0.71 * shade, 0.91 * shade)
                else:
                    colour = COLOURS["patch"]
                _box(ax, c, side - 1 - r, 0.9, 0.9, colour)
        step = side / n_tokens
        x_tok = side + 3.0
        for t in range(n_tokens):
            y = side - (t + 0.5) * step
            if name == "linear / MLP":
                sources = [t]
            elif name == "patch merger":
                sources = blocks[t]
            else:
                sources = range(n_patches)
            colour = COLOURS["token"]
            if name == "patch merger":  # the token in the shade of the block it merges
                shade = torch.linspace(0.35, 1.0, n_tokens)[t].item()
                colour = (0.34 * shade, 0.71 * shade, 0.91 * shade)
            _box(ax, x_tok, y - 0.45 * min(step, 1), 0.9, 0.9 * min(step, 1), colour)
            for p in sources:
                # from the patch's centre, over the boxes, so that every path shows; solid,
                # not the style's cycle of dashes, which would mean nothing here
                r, c = divmod(p, side)
                ax.plot(
                    [c + 0.45, x_tok],
                    [side - 1 - r + 0.45, y],
                    color="black",
                    ls="-",
                    lw=0.4 if name == "Q-Former" else 0.9,
                    alpha=0.6,
                    zorder=3,
                    marker="o" if name != "Q-Former" else None,
                    markevery=[0],
                    ms=2.5,
                )
        ax.set_title(f"{name}: {n_patches} patches → {n_tokens} tokens", fontsize=TEXT)
        _bare(ax, x_tok + 1, side)
    return tokens
