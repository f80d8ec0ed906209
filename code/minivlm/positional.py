"""Sinusoidal positional encodings (Vaswani et al., 2017).

    PE[pos, 2i]     = sin(pos / 10000^(2i/d))
    PE[pos, 2i + 1] = cos(pos / 10000^(2i/d))

i runs over the d/2 pairs of dimensions, not over the d dimensions: pair i is a point on
a circle turning at angular frequency w_i = 10000^(-2i/d) per position. Moving k positions
on turns every circle by k w_i, which is a rotation, so PE[pos + k] = R_k PE[pos] for a
matrix R_k that depends on k alone (shift_matrix).
"""

from __future__ import annotations

import torch

from ._checks import check_int, is_int


def _check_d_model(d_model) -> None:
    if not is_int(d_model, 2) or d_model % 2:
        raise ValueError(
            f"d_model must be a positive even integer (sin/cos pairs), got {d_model!r}"
        )


def frequencies(
    d_model: int, base: float = 10000.0, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """The d_model/2 angular frequencies w_i = 1 / base^(2i/d_model), computed in dtype.

    float64 for the sinusoidal table; rotary embeddings (minivlm.llama) ask for float32, in
    which Hugging Face computes the same theta_i, so that the two agree to the last bit.
    """
    _check_d_model(d_model)
    two_i = torch.arange(0, d_model, 2, dtype=dtype)
    return 1.0 / base ** (two_i / d_model)


def sinusoidal(
    n_positions: int,
    d_model: int,
    base: float = 10000.0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The (n_positions, d_model) table of encodings for positions 0 .. n_positions - 1."""
    check_int(n_positions, "n_positions")
    w = frequencies(d_model, base)  # (d/2,)
    pos = torch.arange(n_positions, dtype=torch.float64)
    angles = pos[:, None] * w[None, :]  # (n, 1) * (1, d/2) -> (n, d/2)
    pe = torch.empty(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)  # even dimensions 2i
    pe[:, 1::2] = torch.cos(angles)  # odd dimensions 2i + 1
    # computed in float64 so that large positions keep their phase, then cast
    return pe.to(dtype)


def shift_matrix(k: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The (d_model, d_model) matrix R_k with PE[pos + k] = R_k PE[pos] for every pos.

    Block diagonal: pair i gets the 2x2 rotation by angle k w_i,
        [sin(a + b)]   [ cos b   sin b] [sin a]
        [cos(a + b)] = [-sin b   cos b] [cos a],   a = pos w_i, b = k w_i.
    """
    if not isinstance(k, int) or isinstance(k, bool):
        raise TypeError(f"k must be an integer shift, got {type(k).__name__}")
    b = k * frequencies(d_model, base)  # (d/2,) rotation angles
    R = torch.zeros(d_model, d_model, dtype=torch.float64)
    even, odd = torch.arange(0, d_model, 2), torch.arange(1, d_model, 2)
    R[even, even], R[even, odd] = torch.cos(b), torch.sin(b)
    R[odd, even], R[odd, odd] = -torch.sin(b), torch.cos(b)
    return R
