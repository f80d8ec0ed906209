"""Checkers for the exercises of the summary (chapters/summary.md)."""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable
from functools import partial

import torch

from ..vit import ViTConfig
from ._harness import Case, CheckResult, Mistakes, Wrong, diagnose, pair_in, references, run


@references("n_patches", "vit_flops")
def check_image_cost(image_cost: Callable) -> CheckResult:
    """image_cost(image_size, patch_size, width) -> (N, flops): the patch tokens N of a square
    image, and the floating-point operations 4 N^2 d of attention over them in one layer of
    width d (Q K^T and A V, 2 N^2 d each, a multiply-add counted as two operations)."""
    cases = []
    # ViT-B/16 at 224 into a ViT of its own width, LLaVA-1.5's ViT-L/14 at 336 into a 7B
    # language model, and a grid of another shape
    for size, P, d in ((224, 16, 768), (336, 14, 4096), (96, 32, 512)):
        N = ViTConfig(image_size=size, patch_size=P).n_patches
        cases.append(
            Case(
                "image_cost",
                lambda size=size, P=P, d=d: image_cost(size, P, d),
                (N, 4 * N * N * d),
                _cost_mistakes(size, P, d),
                compare=partial(_compare_cost, f"a {size} x {size} image, P={P}, d={d}"),
            )
        )
    return run("image_cost", cases, unit="images")


def _cost_mistakes(size: int, P: int, d: int) -> Mistakes:
    """The (N, flops) each usual mistake gives for a size x size image, patches of side P."""
    N, side = (size // P) ** 2, size // P
    return {
        "N is the number of patches along one side: a square image of side H has "
        "(H/P) x (H/P) patches": (side, 4 * side * side * d),
        "the class token is counted: N counts the patch tokens only, the tokens that LLaVA "
        "hands its language model (it drops the class token's output)": (
            N + 1,
            4 * (N + 1) ** 2 * d,
        ),
        "2 N^2 d counts one of the two products, or a multiply-add as one operation: Q K^T "
        "and A V cost 2 N^2 d each": (N, 2 * N * N * d),
        "N^2 d leaves out the factor 4: two products, each a multiply-add (two operations) "
        "per term": (N, N * N * d),
    }


def _whole(value, what: str, name: str) -> int:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise Wrong(f"{name}: {what} should be a whole number, got {value!r}")
    return int(value)


def _compare_cost(image: str, name: str, got, expected: tuple, mistakes: Mistakes) -> None:
    """got should be a pair of whole numbers (Python's, NumPy's, one-element tensors, or
    floats with nothing after the point); messages name the image."""
    got = tuple(
        _whole(value, what, name)
        for value, what in zip(pair_in(got, name, "(N, flops)"), ("N", "flops"))
    )
    said = (
        f"{image}: got N = {got[0]} and {got[1]:.4g} flops, expected {expected[0]} and "
        f"{expected[1]:.4g}"
    )
    diagnose(said, got, expected, mistakes, operator.eq, lambda: said)
