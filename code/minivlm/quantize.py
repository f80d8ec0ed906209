"""INT8 dynamic quantisation of nn.Linear (W8A8): 8-bit weights, 8-bit activations.

Symmetric quantisation of a row w with b bits, q_max = 2^(b-1) - 1 (127 for int8):

    s = max_j |w_j| / q_max                       one float scale per row
    q = clamp(round(w / s), -q_max, q_max)        integers, stored as int8
    w ~ q s,    |w_j - q_j s| <= s / 2            rounding moves each value at most half a step

A linear layer y = x W^T + b, W: (out, in), is quantised per output row of W (offline, once) and
per token of x (dynamically, at every call, since activations are only known at run time):

    y_nm = s_x[n] s_w[m] sum_k q_x[n, k] q_w[m, k] + b_m

The sum is a product of integer matrices, which int8 hardware accumulates in int32; only the
(N, out) result is rescaled. One scale per row rather than one per tensor keeps a row of small
weights (or a quiet token) from being crushed to zero by the largest value elsewhere.

This is the idea behind torch.ao.quantization.quantize_dynamic (deprecated in recent torch),
which uses one scale per tensor for both operands. Weights take 1 byte instead of 4, so a
Linear-heavy model shrinks almost 4x on disk; see `model_bytes`.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

from ._checks import check_int, check_tensor


def quantize_per_row(W: torch.Tensor, bits: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row quantisation: (rows, cols) -> int8 (rows, cols), float32 scales (rows,).

    With q_max = 2^(bits-1) - 1: s = max|W_row| / q_max, q = clamp(round(W / s), -q_max, q_max),
    so W ~ q * s[:, None] and |W - q * s[:, None]| <= s / 2 elementwise. A row of zeros gets
    s = 1 (any scale reconstructs it exactly) so that nothing divides by 0. bits may be 2 to 8:
    the values are always stored as int8, and the range is symmetric, so -2^(bits-1) is unused.
    """
    check_tensor(W, "W", dim=2, shape_doc="(rows, cols)")
    if not (isinstance(bits, int) and not isinstance(bits, bool) and 2 <= bits <= 8):
        raise ValueError(f"bits must be an integer from 2 to 8 (stored as int8), got {bits!r}")
    if W.shape[1] == 0:
        raise ValueError(
            f"W must have at least one column (rows, cols), got shape {tuple(W.shape)}"
        )
    W = W.detach().to(torch.float32)  # rounding has no gradient; scales are float32
    if not torch.isfinite(W).all():
        raise ValueError("W must be finite: an inf or NaN has no int8 code")
    q_max = 2 ** (bits - 1) - 1
    amax = W.abs().amax(dim=1)  # (rows,)
    scale = torch.where(amax > 0, amax / q_max, torch.ones_like(amax))  # (rows,)
    q = torch.round(W / scale[:, None]).clamp(-q_max, q_max)  # (rows, cols), integer-valued
    return q.to(torch.int8), scale


class Int8Linear(nn.Module):
    """A Linear layer with int8 weights and dynamically quantised int8 inputs.

    forward(x (..., in_features)) -> (..., out_features), float32. Build one from a trained
    layer with `Int8Linear.from_linear`. The buffers are weight_q (out, in) int8, weight_scale
    (out,) float32 and bias (out,) float32 or None; there are no parameters, so it does not train.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        check_int(in_features, "in_features")
        check_int(out_features, "out_features")
        self.in_features = in_features
        self.out_features = out_features
        self.register_buffer("weight_q", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(out_features))
        self.register_buffer("bias", torch.zeros(out_features) if bias else None)

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8Linear:
        """Quantise a float nn.Linear, one scale per output row of its weight."""
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"linear must be an nn.Linear, got {type(linear).__name__}")
        layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None)
        weight_q, weight_scale = quantize_per_row(linear.weight)  # (out, in), (out,)
        device = linear.weight.device
        layer.weight_q = weight_q
        layer.weight_scale = weight_scale
        if linear.bias is not None:
            # the bias is added after rescaling, in float: it costs out_features floats only
            layer.bias = linear.bias.detach().to(torch.float32).clone()
        return layer.to(device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", min_dim=1, last=self.in_features, shape_doc="(..., in_features)")
        lead = x.shape[:-1]
        x = x.reshape(-1, self.in_features)  # (..., in) -> (N, in)
        x_q, x_scale = quantize_per_row(x)  # (N, in) int8, (N,): one scale per token
        # int8 kernels accumulate in int32; a float32 matmul of the integer values gives the same
        # sum exactly while every partial sum stays below 2^24, i.e. in * 127 * 127 < 2^24,
        # in_features <= 1040. Beyond that it rounds like any float32 matmul.
        acc = x_q.to(torch.float32) @ self.weight_q.to(torch.float32).T  # (N, in) @ (in, out)
        y = acc * (x_scale[:, None] * self.weight_scale[None, :])  # (N, out) * ((N, 1) * (1, out))
        if self.bias is not None:
            y = y + self.bias  # (N, out) + (out,)
        return y.reshape(*lead, self.out_features)  # (N, out) -> (..., out)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of model, in eval mode, with every nn.Linear replaced by an Int8Linear.

    The original is left untouched. Only layers of type exactly nn.Linear are replaced: a
    subclass may compute something else, and nn.MultiheadAttention reads its out_proj's
    (a subclass) weight directly, so those stay in float. A Linear used in several places
    stays shared in the copy.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    model = copy.deepcopy(model)
    if type(model) is nn.Linear:
        return Int8Linear.from_linear(model).eval()
    # every path to every module: named_children alone would skip a layer's second use
    paths = [(n, m) for n, m in model.named_modules(remove_duplicate=False) if type(m) is nn.Linear]
    done: dict[int, Int8Linear] = {}  # id(Linear) -> its replacement: a shared one stays shared
    for name, linear in paths:
        if id(linear) not in done:
            done[id(linear)] = Int8Linear.from_linear(linear)
        parent, _, attr = name.rpartition(".")  # "transformer.blocks.0.mlp.fc1" -> (..., "fc1")
        setattr(model.get_submodule(parent), attr, done[id(linear)])
    return model.eval()


def model_bytes(model: nn.Module) -> int:
    """Bytes held by the parameters and buffers of model: sum of numel * element_size.

    A tensor reachable twice (tied weights, a buffer viewing a parameter) is counted once, by its
    data pointer. This is the size of the state_dict on disk, up to pickle's overhead.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    seen: set[int] = set()
    total = 0
    for t in (*model.parameters(), *model.buffers()):
        if t.numel() == 0:
            continue  # holds no bytes, and empty tensors may all share data pointer 0
        if t.data_ptr() in seen:
            continue
        seen.add(t.data_ptr())
        total += t.numel() * t.element_size()
    return total
