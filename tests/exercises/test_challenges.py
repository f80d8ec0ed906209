"""The checkers of the Fundamental challenges chapter accept right solutions and name each
mistake."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from minivlm import exercises, metrics
from minivlm.exercises import challenges

from .checker_asserts import fails, passes, raises

# Modality gap ------------------------------------------------------------------------


def _gap(image, text, normalise="embeddings", distance="euclidean"):
    """The modality gap, with one switch per classic mistake."""
    if normalise == "embeddings":
        image, text = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
    if distance == "pairwise":
        return torch.cdist(image, text).mean().item()
    a, b = image.mean(0), text.mean(0)
    if normalise == "centroids":
        a, b = F.normalize(a, dim=0), F.normalize(b, dim=0)
    if distance == "cosine":
        return F.cosine_similarity(a, b, dim=0).item()
    if distance == "squared":
        return ((a - b) ** 2).sum().item()
    return (a - b).norm().item()


def test_modality_gap_accepts_right_solutions(capsys):
    passes(capsys, exercises.check_modality_gap(metrics.modality_gap))
    passes(capsys, exercises.check_modality_gap(_gap))
    # a 0-d tensor is fine too
    passes(capsys, exercises.check_modality_gap(lambda i, t: torch.tensor(_gap(i, t))))


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda i, t: _gap(i, t, normalise="none"), "not L2-normalised"),
        (lambda i, t: _gap(i, t, normalise="centroids"), "centroids are normalised"),
        (lambda i, t: _gap(i, t, distance="squared"), "squared distance"),
        (lambda i, t: _gap(i, t, distance="cosine"), "cosine similarity of the centroids"),
        (lambda i, t: 1 - _gap(i, t, distance="cosine"), "1 - cosine"),
        (lambda i, t: _gap(i, t, distance="pairwise"), "pairwise distances"),
        (lambda i, t: 0.5, "wrong values"),
        (lambda i, t: torch.zeros(2), "returned shape"),
        (raises, "raised RuntimeError"),
    ],
)
def test_modality_gap_names_mistakes(capsys, wrong, words):
    fails(capsys, exercises.check_modality_gap(wrong), words)


# Winoground --------------------------------------------------------------------------


def _wino(S, strict=True, swap=False, group="and"):
    """Winoground's scores, with one switch per classic mistake."""
    if swap:
        S = S.transpose(1, 2)
    better = torch.gt if strict else torch.ge
    text = better(S[:, 0, 0], S[:, 1, 0]) & better(S[:, 1, 1], S[:, 0, 1])
    image = better(S[:, 0, 0], S[:, 0, 1]) & better(S[:, 1, 1], S[:, 1, 0])
    t, i = text.float().mean().item(), image.float().mean().item()
    g = {
        "and": (text & image).float().mean().item(),
        "or": (text | image).float().mean().item(),
        "mean": (t + i) / 2,
    }[group]
    return {"text": t, "image": i, "group": g}


def test_winoground_accepts_right_solutions(capsys):
    passes(capsys, exercises.check_winoground(metrics.winoground_scores))
    passes(capsys, exercises.check_winoground(_wino))
    passes(
        capsys,
        exercises.check_winoground(lambda S: {k: torch.tensor(v) for k, v in _wino(S).items()}),
    )  # 0-d tensors


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda S: _wino(S, swap=True), "swapped"),
        (lambda S: _wino(S, strict=False), "a tie counts as a success"),
        (lambda S: _wino(S, group="or"), "text or image"),
        (lambda S: _wino(S, group="mean"), "mean of the text and image"),
        (lambda S: {k: 100 * v for k, v in _wino(S).items()}, "percentages"),
        (lambda S: {**_wino(S), "text": 0.123}, "the text score is 0.123"),
        (lambda S: list(_wino(S).values()), "should return a dict"),
        (lambda S: {"text": 0.5, "image": 0.5}, "lacks the key 'group'"),
        (lambda S: {**_wino(S), "image": "high"}, "should be a number"),
        (raises, "raised RuntimeError"),
    ],
)
def test_winoground_names_mistakes(capsys, wrong, words):
    fails(capsys, exercises.check_winoground(wrong), words)


# INT8 quantisation -------------------------------------------------------------------


def _quantize(W, scope="row", divisor=127, rounding=torch.round, dtype=torch.int8):
    """Symmetric INT8, with one switch per classic mistake."""
    if scope == "row":
        top = W.abs().amax(dim=1, keepdim=True)
    elif scope == "column":
        top = W.abs().amax(dim=0, keepdim=True)
    else:
        top = W.abs().max()
    scale = top / divisor
    q = rounding(W / scale).clamp(-127, 127).to(dtype)
    return q, scale.squeeze()


def _asymmetric(W):
    lo, hi = W.amin(dim=1, keepdim=True), W.amax(dim=1, keepdim=True)
    scale = (hi - lo) / 255
    return (torch.round((W - lo) / scale) - 128).to(torch.int8), scale


def test_int8_quantize_accepts_right_solutions(capsys):
    passes(capsys, exercises.check_int8_quantize(challenges._int8_per_row))
    passes(capsys, exercises.check_int8_quantize(_quantize))  # scale of shape (rows,)
    passes(capsys, exercises.check_int8_quantize(lambda W: _quantize(W, dtype=torch.int64)))

    def by_multiplying(W):  # the same levels, another order of operations
        top = W.abs().amax(dim=1, keepdim=True)
        return torch.round(W * (127 / top)).to(torch.int32), top / 127

    passes(capsys, exercises.check_int8_quantize(by_multiplying))


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda W: _quantize(W, scope="tensor"), "per-tensor"),
        (lambda W: _quantize(W, scope="column"), "one scale per column"),
        (lambda W: _quantize(W, divisor=128), "divides by 128"),
        (lambda W: _quantize(W, divisor=255), "divides by 255"),
        (_asymmetric, "asymmetric min-max"),
        (lambda W: _quantize(W, rounding=torch.floor), "rounded down (floor)"),
        (lambda W: _quantize(W, rounding=torch.trunc), "truncated toward zero"),
        (lambda W: _quantize(W, rounding=lambda x: x), "truncated toward zero"),  # a bare cast
        (lambda W: _quantize(W, dtype=torch.float32), "q should be an integer tensor"),
        (lambda W: _quantize(W)[::-1], "(scale, q)"),
        (lambda W: (W.abs().amax(1) / 127, W.abs().amax(1) / 127, 0), "a pair (q, scale)"),
        (lambda W: (_quantize(W)[0], 127 / W.abs().amax(1)), "inverted"),
        (lambda W: (_quantize(W)[0][:, :2], _quantize(W)[1]), "q has shape"),
        (lambda W: (_quantize(W)[0], torch.ones(2, 2)), "scale has shape"),
        (lambda W: (-_quantize(W)[0], _quantize(W)[1]), "entries of q"),
        (raises, "raised RuntimeError"),
    ],
)
def test_int8_quantize_names_mistakes(capsys, wrong, words):
    fails(capsys, exercises.check_int8_quantize(wrong), words)


def test_int8_reference_reconstructs_within_half_a_step():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(8, 32, generator=g) * torch.exp(torch.randn(8, 1, generator=g))
    W[3] = 0  # a zero row gets a positive scale and zeros
    q, scale = challenges._int8_per_row(W)
    assert q.dtype == torch.int8 and scale.shape == (8, 1) and (scale > 0).all()
    assert q.abs().max() <= 127 and (q[3] == 0).all()
    error = (q.float() * scale - W).abs()
    assert (error <= scale / 2 + 1e-6).all(), (error / scale).max()
