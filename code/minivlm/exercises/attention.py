"""Checkers for the exercises of the chapter on attention and transformers
(chapters/attention.md)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import attention, positional
from ._harness import Case, CheckResult, Mistakes, Wrong, diagnose, references, run


@references("scaled_dot_product_attention", "MultiheadAttention", "multi_head_attention_forward")
def check_attention(attention_fn: Callable) -> CheckResult:
    """attention_fn(q, k, v, mask=None) -> output, or (output, weights)."""
    rng = torch.Generator().manual_seed(2)
    cases = []
    for use_mask in (False, True):
        q, k, v = (
            torch.randn(2, 5, 16, generator=rng),
            torch.randn(2, 7, 16, generator=rng),
            torch.randn(2, 7, 3, generator=rng),
        )
        mask = None
        if use_mask:
            mask = torch.rand(5, 7, generator=rng) > 0.4
            # key 0 always allowed and key 1 always blocked: no row of the mask or of its
            # inverse is empty, so no softmax sees only -inf
            mask[:, 0], mask[:, 1] = True, False

        def call(q=q, k=k, v=v, mask=mask):
            # without a mask, the student's function is called without the argument
            return attention_fn(q, k, v) if mask is None else attention_fn(q, k, v, mask=mask)

        cases.append(
            Case(
                f"attention {'with' if use_mask else 'without'} a mask",
                call,
                attention.scaled_dot_product_attention(q, k, v, mask)[0],
                _attention_mistakes(q, k, v, mask),
            )
        )
    return run("attention", cases)


def _attention_mistakes(q, k, v, mask: torch.Tensor | None) -> Mistakes:
    """The output of each usual mistake; the mask's own mistakes only where there is one."""
    sdpa = attention.scaled_dot_product_attention
    d_k = q.shape[-1]
    not_scaled, over_d_k = (sdpa(q, k, v, mask, scale=s)[0] for s in (1.0, 1.0 / d_k))
    mistakes = {
        "the scores are not divided by sqrt(d_k)": not_scaled,
        "the scores are divided by d_k; divide by sqrt(d_k)": over_d_k,
    }
    if mask is None:
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(d_k)  # (B, n_q, n_k)
        mistakes[
            "the softmax runs over the queries (dim=-2); each query's weights over "
            "the keys (dim=-1) must sum to 1"
        ] = scores.softmax(dim=-2) @ v
    else:
        mistakes["the mask is ignored: blocked keys must get weight 0"] = sdpa(q, k, v)[0]
        mistakes["the mask is inverted: True means 'may attend'"] = sdpa(q, k, v, ~mask)[0]
    return mistakes


@references("sinusoidal")
def check_sinusoidal(sinusoidal: Callable) -> CheckResult:
    """sinusoidal(n_positions, d_model) -> the (n_positions, d_model) encoding table."""
    cases = []
    for n, d in ((12, 8), (50, 32)):
        pe = positional.sinusoidal(n, d, dtype=torch.float64)
        cases.append(
            Case(
                f"sinusoidal({n}, {d})",
                lambda n=n, d=d: sinusoidal(n, d),
                pe,
                _sinusoidal_mistakes(pe),
            )
        )
    return run("sinusoidal", cases)


def _sinusoidal_mistakes(pe: torch.Tensor) -> Mistakes:
    """The table each usual mistake gives, from the right table pe (n, d)."""
    n, d = pe.shape
    sin, cos = pe[:, 0::2], pe[:, 1::2]  # (n, d/2) each: dimensions 2i and 2i + 1
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    # 10000^(-i/d): the pair index i not doubled
    w_by_dim = 10000.0 ** (-torch.arange(0, d // 2, dtype=torch.float64) / d)
    swapped = torch.stack([cos, sin], dim=-1).reshape(n, d)  # (n, d/2, 2) -> (n, d)
    by_dim = torch.stack([torch.sin(pos * w_by_dim), torch.cos(pos * w_by_dim)], dim=-1)
    return {
        "sin and cos are swapped: even dimensions 2i hold the sine": swapped,
        "the exponent should be 2i/d, with i the index of the sin/cos pair": (
            by_dim.reshape(n, d)  # (n, d/2, 2) -> (n, d)
        ),
        "sines fill the first half and cosines the second; the formula interleaves them "
        "(sine at 2i, cosine at 2i + 1)": torch.cat([sin, cos], dim=-1),
    }


@references("causal_mask")
def check_causal_mask(causal_mask: Callable) -> CheckResult:
    """causal_mask(n) -> a boolean (n, n) mask, True where query i may attend to key j."""
    cases = []
    # n = 1 last: there an inverted mask and a missing diagonal are the same [[False]]
    for n in (4, 7, 1):
        expected = attention.causal_mask(n)
        mistakes = {
            "it lets each token see the future, not the past: keep j <= i (lower triangle)": (
                expected.T
            ),
            "a token must be allowed to attend to itself (the diagonal is True)": (
                expected & ~torch.eye(n, dtype=torch.bool)
            ),
            "True must mean 'may attend', not 'blocked'": ~expected,
        }
        cases.append(Case(f"causal_mask({n})", lambda n=n: causal_mask(n), expected, mistakes))
    return run("causal_mask", cases, _compare_mask, unit="sizes")


def _compare_mask(name: str, got, expected: torch.Tensor, mistakes: Mistakes) -> None:
    """got should be a boolean tensor equal to expected: a mask has no tolerance."""
    if not isinstance(got, torch.Tensor) or got.dtype != torch.bool:
        what = got.dtype if isinstance(got, torch.Tensor) else type(got).__name__
        raise Wrong(f"{name} should be a boolean tensor, got {what}")
    if got.shape != expected.shape:
        raise Wrong(f"{name} returned shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
    wrong = f"{name} is wrong"
    unknown = f"{wrong}: True exactly where key j <= query i"
    diagnose(wrong, got, expected, mistakes, torch.equal, lambda: unknown)
