"""Convolution, the convolutional layer and max pooling, from the module's formulas.

    (f * g)(x, y) = sum_m sum_n f(m, n) g(x - m, y - n)                  true convolution
    Y[i, j, d] = sum_c sum_m sum_n W[m, n, c, d] X[i + m, j + n, c] + b[d]   the layer
    Y[i, j, c] = max_{m, n in [0, p)} X[p i + m, p j + n, c]              max pooling

The layer is a cross-correlation: the kernel is not flipped. Deep-learning libraries call
it convolution all the same. Tensors use PyTorch's layout, channels first: X is
(N, C, H, W) and W is (D, C, k_h, k_w), where the module writes H x W x C and k x k x C x D.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._checks import check_int, check_tensor, is_int, pair


def convolve2d(f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """The full 2-D convolution (f * g) of an image f (..., H, W) with a kernel g (k_h, k_w).

    Every (m, n) where f is defined contributes f(m, n) g(x - m, y - n); the output covers
    every (x, y) that receives a contribution: shape (..., H + k_h - 1, W + k_w - 1).
    """
    check_tensor(f, "f", min_dim=2, shape_doc="(..., H, W)")
    check_tensor(g, "g", dim=2, shape_doc="(k_h, k_w)")
    H, W = f.shape[-2:]
    k_h, k_w = g.shape
    out = f.new_zeros(*f.shape[:-2], H + k_h - 1, W + k_w - 1)
    # Write x = m + a, y = n + b: each kernel entry g(a, b) adds a shifted copy of f,
    # so the double sum over (m, n) becomes k_h * k_w whole-image additions.
    for a in range(k_h):
        for b in range(k_w):
            out[..., a : a + H, b : b + W] += g[a, b] * f
    return out


def output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0) -> int:
    """Side of a convolution's output: floor((size + 2 padding - kernel_size) / stride) + 1."""
    return (size + 2 * padding - kernel_size) // stride + 1


def _check_conv(x, weight, bias, stride, padding) -> tuple[int, int, int, int]:
    """conv2d's inputs checked; returns (s_h, s_w, p_h, p_w)."""
    check_tensor(x, "x", dim=(3, 4), shape_doc="(N, C, H, W) or (C, H, W)")
    check_tensor(weight, "weight", dim=4, shape_doc="(D, C, k_h, k_w)")
    D, C, k_h, k_w = weight.shape
    if x.shape[-3] != C:
        raise ValueError(
            f"x has {x.shape[-3]} channels but weight (D, C, k_h, k_w) = "
            f"{tuple(weight.shape)} expects C={C}"
        )
    if bias is not None:
        check_tensor(bias, "bias", dim=1)
        if bias.shape[0] != D:
            raise ValueError(
                f"bias must have shape ({D},) to match weight, got {tuple(bias.shape)}"
            )
    s_h, s_w = pair(stride, "stride", 1)
    p_h, p_w = pair(padding, "padding", 0)
    H, W = x.shape[-2] + 2 * p_h, x.shape[-1] + 2 * p_w
    if output_size(H, k_h, s_h) < 1 or output_size(W, k_w, s_w) < 1:
        raise ValueError(f"the {k_h}x{k_w} kernel does not fit in the padded {H}x{W} input")
    return s_h, s_w, p_h, p_w


def conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """The convolutional layer before its activation sigma, as torch.nn.functional.conv2d.

    x: (N, C, H, W) or unbatched (C, H, W); weight: (D, C, k_h, k_w); bias: (D,).
    Returns (N, D, H_out, W_out) (or (D, H_out, W_out)).
    """
    s_h, s_w, p_h, p_w = _check_conv(x, weight, bias, stride, padding)
    unbatched = x.dim() == 3
    if unbatched:
        x = x.unsqueeze(0)  # (C, H, W) -> (1, C, H, W)
    D, C, k_h, k_w = weight.shape
    x = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))  # zero padding on all four sides
    H_out, W_out = output_size(x.shape[-2], k_h, s_h), output_size(x.shape[-1], k_w, s_w)
    Y = x.new_zeros(x.shape[0], D, H_out, W_out)
    # The sums over m and n are loops over kernel offsets; the sum over c is the einsum.
    # X[i + m, j + n] for every output (i, j) at once is a strided slice of x.
    for m in range(k_h):
        for n in range(k_w):
            # (N, C, H_out, W_out)
            X_mn = x[:, :, m : m + s_h * H_out : s_h, n : n + s_w * W_out : s_w]
            Y = Y + torch.einsum("nchw,dc->ndhw", X_mn, weight[:, :, m, n])
    if bias is not None:
        Y = Y + bias.view(1, D, 1, 1)  # (D,) -> (1, D, 1, 1), one b_d per output channel
    return Y.squeeze(0) if unbatched else Y


def max_pool2d(x: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Max over non-overlapping p x p windows (stride p), as F.max_pool2d(x, p).

    x: (N, C, H, W) or (C, H, W). Rows and columns beyond the last whole window are
    dropped, as PyTorch does: the output side is floor(H / p).
    """
    check_tensor(x, "x", dim=(3, 4), shape_doc="(N, C, H, W) or (C, H, W)", floating=False)
    check_int(kernel_size, "kernel_size")
    p = kernel_size
    H, W = x.shape[-2:]
    if H < p or W < p:
        raise ValueError(f"a {p}x{p} pooling window does not fit in a {H}x{W} input")
    H_out, W_out = H // p, W // p
    x = x[..., : H_out * p, : W_out * p]
    windows = x.reshape(*x.shape[:-2], H_out, p, W_out, p)  # (..., H, W) -> (..., H/p, p, W/p, p)
    return windows.amax(dim=(-3, -1))  # max over m and n


@dataclass(frozen=True)
class Layer:
    """One layer of a convolutional stack, for receptive-field arithmetic."""

    kernel_size: int
    stride: int = 1


def receptive_field(layers: list[Layer]) -> list[int]:
    """Receptive field (in input pixels) of one output unit after each layer.

    With jump j_l = s_1 ... s_l (input pixels between neighbouring units of layer l),
    r_l = r_{l-1} + (k_l - 1) j_{l-1}, starting from r_0 = 1 and j_0 = 1.
    """
    if not isinstance(layers, (list, tuple)) or not all(isinstance(x, Layer) for x in layers):
        raise TypeError(f"layers must be a list of minivlm.cnn.Layer, got {layers!r}")
    r, j, fields = 1, 1, []
    for layer in layers:
        if not (is_int(layer.kernel_size, 1) and is_int(layer.stride, 1)):
            raise ValueError(f"kernel_size and stride must be positive integers, got {layer}")
        r += (layer.kernel_size - 1) * j
        j *= layer.stride
        fields.append(r)
    return fields
