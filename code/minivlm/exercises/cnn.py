"""Checkers for the exercises of the chapter on convolutional networks (chapters/cnn.md)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from .. import cnn
from ._harness import Case, CheckResult, Mistakes, Wrong, diagnose, references, run


@references("conv2d", "Conv2d")
def check_conv2d(conv2d: Callable) -> CheckResult:
    """conv2d(x, weight, bias=None, stride=1, padding=0) as the layer formula, no activation."""
    rng = torch.Generator().manual_seed(0)
    cases = []
    for stride, padding in ((1, 0), (1, 1), (2, 1), (3, 2)):
        x = torch.randn(2, 3, 9, 11, generator=rng)
        w = torch.randn(4, 3, 3, 2, generator=rng)
        b = torch.randn(4, generator=rng)
        mistakes = {
            "the kernel is flipped: that is the true convolution; the layer formula "
            "W[m, n] X[i + m, j + n] is a cross-correlation": cnn.conv2d(
                x, w.flip(-2, -1), b, stride, padding
            ),
            "the bias b_d is missing": cnn.conv2d(x, w, None, stride, padding),
        }
        cases.append(
            Case(
                f"conv2d with stride={stride}, padding={padding}",
                lambda x=x, w=w, b=b, s=stride, p=padding: conv2d(x, w, b, stride=s, padding=p),
                cnn.conv2d(x, w, b, stride, padding),
                mistakes,
            )
        )
    return run("conv2d", cases)


@references("max_pool2d", "MaxPool2d")
def check_max_pool2d(max_pool2d: Callable) -> CheckResult:
    """max_pool2d(x, p): max over non-overlapping p x p windows."""
    rng = torch.Generator().manual_seed(1)
    cases = []
    for p, side in ((2, 8), (3, 10), (2, 7)):
        x = torch.randn(2, 3, side, side + 1, generator=rng)
        mistakes = {
            "this is average pooling; the formula takes the max": F.avg_pool2d(x, p),
            "the windows overlap (stride 1); they should move by p": F.max_pool2d(x, p, stride=1),
        }
        cases.append(
            Case(
                f"max_pool2d with p={p} on a {side}x{side + 1} input",
                lambda x=x, p=p: max_pool2d(x, p),
                cnn.max_pool2d(x, p),
                mistakes,
            )
        )
    return run("max_pool2d", cases)


@references("receptive_field")
def check_receptive_field(receptive_field: Callable) -> CheckResult:
    """receptive_field(kernel_sizes, strides) -> the receptive field of the last layer."""
    stacks = [
        ([3, 3, 3], [1, 1, 1]),
        ([7, 3, 3, 3], [2, 2, 1, 1]),
        ([3, 2, 3, 2, 3], [1, 2, 1, 2, 1]),
    ]
    cases = []
    for kernels, strides in stacks:
        # forgetting the jumps is computing the field as if every stride were 1
        without_jumps = _field(kernels, [1] * len(kernels))
        hint = "each layer adds (k - 1) times the jump, the product of the strides before it"
        cases.append(
            Case(
                "receptive_field",
                lambda k=kernels, s=strides: receptive_field(k, s),
                _field(kernels, strides),
                {hint: without_jumps},
                compare=partial(_compare_field, f"kernels {kernels}, strides {strides}"),
            )
        )
    return run("receptive_field", cases, unit="stacks")


def _field(kernels: list[int], strides: list[int]) -> int:
    """The package's receptive field of the last layer of the stack."""
    return cnn.receptive_field([cnn.Layer(k, s) for k, s in zip(kernels, strides)])[-1]


def _compare_field(stack: str, name: str, got, expected: int, mistakes: Mistakes) -> None:
    """got should be one number (an int, or a one-element tensor); messages name the stack."""
    if isinstance(got, torch.Tensor):
        if got.numel() != 1:
            raise Wrong(
                f"{name} should return one number, got a tensor of shape {tuple(got.shape)}"
            )
        got = got.item()
    said = f"{stack}: got {got}, expected {expected}"
    diagnose(said, got, expected, mistakes, operator.eq, lambda: said)
