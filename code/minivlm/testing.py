"""Comparing an implementation with a reference, outputs and gradients together."""

from __future__ import annotations

from collections.abc import Callable

import torch


def max_error(fn: Callable, reference: Callable, *inputs: torch.Tensor) -> float:
    """Largest absolute difference between fn(*inputs) and reference(*inputs).

    Covers the outputs and the gradients of sum(output ** 2) with respect to every input
    that requires a gradient: agreeing outputs with disagreeing gradients would still
    train differently.
    """
    ours, ref = fn(*inputs), reference(*inputs)
    if ours.shape != ref.shape:
        raise ValueError(f"output shapes differ: {tuple(ours.shape)} and {tuple(ref.shape)}")
    errors = [(ours - ref).abs().max().item()]
    leaves = [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    if leaves:
        grads = torch.autograd.grad(ours.square().sum(), leaves)
        grads_ref = torch.autograd.grad(ref.square().sum(), leaves)
        errors += [(a - b).abs().max().item() for a, b in zip(grads, grads_ref)]
    return max(errors)
