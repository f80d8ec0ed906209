"""minivlm.positional: the sinusoidal table, hand-computed entries and the shift rotation."""

from __future__ import annotations

import math
import re

import pytest
import torch

from minivlm.positional import frequencies, shift_matrix, sinusoidal


@pytest.mark.parametrize("n, d", [(1, 2), (10, 4), (50, 32), (7, 6)])
def test_shape_and_dtype(n, d):
    pe = sinusoidal(n, d)
    assert pe.shape == (n, d) and pe.dtype == torch.float32
    pe64 = sinusoidal(n, d, dtype=torch.float64)
    assert pe64.dtype == torch.float64
    torch.testing.assert_close(pe, pe64.float(), atol=0, rtol=0)


def test_position_zero_alternates_zero_and_one():
    pe = sinusoidal(3, 10, dtype=torch.float64)
    assert torch.equal(pe[0], torch.tensor([0.0, 1.0] * 5, dtype=torch.float64))


def test_hand_computed_entries():
    d = 8
    pe = sinusoidal(100, d, dtype=torch.float64)
    assert pe[1, 0].item() == pytest.approx(math.sin(1.0), abs=1e-15)
    assert pe[1, 1].item() == pytest.approx(math.cos(1.0), abs=1e-15)
    assert pe[2, 0].item() == pytest.approx(math.sin(2.0), abs=1e-15)
    # pair i = 1 of d = 8: frequency 10000^(-2/8) = 0.1
    assert pe[5, 2].item() == pytest.approx(math.sin(0.5), abs=1e-14)
    assert pe[5, 3].item() == pytest.approx(math.cos(0.5), abs=1e-14)
    # pair i = 3: frequency 10000^(-6/8) = 0.001
    assert pe[99, 6].item() == pytest.approx(math.sin(0.099), abs=1e-14)
    assert pe[99, 7].item() == pytest.approx(math.cos(0.099), abs=1e-14)
    for pos in (0, 3, 17, 64, 99):
        for i in range(d // 2):
            angle = pos / 10000 ** (2 * i / d)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-13)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-13)


def test_custom_base():
    pe = sinusoidal(4, 4, base=100.0, dtype=torch.float64)
    # pair 1 of d = 4 with base 100: frequency 100^(-1/2) = 0.1
    assert pe[3, 2].item() == pytest.approx(math.sin(0.3), abs=1e-15)
    torch.testing.assert_close(
        frequencies(4, base=100.0), torch.tensor([1.0, 0.1], dtype=torch.float64)
    )


def test_frequencies():
    w = frequencies(8)
    assert w.dtype == torch.float64 and w.shape == (4,)
    torch.testing.assert_close(w, torch.tensor([1.0, 0.1, 0.01, 0.001], dtype=torch.float64))
    assert (w[1:] < w[:-1]).all()  # strictly decreasing: longer and longer wavelengths


def test_bounded_and_each_pair_on_the_unit_circle():
    pe = sinusoidal(2000, 64, dtype=torch.float64)
    assert pe.abs().max() <= 1.0
    pairs = pe[:, 0::2] ** 2 + pe[:, 1::2] ** 2
    torch.testing.assert_close(pairs, torch.ones_like(pairs), atol=1e-14, rtol=0)
    # every row has the same norm sqrt(d / 2)
    torch.testing.assert_close(
        pe.norm(dim=1), torch.full((2000,), math.sqrt(32), dtype=torch.float64)
    )


def test_distinct_positions_get_distinct_codes():
    pe = sinusoidal(512, 16, dtype=torch.float64)
    distances = torch.cdist(pe, pe)
    off_diagonal = distances[~torch.eye(512, dtype=torch.bool)]
    assert off_diagonal.min() > 1e-3


def test_large_positions_keep_their_phase():
    # computed in float64 then cast: position 10^6 is still sin(10^6) in dimension 0
    pe = sinusoidal(1_000_001, 2)
    assert pe[-1, 0].item() == pytest.approx(math.sin(1e6), abs=1e-6)
    assert pe[-1, 1].item() == pytest.approx(math.cos(1e6), abs=1e-6)


@pytest.mark.parametrize("d", [2, 8, 64])
@pytest.mark.parametrize("k", [0, 1, 3, 17, -1, -5, 250])
def test_shift_property(k, d):
    n = 300
    pe = sinusoidal(n, d, dtype=torch.float64)
    R = shift_matrix(k, d)
    assert R.shape == (d, d) and R.dtype == torch.float64
    positions = torch.arange(max(0, -k), min(n, n - k))
    shifted = pe[positions] @ R.T  # each row: R_k PE[pos]
    torch.testing.assert_close(shifted, pe[positions + k], atol=1e-12, rtol=0)


def test_shift_matrix_zero_is_identity_and_blocks_are_rotations():
    torch.testing.assert_close(
        shift_matrix(0, 6), torch.eye(6, dtype=torch.float64), atol=0, rtol=0
    )
    R = shift_matrix(2, 4)
    # block 0 rotates by 2 * w_0 = 2 radians
    expected = torch.tensor(
        [[math.cos(2), math.sin(2)], [-math.sin(2), math.cos(2)]], dtype=torch.float64
    )
    torch.testing.assert_close(R[:2, :2], expected, atol=1e-15, rtol=0)
    assert torch.equal(R[:2, 2:], torch.zeros(2, 2, dtype=torch.float64))
    assert torch.equal(R[2:, :2], torch.zeros(2, 2, dtype=torch.float64))


@pytest.mark.parametrize("k", [1, 7, -3, 1000])
def test_shift_matrix_is_orthogonal(k):
    R = shift_matrix(k, 16)
    eye = torch.eye(16, dtype=torch.float64)
    torch.testing.assert_close(R @ R.T, eye, atol=1e-13, rtol=0)
    torch.testing.assert_close(R.T @ R, eye, atol=1e-13, rtol=0)
    assert torch.linalg.det(R).item() == pytest.approx(1.0, abs=1e-12)
    torch.testing.assert_close(shift_matrix(-k, 16), R.T, atol=1e-13, rtol=0)  # R_{-k} = R_k^{-1}


@pytest.mark.parametrize("a, b", [(1, 2), (5, -5), (-3, -4), (10, 31)])
def test_shift_matrices_compose(a, b):
    torch.testing.assert_close(
        shift_matrix(a, 12) @ shift_matrix(b, 12),
        shift_matrix(a + b, 12),
        atol=1e-13,
        rtol=0,
    )


@pytest.mark.parametrize("k", [0, 1, 4, 20])
def test_dot_product_depends_on_the_offset_alone(k):
    d = 32
    pe = sinusoidal(200, d, dtype=torch.float64)
    dots = (pe[: 200 - k] * pe[k:]).sum(-1)  # PE[p] . PE[p + k] for every p
    expected = torch.cos(k * frequencies(d)).sum()  # sum_i cos(k w_i)
    torch.testing.assert_close(dots, expected.expand_as(dots), atol=1e-12, rtol=0)


@pytest.mark.parametrize("d_model", [3, 0, -2, 7, 2.0, "8", True, None])
def test_bad_d_model(d_model):
    pattern = r"d_model must be a positive even integer \(sin/cos pairs\), got " + re.escape(
        repr(d_model)
    )
    with pytest.raises(ValueError, match=pattern):
        sinusoidal(4, d_model)
    with pytest.raises(ValueError, match=r"d_model must be a positive even integer"):
        frequencies(d_model)
    with pytest.raises(ValueError, match=r"d_model must be a positive even integer"):
        shift_matrix(1, d_model)


@pytest.mark.parametrize("n", [0, -1, 2.0, "4", None, True])
def test_bad_n_positions(n):
    with pytest.raises(
        ValueError,
        match=r"n_positions must be a positive integer, got " + re.escape(repr(n)),
    ):
        sinusoidal(n, 8)


@pytest.mark.parametrize(
    "k, name",
    [
        (1.0, "float"),
        (1.5, "float"),
        ("2", "str"),
        (None, "NoneType"),
        (True, "bool"),
        (torch.tensor(1), "Tensor"),
    ],
)
def test_bad_shift(k, name):
    with pytest.raises(TypeError, match=rf"k must be an integer shift, got {name}"):
        shift_matrix(k, 8)
