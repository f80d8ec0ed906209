"""minivlm.cnn against torch.nn.functional, hand-computed values and its error messages."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from minivlm.cnn import (
    Layer,
    conv2d,
    convolve2d,
    max_pool2d,
    output_size,
    receptive_field,
)

TOL = {
    torch.float32: dict(atol=1e-5, rtol=1e-5),
    torch.float64: dict(atol=1e-12, rtol=1e-12),
}


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# conv2d ------------------------------------------------------------------------------

# (N or None for unbatched, C, D, H, W, k_h, k_w, stride, padding, bias)
CONV_CASES = [
    (2, 3, 4, 9, 11, 3, 2, 1, 0, True),
    (1, 1, 1, 5, 7, 5, 7, 1, 0, False),  # kernel as large as the image: one output
    (None, 2, 5, 10, 7, 3, 3, 2, 1, True),  # unbatched (C, H, W)
    (3, 5, 2, 13, 8, 4, 3, (2, 3), (1, 2), True),  # tuple stride and padding
    (2, 4, 3, 6, 15, 1, 1, 3, 0, False),  # 1x1 kernel, stride larger than kernel
    (None, 1, 6, 8, 9, 2, 5, (1, 2), (0, 2), False),
    (1, 3, 3, 12, 12, 7, 7, 3, 3, True),  # odd stride, padding on a ViT-ish stem
    (2, 2, 2, 4, 4, 3, 3, 1, 2, True),  # padding larger than half the kernel
]


def _conv_inputs(case, dtype, seed=0, requires_grad=False):
    N, C, D, H, W, k_h, k_w, stride, padding, use_bias = case
    g = _gen(seed)
    shape = (C, H, W) if N is None else (N, C, H, W)
    x = torch.randn(*shape, generator=g, dtype=dtype).requires_grad_(requires_grad)
    w = torch.randn(D, C, k_h, k_w, generator=g, dtype=dtype).requires_grad_(requires_grad)
    b = torch.randn(D, generator=g, dtype=dtype).requires_grad_(requires_grad) if use_bias else None
    return x, w, b, stride, padding


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_torch(case, dtype):
    x, w, b, stride, padding = _conv_inputs(case, dtype)
    ours = conv2d(x, w, b, stride=stride, padding=padding)
    ref = F.conv2d(x, w, b, stride=stride, padding=padding)
    assert ours.shape == ref.shape
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, ref, **TOL[dtype])


@pytest.mark.parametrize("case", CONV_CASES[:4] + CONV_CASES[6:])
def test_conv2d_gradients_match_torch(case):
    inputs = _conv_inputs(case, torch.float64, seed=1, requires_grad=True)
    x, w, b, stride, padding = inputs
    leaves = [t for t in (x, w, b) if t is not None]
    ours = conv2d(x, w, b, stride=stride, padding=padding)
    ref = F.conv2d(x, w, b, stride=stride, padding=padding)
    upstream = torch.randn(ref.shape, generator=_gen(2), dtype=torch.float64)
    grads_ours = torch.autograd.grad(ours, leaves, upstream)
    grads_ref = torch.autograd.grad(ref, leaves, upstream)
    for got, want in zip(grads_ours, grads_ref):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=1e-12)


def test_conv2d_is_cross_correlation_not_convolution():
    # a single 1 in the middle of the image copies the *flipped* kernel into the output
    # for a cross-correlation, and the kernel itself for a true convolution
    x = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    x[0, 0, 2, 2] = 1.0
    w = torch.arange(1.0, 10.0, dtype=torch.float64).view(1, 1, 3, 3)
    y = conv2d(x, w, padding=1)[0, 0, 1:4, 1:4]
    torch.testing.assert_close(y, w[0, 0].flip(0, 1), atol=0, rtol=0)


def test_conv2d_bias_is_added_per_output_channel():
    x = torch.zeros(2, 3, 4, 5)
    w = torch.randn(4, 3, 2, 2, generator=_gen(3))
    b = torch.tensor([1.0, -2.0, 3.5, 0.25])
    y = conv2d(x, w, b)
    assert y.shape == (2, 4, 3, 4)
    torch.testing.assert_close(y, b.view(1, 4, 1, 1).expand_as(y), atol=0, rtol=0)


def test_conv2d_errors():
    x = torch.randn(1, 3, 8, 8)
    w = torch.randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match=r"x must be 3 or 4-D .*got shape \(8, 8\)"):
        conv2d(torch.randn(8, 8), w)
    with pytest.raises(ValueError, match=r"x must be 3 or 4-D .*got shape \(1, 1, 3, 8, 8\)"):
        conv2d(torch.randn(1, 1, 3, 8, 8), w)
    with pytest.raises(
        ValueError,
        match=r"weight must be 4-D \(D, C, k_h, k_w\), got shape \(3, 3, 3\)",
    ):
        conv2d(x, torch.randn(3, 3, 3))
    with pytest.raises(
        ValueError, match=r"x has 3 channels but weight .*\(4, 2, 3, 3\) expects C=2"
    ):
        conv2d(x, torch.randn(4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"x has 3 channels .*expects C=2"):
        conv2d(torch.randn(3, 8, 8), torch.randn(4, 2, 3, 3))  # unbatched too
    with pytest.raises(
        ValueError, match=r"bias must have shape \(4,\) to match weight, got \(3,\)"
    ):
        conv2d(x, w, torch.randn(3))
    with pytest.raises(ValueError, match=r"bias must be 1-D, got shape \(1, 4\)"):
        conv2d(x, w, torch.randn(1, 4))
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor, got list"):
        conv2d([[[0.0]]], w)
    with pytest.raises(TypeError, match=r"weight must be a torch.Tensor, got ndarray"):
        conv2d(x, w.numpy())
    with pytest.raises(
        TypeError, match=r"x must be a floating-point tensor, got dtype torch.int64"
    ):
        conv2d(torch.ones(1, 3, 8, 8, dtype=torch.long), w)
    with pytest.raises(ValueError, match=r"5x5 kernel does not fit in the padded 4x4 input"):
        conv2d(torch.randn(1, 3, 4, 4), torch.randn(2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"3x9 kernel does not fit in the padded 8x8 input"):
        conv2d(x, torch.randn(2, 3, 3, 9))
    # with padding the same kernel fits: 4 + 2 * 1 = 6 >= 5
    assert conv2d(torch.randn(1, 3, 4, 4), torch.randn(2, 3, 5, 5), padding=1).shape == (1, 2, 2, 2)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(stride=0), r"stride must be an int >= 1 or a pair of them, got 0"),
        (dict(stride=-2), r"stride must be an int >= 1 .*got -2"),
        (dict(stride=1.5), r"stride must be an int >= 1 .*got 1\.5"),
        (dict(stride=(1, 2, 3)), r"stride must be .*got \(1, 2, 3\)"),
        (dict(stride=(1, 0)), r"stride must be .*got \(1, 0\)"),
        (dict(stride="2"), r"stride must be .*got '2'"),
        (dict(stride=True), r"stride must be .*got True"),
        (dict(padding=-1), r"padding must be an int >= 0 or a pair of them, got -1"),
        (dict(padding=(1,)), r"padding must be .*got \(1,\)"),
        (dict(padding=(0, 1.0)), r"padding must be .*got \(0, 1\.0\)"),
        (dict(padding=None), r"padding must be .*got None"),
    ],
)
def test_conv2d_bad_stride_and_padding(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        conv2d(torch.randn(1, 2, 6, 6), torch.randn(3, 2, 3, 3), **kwargs)


# convolve2d --------------------------------------------------------------------------


def test_convolve2d_hand_computed():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    g = torch.tensor([[5.0, 6.0], [7.0, 8.0]])
    expected = torch.tensor([[5.0, 16.0, 12.0], [22.0, 60.0, 40.0], [21.0, 52.0, 32.0]])
    torch.testing.assert_close(convolve2d(f, g), expected, atol=0, rtol=0)


def test_convolve2d_with_a_delta_is_a_shift():
    f = torch.randn(4, 6, generator=_gen(4))
    g = torch.zeros(3, 2)
    g[2, 1] = 1.0  # a delta at (2, 1) shifts f down 2 and right 1
    out = convolve2d(f, g)
    assert out.shape == (6, 7)
    torch.testing.assert_close(out[2:, 1:], f, atol=0, rtol=0)
    assert out[:2].abs().sum() == 0 and out[:, :1].abs().sum() == 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "f_shape, g_shape",
    [((7, 5), (3, 4)), ((4, 9), (5, 2)), ((1, 1), (3, 3)), ((6, 6), (1, 1))],
)
def test_convolve2d_is_flipped_cross_correlation_with_full_padding(f_shape, g_shape, dtype):
    gen = _gen(5)
    f = torch.randn(*f_shape, generator=gen, dtype=dtype)
    g = torch.randn(*g_shape, generator=gen, dtype=dtype)
    k_h, k_w = g_shape
    ref = F.conv2d(f[None, None], g.flip(0, 1)[None, None], padding=(k_h - 1, k_w - 1))[0, 0]
    out = convolve2d(f, g)
    assert out.shape == (f_shape[0] + k_h - 1, f_shape[1] + k_w - 1)
    torch.testing.assert_close(out, ref, **TOL[dtype])


@pytest.mark.parametrize("f_shape, g_shape", [((7, 5), (3, 4)), ((2, 9), (6, 3))])
def test_convolve2d_is_commutative(f_shape, g_shape):
    gen = _gen(6)
    f = torch.randn(*f_shape, generator=gen, dtype=torch.float64)
    g = torch.randn(*g_shape, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(convolve2d(f, g), convolve2d(g, f), atol=1e-12, rtol=1e-12)


def test_convolve2d_leading_batch_dimensions():
    gen = _gen(7)
    f = torch.randn(2, 3, 6, 5, generator=gen, dtype=torch.float64)
    g = torch.randn(3, 2, generator=gen, dtype=torch.float64)
    out = convolve2d(f, g)
    assert out.shape == (2, 3, 8, 6)
    for i in range(2):
        for c in range(3):
            torch.testing.assert_close(out[i, c], convolve2d(f[i, c], g), atol=0, rtol=0)
    ref = F.conv2d(f.reshape(6, 1, 6, 5), g.flip(0, 1)[None, None], padding=(2, 1)).reshape(
        2, 3, 8, 6
    )
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-12)


def test_convolve2d_errors():
    with pytest.raises(
        ValueError,
        match=r"f must have at least 2 dimensions \(\.\.\., H, W\), got shape \(5,\)",
    ):
        convolve2d(torch.randn(5), torch.randn(2, 2))
    with pytest.raises(ValueError, match=r"g must be 2-D \(k_h, k_w\), got shape \(1, 2, 2\)"):
        convolve2d(torch.randn(5, 5), torch.randn(1, 2, 2))
    with pytest.raises(TypeError, match=r"g must be a torch.Tensor, got list"):
        convolve2d(torch.randn(5, 5), [[1.0]])
    with pytest.raises(
        TypeError, match=r"f must be a floating-point tensor, got dtype torch.int64"
    ):
        convolve2d(torch.ones(3, 3, dtype=torch.long), torch.randn(2, 2))


# max_pool2d --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, p",
    [
        ((2, 3, 8, 8), 2),
        ((2, 3, 7, 9), 2),  # sides not multiples of p: the remainder is dropped
        ((1, 4, 10, 11), 3),
        ((3, 13, 5), 4),  # unbatched
        ((2, 1, 6, 6), 1),  # p = 1 is the identity
        ((1, 2, 5, 9), 5),  # one window tall
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.uint8])
def test_max_pool2d_matches_torch(shape, p, dtype):
    gen = _gen(8)
    if dtype.is_floating_point:
        x = torch.randn(*shape, generator=gen, dtype=dtype)
    else:
        x = torch.randint(0, 100, shape, generator=gen).to(dtype)
    ours = max_pool2d(x, p)
    ref = F.max_pool2d(x, p)
    assert ours.dtype == dtype
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, atol=0, rtol=0)


def test_max_pool2d_hand_computed():
    x = torch.tensor([[[1, 5, 2, 0, 9], [3, 4, 8, 1, 9], [7, 7, 7, 7, 9]]])  # (1, 3, 5)
    assert torch.equal(max_pool2d(x, 2), torch.tensor([[[5, 8]]]))


@pytest.mark.parametrize("shape, p", [((2, 3, 7, 9), 2), ((1, 2, 10, 11), 3), ((4, 8, 8), 4)])
def test_max_pool2d_gradient_matches_torch_without_ties(shape, p):
    n = torch.Size(shape).numel()
    # a permutation of distinct values: no window holds a tie
    values = torch.randperm(n, generator=_gen(9)).to(torch.float64).view(shape)
    x1 = values.clone().requires_grad_(True)
    x2 = values.clone().requires_grad_(True)
    ours, ref = max_pool2d(x1, p), F.max_pool2d(x2, p)
    upstream = torch.randn(ref.shape, generator=_gen(10), dtype=torch.float64)
    (g_ours,) = torch.autograd.grad(ours, x1, upstream)
    (g_ref,) = torch.autograd.grad(ref, x2, upstream)
    torch.testing.assert_close(g_ours, g_ref, atol=0, rtol=0)
    # the gradient flows to exactly one input per window
    assert int((g_ours != 0).sum()) == ref.numel()


def test_max_pool2d_errors():
    x = torch.randn(1, 2, 6, 6)
    for bad in (0, -1, 2.0, True, None, (2, 2)):
        with pytest.raises(
            ValueError,
            match=rf"kernel_size must be a positive integer, got {re.escape(repr(bad))}",
        ):
            max_pool2d(x, bad)
    with pytest.raises(ValueError, match=r"a 7x7 pooling window does not fit in a 6x6 input"):
        max_pool2d(x, 7)
    with pytest.raises(ValueError, match=r"a 3x3 pooling window does not fit in a 2x6 input"):
        max_pool2d(torch.randn(2, 2, 6), 3)
    with pytest.raises(ValueError, match=r"x must be 3 or 4-D .*got shape \(6, 6\)"):
        max_pool2d(torch.randn(6, 6), 2)
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor, got list"):
        max_pool2d([[[1.0]]], 1)


# output_size and receptive_field ----------------------------------------------------


@pytest.mark.parametrize(
    "size, k, s, p, expected",
    [
        (32, 3, 1, 0, 30),
        (32, 3, 1, 1, 32),
        (7, 3, 2, 0, 3),
        (8, 3, 2, 0, 3),
        (224, 7, 2, 3, 112),
        (224, 16, 16, 0, 14),
        (5, 5, 1, 0, 1),
        (10, 1, 3, 0, 4),
    ],
)
def test_output_size(size, k, s, p, expected):
    assert output_size(size, k, s, p) == expected
    x = torch.zeros(1, 1, size, size)
    assert F.conv2d(x, torch.zeros(1, 1, k, k), stride=s, padding=p).shape[-1] == expected


def test_output_size_defaults():
    assert output_size(28, 5) == 24


def test_output_size_agrees_with_conv2d_on_rectangles():
    x = torch.zeros(1, 1, 13, 9)
    w = torch.zeros(1, 1, 4, 3)
    y = conv2d(x, w, stride=(3, 2), padding=(1, 2))
    assert y.shape[-2:] == (output_size(13, 4, 3, 1), output_size(9, 3, 2, 2))


@pytest.mark.parametrize(
    "layers, expected",
    [
        ([], []),
        ([Layer(3)], [3]),
        ([Layer(3), Layer(3), Layer(3)], [3, 5, 7]),
        ([Layer(2, 2), Layer(2, 2), Layer(2, 2)], [2, 4, 8]),
        ([Layer(7, 2), Layer(3, 2), Layer(3), Layer(3)], [7, 11, 19, 27]),
        ([Layer(3), Layer(2, 2), Layer(3), Layer(2, 2), Layer(3)], [3, 4, 8, 10, 18]),
        ([Layer(16, 16)], [16]),  # a ViT patch embedding
        ([Layer(1, 4), Layer(3)], [1, 9]),
    ],
)
def test_receptive_field_table(layers, expected):
    assert receptive_field(layers) == expected
    assert receptive_field(tuple(layers)) == expected


def _measured_receptive_field(layers: list[Layer], size: int) -> tuple[int, int]:
    """Side of the input region that the centre output unit's gradient reaches."""
    convs = []
    for layer in layers:
        conv = nn.Conv2d(1, 1, layer.kernel_size, stride=layer.stride, bias=False).double()
        nn.init.ones_(conv.weight)
        convs.append(conv)
    x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    y = nn.Sequential(*convs)(x)
    H_out, W_out = y.shape[-2:]
    y[0, 0, H_out // 2, W_out // 2].backward()
    nonzero = x.grad[0, 0] != 0
    rows = nonzero.any(dim=1).nonzero().flatten()
    cols = nonzero.any(dim=0).nonzero().flatten()
    # the region is one solid rectangle
    assert nonzero[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
    assert int(nonzero.sum()) == len(rows) * len(cols)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize(
    "layers",
    [
        [Layer(3), Layer(3), Layer(3)],
        [Layer(7, 2), Layer(3, 2), Layer(3), Layer(3)],
        [Layer(3), Layer(2, 2), Layer(3), Layer(2, 2), Layer(3)],
        [Layer(5, 3), Layer(4, 2), Layer(2)],
        [Layer(2, 2), Layer(2, 2), Layer(2, 2), Layer(2, 2)],
    ],
)
def test_receptive_field_matches_measurement(layers):
    predicted = receptive_field(layers)[-1]
    assert _measured_receptive_field(layers, size=80) == (predicted, predicted)


def test_receptive_field_errors():
    with pytest.raises(
        TypeError, match=r"layers must be a list of minivlm.cnn.Layer, got \[3, 3\]"
    ):
        receptive_field([3, 3])
    with pytest.raises(TypeError, match=r"layers must be a list of minivlm.cnn.Layer, got 3"):
        receptive_field(3)
    for bad in (Layer(0), Layer(3, -1), Layer(2.5), Layer(3, 1.0), Layer(True)):
        with pytest.raises(
            ValueError,
            match=rf"kernel_size and stride must be positive integers, got {re.escape(repr(bad))}",
        ):
            receptive_field([Layer(3), bad])
