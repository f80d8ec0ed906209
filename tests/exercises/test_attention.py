"""The checkers of the attention chapter (minivlm.exercises.attention) accept the package's
solution and name each mistake."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from minivlm import attention, exercises, positional

from .checker_asserts import fails as _fails
from .checker_asserts import passes as _passes
from .checker_asserts import raises as _raises

# attention ---------------------------------------------------------------------------


def _own_attention(q, k, v, mask=None, scale=None, softmax_dim=-1, ignore_mask=False, invert=False):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale
    if mask is not None and not ignore_mask:
        scores = scores.masked_fill(mask if invert else ~mask, float("-inf"))
    return scores.softmax(dim=softmax_dim) @ v


def test_check_attention_accepts_the_package(capsys):
    _passes(
        capsys, exercises.check_attention(attention.scaled_dot_product_attention)
    )  # (output, weights)
    _passes(capsys, exercises.check_attention(_own_attention))  # output alone
    _passes(
        capsys,
        exercises.check_attention(
            lambda q, k, v, mask=None: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        ),
    )


@pytest.mark.parametrize(
    "kwargs, phrase",
    [
        (dict(scale=1.0), "not divided by sqrt(d_k)"),
        (dict(scale=1 / 16), "divided by d_k; divide by sqrt(d_k)"),
        (dict(softmax_dim=-2), "the softmax runs over the queries"),
        (dict(ignore_mask=True), "the mask is ignored"),
        (dict(invert=True), "the mask is inverted"),
    ],
)
def test_check_attention_mistakes(capsys, kwargs, phrase):
    result = exercises.check_attention(
        lambda q, k, v, mask=None: _own_attention(q, k, v, mask, **kwargs)
    )
    _fails(capsys, result, phrase)
    # the mask mistakes only show on the masked case
    expected_case = "with a mask" if "mask" in phrase else "without a mask"
    assert expected_case in result.message


def test_check_attention_other_failures(capsys):
    _fails(
        capsys,
        exercises.check_attention(_raises),
        "attention without a mask raised RuntimeError",
    )
    _fails(
        capsys,
        exercises.check_attention(
            lambda q, k, v, mask=None: _own_attention(q, k, v, mask)[..., :2]
        ),
        "returned shape (2, 5, 2), expected (2, 5, 3)",
    )
    _fails(
        capsys,
        exercises.check_attention(lambda q, k, v, mask=None: (q @ k.transpose(-2, -1)).tanh() @ v),
        "right shape but wrong values",
    )
    _fails(
        capsys,
        exercises.check_attention(lambda q, k, v, mask=None: None),
        "should return a torch.Tensor, got NoneType",
    )


# sinusoidal --------------------------------------------------------------------------


def _own_sinusoidal(n, d, swap=False, exponent_by_dim=False, halves=False):
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(d // 2, dtype=torch.float64)
    w = 10000.0 ** (-(i if exponent_by_dim else 2 * i) / d)
    sin, cos = torch.sin(pos * w), torch.cos(pos * w)
    if swap:
        sin, cos = cos, sin
    if halves:
        return torch.cat([sin, cos], dim=-1)
    return torch.stack([sin, cos], dim=-1).reshape(n, d)


def test_check_sinusoidal_accepts_the_package(capsys):
    _passes(capsys, exercises.check_sinusoidal(positional.sinusoidal))  # float32 is fine
    _passes(capsys, exercises.check_sinusoidal(_own_sinusoidal))


@pytest.mark.parametrize(
    "kwargs, phrase",
    [
        (dict(swap=True), "sin and cos are swapped"),
        (dict(exponent_by_dim=True), "the exponent should be 2i/d"),
        (dict(halves=True), "sines fill the first half and cosines the second"),
    ],
)
def test_check_sinusoidal_mistakes(capsys, kwargs, phrase):
    _fails(
        capsys,
        exercises.check_sinusoidal(lambda n, d: _own_sinusoidal(n, d, **kwargs)),
        "sinusoidal(12, 8): " + phrase,
    )


def test_check_sinusoidal_other_failures(capsys):
    _fails(
        capsys,
        exercises.check_sinusoidal(_raises),
        "sinusoidal(12, 8) raised RuntimeError",
    )
    _fails(
        capsys,
        exercises.check_sinusoidal(lambda n, d: _own_sinusoidal(n, d).T),
        "returned shape (8, 12), expected (12, 8)",
    )
    _fails(
        capsys,
        exercises.check_sinusoidal(lambda n, d: _own_sinusoidal(n + 1, d)[1:]),
        "wrong values",
    )
    _fails(
        capsys,
        exercises.check_sinusoidal(lambda n, d: _own_sinusoidal(n, d).tolist()),
        "should return a torch.Tensor, got list",
    )


# causal_mask -------------------------------------------------------------------------


def test_check_causal_mask_accepts_a_correct_mask(capsys):
    _passes(
        capsys,
        exercises.check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).tril()),
    )
    _passes(
        capsys,
        exercises.check_causal_mask(lambda n: torch.arange(n)[None, :] <= torch.arange(n)[:, None]),
    )


@pytest.mark.parametrize(
    "make, phrase",
    [
        (
            lambda n: torch.ones(n, n, dtype=torch.bool).triu(),
            "keep j <= i (lower triangle)",
        ),
        (
            lambda n: torch.ones(n, n, dtype=torch.bool).tril(-1),
            "attend to itself (the diagonal is True)",
        ),
        (
            lambda n: ~torch.ones(n, n, dtype=torch.bool).tril(),
            "True must mean 'may attend', not 'blocked'",
        ),
        (
            lambda n: torch.ones(n, n, dtype=torch.bool).triu(1),
            "True must mean 'may attend', not 'blocked'",
        ),
        (
            lambda n: torch.ones(n, n, dtype=torch.bool),
            "True exactly where key j <= query i",
        ),
        (
            lambda n: torch.ones(n, n).tril(),
            "should be a boolean tensor, got torch.float32",
        ),
        (
            lambda n: torch.ones(n, n, dtype=torch.long).tril(),
            "should be a boolean tensor, got torch.int64",
        ),
        (lambda n: [[True] * n] * n, "should be a boolean tensor, got list"),
        (
            lambda n: torch.ones(1, n, n, dtype=torch.bool).tril(),
            "returned shape (1, 4, 4), expected (4, 4)",
        ),
        (
            lambda n: torch.ones(n, n + 1, dtype=torch.bool).tril(),
            "returned shape (4, 5), expected (4, 4)",
        ),
        (_raises, "raised RuntimeError: not implemented yet"),
    ],
)
def test_check_causal_mask_mistakes(capsys, make, phrase):
    _fails(capsys, exercises.check_causal_mask(make), phrase)


def test_check_causal_mask_inverted_is_not_confused_with_missing_diagonal(capsys):
    # at n = 1 both mistakes give [[False]]; the checker must still tell them apart
    _fails(
        capsys,
        exercises.check_causal_mask(lambda n: ~torch.ones(n, n, dtype=torch.bool).tril()),
        "not 'blocked'",
    )
    _fails(
        capsys,
        exercises.check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).tril(-1)),
        "diagonal",
    )


def test_check_causal_mask_fails_on_size_one(capsys):
    # right for n > 1 but wrong for a single token
    def wrong_at_one(n):
        return (
            torch.zeros(1, 1, dtype=torch.bool)
            if n == 1
            else torch.ones(n, n, dtype=torch.bool).tril()
        )

    _fails(capsys, exercises.check_causal_mask(wrong_at_one), "causal_mask(1) is wrong")
