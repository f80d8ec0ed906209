"""What a forward pass costs: floating-point operations, memory kept for backward, time.

The module's scalability law is the cost of self-attention alone,

    Complexity_ViT = O((HW / P^2)^2 D),

the two (N, N) matrix products Q K^T and A V of every block. A ViT block also multiplies
every token by its weight matrices, which costs O(N D^2) and is the larger term until N
exceeds a few times D. `vit_flops` counts both exactly, so the crossover can be read off.

FLOPs here count a multiply-add as two operations, and only the matrix products (patch
embedding, linear layers, Q K^T, A V), as torch.utils.flop_counter.FlopCounterMode does;
LayerNorm, softmax and GELU are a few operations per element and are left out.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from ._checks import check_int
from .vit import ViTConfig


def vit_flops(config: ViTConfig, batch_size: int = 1) -> dict[str, int]:
    """FLOPs of one forward pass of minivlm.vit.ViT, split by where they are spent.

    With n = N + 1 tokens (the class token too), width D, MLP width D_mlp, depth L:
        patch_embed  2 N (P^2 C) D
        linear       L (2 n D 4D + 2 n D D_mlp 2)    W_Q, W_K, W_V, W_O and the MLP's two
        attention    L (2 n^2 D + 2 n^2 D)           Q K^T and A V, over all heads together
        head         2 D n_classes
    Returns those four and "total", for batch_size images.
    """
    if not isinstance(config, ViTConfig):
        raise TypeError(f"config must be a ViTConfig, got {type(config).__name__}")
    check_int(batch_size, "batch_size")
    c = config
    N, D, L = c.n_patches, c.width, c.depth
    P_h, P_w = c.patch_hw
    n = N + 1
    flops = {
        "patch_embed": 2 * N * (P_h * P_w * c.in_channels) * D,
        "linear": L * (2 * n * D * 4 * D + 2 * n * D * c.mlp_dim * 2),
        "attention": L * 4 * n * n * D,
        "head": 2 * D * c.n_classes,
    }
    flops = {k: v * batch_size for k, v in flops.items()}
    flops["total"] = sum(flops.values())
    return flops


def saved_bytes(fn: Callable[[], object], exclude: tuple[torch.Tensor, ...] = ()) -> int:
    """Bytes of the tensors that autograd keeps for the backward pass while fn() runs.

    This is the activation memory of training, the part that grows with the sequence: an
    eager attention keeps its (n, n) weights, the fused kernel only O(n) statistics.
    Tensors in exclude (pass the model's parameters) and repeats of one storage count once
    or not at all. fn must build a graph: something in it has to require grad.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in skip:
            seen[ptr] = storage.nbytes()  # a view and its base share one storage
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


# Mixed-precision training with Adam keeps, per trained parameter: the 16-bit weight and
# gradient the forward and backward passes use, and Adam's float32 copy of the weight, its
# momentum and its variance (Rajbhandari et al., 2020, sec. 3.1: 2 + 2 + K bytes, K = 12)
STATE_BYTES = {"weights": 2, "gradients": 2, "optimizer": 12}


def model_state_bytes(n_params: int, n_gpus: int = 1, stage: int = 0) -> dict[str, float]:
    """Bytes per GPU of the model states of mixed-precision Adam training, ZeRO-sharded.

    Data parallelism (stage 0) keeps all of them on every GPU. ZeRO (Rajbhandari et al.,
    2020) splits them over the n_gpus: stage 1 the optimiser states, stage 2 the gradients
    too, stage 3 the weights too (PyTorch's FSDP with full sharding, Zhao et al., 2023).
    Returns "weights", "gradients", "optimizer" and "total". Activations are not states:
    they depend on the batch, and `saved_bytes` measures them.
    """
    check_int(n_params, "n_params")
    check_int(n_gpus, "n_gpus")
    if stage not in (0, 1, 2, 3):
        raise ValueError(f"stage must be 0, 1, 2 or 3, got {stage!r}")
    sharded = {"optimizer": stage >= 1, "gradients": stage >= 2, "weights": stage >= 3}
    out = {
        part: n_params * size / (n_gpus if sharded[part] else 1)
        for part, size in STATE_BYTES.items()
    }
    out["total"] = sum(out.values())
    return out


def seconds(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """The median wall-clock time of fn() over repeats runs, after warmup runs.

    The median, not the mean: on a shared machine one slow run (a context switch, a page
    fault) should not move the figure.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    check_int(repeats, "repeats")
    check_int(warmup, "warmup", minimum=0)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
