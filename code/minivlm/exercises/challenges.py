"""Checkers for the exercises of the chapter on fundamental challenges
(chapters/challenges.md)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from .. import metrics
from ..quantize import quantize_per_row
from ._harness import (
    Case,
    CheckResult,
    Mistakes,
    Wrong,
    close,
    compare_dicts,
    compare_scalars,
    diagnose,
    pair_in,
    references,
    run,
)


@references("modality_gap")
def check_modality_gap(modality_gap: Callable) -> CheckResult:
    """modality_gap(image_embeddings (N, d), text_embeddings (M, d)) -> the distance between
    the centroids of the L2-normalised image and text embeddings."""
    rng = torch.Generator().manual_seed(7)
    cases = []
    for N, M, d in ((7, 5, 8), (12, 20, 16), (9, 3, 4)):
        # two shifted clouds with norms far from 1: a missing normalisation shows
        shift = torch.randn(d, generator=rng, dtype=torch.float64)
        image = (torch.randn(N, d, generator=rng, dtype=torch.float64) + shift) * (
            0.3 + 3.0 * torch.rand(N, 1, generator=rng, dtype=torch.float64)
        )
        text = (torch.randn(M, d, generator=rng, dtype=torch.float64) - 0.5 * shift) * (
            0.2 + 2.0 * torch.rand(M, 1, generator=rng, dtype=torch.float64)
        )
        gap = torch.tensor(metrics.modality_gap(image, text), dtype=torch.float64)
        cases.append(
            Case(
                f"modality_gap with N={N} images, M={M} texts, d={d}",
                lambda image=image, text=text: modality_gap(image.clone(), text.clone()),
                gap,
                _gap_mistakes(image, text, gap),
            )
        )
    return run("modality_gap", cases, compare_scalars)


def _gap_mistakes(image: torch.Tensor, text: torch.Tensor, gap: torch.Tensor) -> Mistakes:
    """The number each usual mistake gives on embeddings (N, d) and (M, d) whose gap is gap."""
    unit_image, unit_text = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
    cosine = F.cosine_similarity(unit_image.mean(0), unit_text.mean(0), dim=0)
    return {
        "the embeddings are not L2-normalised: divide each one by its norm before "
        "taking the centroids": (image.mean(0) - text.mean(0)).norm(),
        "the centroids are normalised, not the embeddings: normalise each embedding, "
        "then average (a centroid of unit vectors is shorter than 1)": (
            F.normalize(image.mean(0), dim=0) - F.normalize(text.mean(0), dim=0)
        ).norm(),
        "this is the squared distance: the gap is the norm of the difference, not its "
        "square": gap.square(),
        "this is the cosine similarity of the centroids; the gap is the Euclidean "
        "distance between them": cosine,
        "this is 1 - cosine similarity of the centroids; the gap is the Euclidean "
        "distance between them": 1 - cosine,
        "this averages the pairwise distances between image and text embeddings; the gap "
        "is the distance between the two means": torch.cdist(unit_image, unit_text).mean(),
    }


@references("winoground_scores")
def check_winoground(scores: Callable) -> CheckResult:
    """scores(similarity (N, 2, 2)) -> {"text", "image", "group"}, with similarity[n, i, j] =
    s(caption i, image j): the fractions of examples where each image prefers its own caption
    (text), each caption its own image (image), and both (group); a tie is a failure."""
    rng = torch.Generator().manual_seed(8)
    similarities = (
        # real-valued similarities, then small integers with many ties
        ("similarities with no ties", torch.randn(16, 2, 2, generator=rng) + 0.6 * torch.eye(2)),
        ("similarities with ties", torch.randint(0, 3, (24, 2, 2), generator=rng).float()),
    )
    cases = [
        Case(
            f"scores on {len(S)} {kind}",
            lambda S=S: scores(S.clone()),
            metrics.winoground_scores(S),
            _winoground_mistakes(S),
        )
        for kind, S in similarities
    ]
    compare = partial(compare_dicts, fn="scores", noun="score")
    return run("winoground scores", cases, compare, verb="agree")


def _winoground_mistakes(S: torch.Tensor) -> Mistakes:
    """The scores each usual mistake gives on similarities S (N, 2, 2)."""
    right = metrics.winoground_scores(S)
    text, image, group = right["text"], right["image"], right["group"]
    return {
        "the text and image scores are swapped: the text score asks whether each image "
        "prefers its own caption (compare the captions, similarity[n, 0, j] with "
        "similarity[n, 1, j]), the image score whether each caption prefers its own "
        "image": {"text": image, "image": text, "group": group},
        "a tie counts as a success (>=); the comparisons are strict (>), so a tie is a "
        "failure": _ties_as_successes(S),
        # the fraction with text or image is P(text) + P(image) - P(text and image)
        "the group score counts the examples where text or image succeeds; it needs both "
        "(text and image)": {"text": text, "image": image, "group": text + image - group},
        "the group score is the mean of the text and image scores; it counts the examples "
        "where both succeed": {"text": text, "image": image, "group": (text + image) / 2},
        "the scores are percentages; return fractions of the N examples, between 0 and 1": {
            k: 100 * v for k, v in right.items()
        },
    }


def _ties_as_successes(S: torch.Tensor) -> dict[str, float]:
    """Winoground's scores with >= where the definition has >: a tie counted as a success."""
    c0i0, c0i1 = S[:, 0, 0], S[:, 0, 1]  # (N,) each: s(caption i, image j) as c<i>i<j>
    c1i0, c1i1 = S[:, 1, 0], S[:, 1, 1]
    text = (c0i0 >= c1i0) & (c1i1 >= c0i1)
    image = (c0i0 >= c0i1) & (c1i1 >= c1i0)
    pairs = {"text": text, "image": image, "group": text & image}
    return {k: v.float().mean().item() for k, v in pairs.items()}


@references("quantize_per_row", "quantize_per_channel", "quantize_per_tensor")
def check_int8_quantize(quantize: Callable) -> CheckResult:
    """quantize(W (rows, cols)) -> (q, scale): symmetric per-row INT8, with scale =
    max|row| / 127 (shape (rows,) or (rows, 1)) and q = round(W / scale) in [-127, 127],
    an integer tensor."""
    rng = torch.Generator().manual_seed(9)
    cases = []
    for rows, cols in ((4, 9), (6, 16), (5, 3)):
        # rows of different magnitudes, so that one scale for all of them shows
        W = torch.randn(rows, cols, generator=rng) * torch.exp(torch.randn(rows, 1, generator=rng))
        cases.append(
            Case(
                f"quantize of a {rows}x{cols} matrix",
                lambda W=W: quantize(W.clone()),
                _int8_per_row(W),
                _scale_mistakes(W),
                compare=partial(_compare_int8, W),
            )
        )
    return run("int8 quantize", cases, unit="matrices")


def _int8_per_row(W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The package's symmetric per-row INT8, the scale as a column to broadcast over W."""
    q, scale = quantize_per_row(W)
    return q, scale[:, None]  # (rows,) -> (rows, 1)


def _scale_mistakes(W: torch.Tensor) -> Mistakes:
    """The scale each usual mistake gives on W (rows, cols), in a shape that broadcasts."""
    row_max = W.abs().amax(dim=1, keepdim=True)  # (rows, 1)
    return {
        "one scale for the whole matrix (per-tensor); each row gets its own scale, "
        "max|row| / 127": W.abs().max() / 127,
        "one scale per column; each row (one output unit) gets its own scale, "
        "max|row| / 127": W.abs().amax(dim=0, keepdim=True) / 127,
        "the scale divides by 128; symmetric INT8 uses the levels -127..127, so "
        "scale = max|row| / 127": row_max / 128,
        "the scale divides by 255, the range of an unsigned byte; symmetric INT8 uses "
        "the levels -127..127, so scale = max|row| / 127": row_max / 255,
        "this is asymmetric min-max scaling, (max - min) / 255; the symmetric scale is "
        "max|row| / 127, with no zero point": (
            W.amax(dim=1, keepdim=True) - W.amin(dim=1, keepdim=True)
        )
        / 255,
        "the scale is inverted (127 / max|row|): W is recovered as q * scale, so "
        "scale = max|row| / 127": 127 / row_max,
    }


def _compare_int8(W: torch.Tensor, name: str, got, expected, scale_mistakes: Mistakes) -> None:
    """got should be (q, scale) for W: the scale first, then q, whose mistakes (the rounding)
    can only be told with the right scale."""
    q, scale = pair_in(got, "quantize", "(q, scale)")
    _check_q(name, q, scale, W.shape)
    s = _scale_grid(name, scale, *W.shape)
    q_ref, scale_ref = expected
    grids = {hint: wrong.expand_as(s) for hint, wrong in scale_mistakes.items()}  # (rows, cols)

    def unknown() -> str:
        error = (s - scale_ref.expand_as(s)).abs().max().item()
        return (
            f"{name}: the scale is wrong (largest error {error:.3g}); it is max|row| / 127 "
            f"for each row"
        )

    # a scale is a ratio: compared relative to its size, as it may be tiny
    diagnose(name, s, scale_ref.expand_as(s), grids, close(atol=1e-12, rtol=1e-4), unknown)
    _compare_levels(name, q.long(), W / scale_ref, q_ref.long())


def _check_q(name: str, q, scale, shape: torch.Size) -> None:
    """q should be a signed integer tensor of W's shape."""
    signed = (torch.int8, torch.int16, torch.int32, torch.int64)
    if not isinstance(q, torch.Tensor):
        raise Wrong(f"q should be a torch.Tensor, got {type(q).__name__}")
    if q.dtype not in signed:
        if isinstance(scale, torch.Tensor) and scale.dtype in signed and q.is_floating_point():
            raise Wrong(f"{name}: the pair is (scale, q); return (q, scale)")
        raise Wrong(
            f"{name}: q should be an integer tensor (torch.int8, or another signed "
            f"integer type), got {q.dtype}"
        )
    if q.shape != shape:
        raise Wrong(f"{name}: q has shape {tuple(q.shape)}, expected {tuple(shape)}")


def _scale_grid(name: str, scale, rows: int, cols: int) -> torch.Tensor:
    """The student's scale as a float32 (rows, cols) grid: one value, one per row, or one per
    column (a mistake that must still be named) spread over W."""
    try:
        s = torch.as_tensor(
            scale.detach() if isinstance(scale, torch.Tensor) else scale, dtype=torch.float32
        )
    except Exception:  # whatever the student returned, say what it is
        raise Wrong(f"{name}: scale should be a tensor, got {type(scale).__name__}") from None
    if s.numel() == 1:
        s = s.reshape(1, 1)
    elif tuple(s.shape) in ((rows,), (rows, 1)):
        s = s.reshape(rows, 1)  # (rows,) -> (rows, 1)
    elif tuple(s.shape) in ((cols,), (1, cols)):
        s = s.reshape(1, cols)  # (cols,) -> (1, cols)
    else:
        raise Wrong(
            f"{name}: scale has shape {tuple(s.shape)}; one value per row is "
            f"({rows},) or ({rows}, 1)"
        )
    return s.expand(rows, cols)


def _compare_levels(name: str, q: torch.Tensor, x: torch.Tensor, q_ref: torch.Tensor) -> None:
    """q (long) should be round(x), x = W / scale, clamped: compared with each answer give or
    take one level where that answer's rounding may go either way."""
    # entries within a hair of a .5 may round either way in another order of operations
    borderline = (x - x.floor() - 0.5).abs() < 1e-3
    near_level = (x - x.round()).abs() < 1e-3  # where floor and trunc may go either way
    mistakes = {
        "q is rounded down (floor); round W / scale to the nearest level": (
            x.floor().long(),
            near_level,
        ),
        "q is truncated toward zero (a cast or trunc); round W / scale to the nearest level": (
            x.trunc().long(),
            near_level,
        ),
    }

    def same(q: torch.Tensor, answer: tuple[torch.Tensor, torch.Tensor]) -> bool:
        levels, loose = answer
        return bool(((q == levels) | (loose & ((q - levels).abs() <= 1))).all())

    def unknown() -> str:
        n_wrong = int((q != q_ref).sum())
        return (
            f"{name}: the scale is right but {n_wrong} of {q.numel()} entries of q are wrong; "
            f"q = round(W / scale), clamped to [-127, 127]"
        )

    diagnose(name, q, (q_ref, borderline), mistakes, same, unknown)
