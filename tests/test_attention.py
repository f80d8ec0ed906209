"""minivlm.attention against torch's scaled_dot_product_attention and nn.MultiheadAttention."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from minivlm.attention import MultiHeadAttention, scaled_dot_product_attention

F64 = dict(atol=1e-10, rtol=1e-10)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(*shape, seed=0, dtype=torch.float64, gen=None):
    return torch.randn(*shape, generator=gen or _gen(seed), dtype=dtype)


def _random_mask(shape, gen):
    """A boolean mask whose every row lets at least one key through (key 0)."""
    mask = torch.rand(*shape, generator=gen) > 0.5
    mask[..., 0] = True
    return mask


# scaled_dot_product_attention --------------------------------------------------------

# (q shape, k shape, v shape)
SHAPES = [
    ((2, 5, 8), (2, 7, 8), (2, 7, 3)),  # n_q != n_k, d_v != d_k
    ((5, 4), (9, 4), (9, 6)),  # 2-D inputs
    ((2, 3, 4, 16), (2, 3, 6, 16), (2, 3, 6, 16)),  # (B, h, n, d)
    ((2, 1, 5, 8), (1, 3, 7, 8), (1, 3, 7, 2)),  # broadcasting batch dimensions
    ((4, 1, 6), (4, 3, 6), (4, 3, 1)),  # one query, d_v = 1
    ((3, 2, 5), (1, 8, 5), (8, 4)),  # k and v of different ranks, broadcast
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("q_shape, k_shape, v_shape", SHAPES)
def test_sdpa_matches_torch(q_shape, k_shape, v_shape, dtype):
    gen = _gen(0)
    q, k, v = (_randn(*s, gen=gen, dtype=dtype) for s in (q_shape, k_shape, v_shape))
    out, weights = scaled_dot_product_attention(q, k, v)
    ref = F.scaled_dot_product_attention(q, k, v)
    assert out.shape == ref.shape and out.dtype == dtype
    tol = F64 if dtype == torch.float64 else dict(atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out, ref, **tol)
    assert weights.shape == (*ref.shape[:-1], k_shape[-2])
    torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights.sum(-1)), **tol)
    assert (weights >= 0).all()


def test_sdpa_weights_are_the_softmax_of_scaled_scores():
    gen = _gen(1)
    q, k, v = _randn(3, 4, gen=gen), _randn(5, 4, gen=gen), _randn(5, 2, gen=gen)
    out, weights = scaled_dot_product_attention(q, k, v)
    expected = torch.softmax(q @ k.T / 2.0, dim=-1)  # sqrt(d_k) = 2
    torch.testing.assert_close(weights, expected, **F64)
    torch.testing.assert_close(out, expected @ v, **F64)


def test_sdpa_uniform_when_all_scores_equal():
    v = _randn(4, 3, seed=2)
    out, weights = scaled_dot_product_attention(
        torch.zeros(2, 5, dtype=torch.float64), _randn(4, 5, seed=3), v
    )
    torch.testing.assert_close(weights, torch.full((2, 4), 0.25, dtype=torch.float64), **F64)
    torch.testing.assert_close(out, v.mean(0).expand(2, 3), **F64)


@pytest.mark.parametrize("scale", [1.0, 0.125, 3.0])
def test_sdpa_custom_scale(scale):
    gen = _gen(4)
    q, k, v = (
        _randn(2, 5, 16, gen=gen),
        _randn(2, 7, 16, gen=gen),
        _randn(2, 7, 3, gen=gen),
    )
    out, _ = scaled_dot_product_attention(q, k, v, scale=scale)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, scale=scale), **F64)
    # the default is 1 / sqrt(d_k), and a different scale gives a different answer
    default, _ = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(default, scaled_dot_product_attention(q, k, v, scale=0.25)[0], **F64)
    assert not torch.allclose(out, default)


def _mask_cases():
    gen = _gen(5)
    B, h, n_q, n_k = 2, 3, 5, 7
    causal_square = torch.ones(n_q, n_q, dtype=torch.bool).tril()
    causal_rect = torch.ones(n_q, n_k, dtype=torch.bool).tril(
        diagonal=n_k - n_q
    )  # queries are the last n_q
    lengths = torch.tensor([4, 7])
    padding = (torch.arange(n_k) < lengths[:, None]).view(B, 1, 1, n_k)  # (B, 1, 1, n_k)
    return [
        ("causal", (B, h), n_q, causal_square),
        ("causal-rect", (B, h), n_k, causal_rect),
        ("padding", (B, h), n_k, padding),
        ("random-2d", (B, h), n_k, _random_mask((n_q, n_k), gen)),
        ("random-full", (B, h), n_k, _random_mask((B, h, n_q, n_k), gen)),
        ("per-batch", (B, h), n_k, _random_mask((B, 1, n_q, n_k), gen)),
        ("key-row", (B, h), n_k, _random_mask((1, n_k), gen)),
        ("unbatched", (), n_q, causal_square),
    ]


MASK_CASES = _mask_cases()


@pytest.mark.parametrize("name, batch, n_k, mask", MASK_CASES, ids=[c[0] for c in MASK_CASES])
def test_sdpa_masked_matches_torch(name, batch, n_k, mask):
    gen = _gen(6)
    n_q = 5
    q = _randn(*batch, n_q, 8, gen=gen)
    k = _randn(*batch, n_k, 8, gen=gen)
    v = _randn(*batch, n_k, 4, gen=gen)
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **F64)
    full_mask = mask.expand_as(weights)
    assert (weights[~full_mask] == 0).all()  # exactly zero, not merely small
    assert (weights[full_mask] > 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights.sum(-1)), **F64)
    # and the custom scale with a mask
    out2, _ = scaled_dot_product_attention(q, k, v, mask, scale=0.5)
    torch.testing.assert_close(
        out2, F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.5), **F64
    )


def test_sdpa_mask_blocks_even_against_huge_negative_scores():
    # blocked keys are -inf, not merely a large negative number: they get weight 0 even when
    # every allowed score is far below any finite "large negative" fill value
    q = torch.ones(1, 2, dtype=torch.float64)
    k = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [-2.0, -2.0]], dtype=torch.float64)
    v = torch.tensor([[1.0], [100.0], [3.0]], dtype=torch.float64)
    mask = torch.tensor([[True, False, True]])
    out, weights = scaled_dot_product_attention(q, k, v, mask, scale=1e9)  # scores -2e9, 2e9, -4e9
    assert weights[0, 1] == 0
    torch.testing.assert_close(
        weights, torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64), atol=0, rtol=0
    )
    torch.testing.assert_close(out, torch.tensor([[1.0]], dtype=torch.float64), atol=0, rtol=0)


def test_sdpa_causal_matches_is_causal():
    gen = _gen(7)
    q, k, v = (_randn(2, 6, 8, gen=gen) for _ in range(3))
    causal = torch.ones(6, 6, dtype=torch.bool).tril()
    out, weights = scaled_dot_product_attention(q, k, v, causal)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), **F64)
    assert torch.equal(weights.triu(1), torch.zeros_like(weights))
    torch.testing.assert_close(weights[:, 0, 0], torch.ones(2, dtype=torch.float64), **F64)
    # the first query sees only the first key: its output is v[0]
    torch.testing.assert_close(out[:, 0], v[:, 0], **F64)


@pytest.mark.parametrize("use_mask", [False, True])
def test_sdpa_gradients_match_torch(use_mask):
    gen = _gen(8)
    q = _randn(2, 3, 5, 8, gen=gen).requires_grad_(True)
    k = _randn(2, 3, 7, 8, gen=gen).requires_grad_(True)
    v = _randn(2, 3, 7, 4, gen=gen).requires_grad_(True)
    mask = _random_mask((2, 1, 5, 7), gen) if use_mask else None
    ours, _ = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    upstream = _randn(*ref.shape, gen=gen)
    grads_ours = torch.autograd.grad(ours, (q, k, v), upstream)
    grads_ref = torch.autograd.grad(ref, (q, k, v), upstream)
    for got, want in zip(grads_ours, grads_ref):
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, want, **F64)


def test_sdpa_gradcheck():
    gen = _gen(9)
    q, k, v = (_randn(2, 3, 4, gen=gen).requires_grad_(True) for _ in range(3))
    mask = torch.ones(3, 3, dtype=torch.bool).tril()
    assert torch.autograd.gradcheck(
        lambda q, k, v: scaled_dot_product_attention(q, k, v, mask)[0], (q, k, v)
    )


def test_sdpa_errors():
    q, k, v = torch.randn(2, 5, 8), torch.randn(2, 7, 8), torch.randn(2, 7, 3)
    with pytest.raises(
        ValueError,
        match=r"q and k must share d_k .*got q \(2, 5, 8\) and k \(2, 7, 6\)",
    ):
        scaled_dot_product_attention(q, torch.randn(2, 7, 6), v)
    with pytest.raises(
        ValueError,
        match=r"k and v must hold the same number of positions n_k, got k \(2, 7, 8\) and v \(2, 6, 3\)",
    ):
        scaled_dot_product_attention(q, k, torch.randn(2, 6, 3))
    with pytest.raises(
        ValueError,
        match=r"batch dimensions of q \(2, 5, 8\), k \(3, 7, 8\) and v \(3, 7, 3\) do not broadcast",
    ):
        scaled_dot_product_attention(q, torch.randn(3, 7, 8), torch.randn(3, 7, 3))
    with pytest.raises(ValueError, match=r"q must have at least 2 dimensions, got shape \(8,\)"):
        scaled_dot_product_attention(torch.randn(8), k, v)
    with pytest.raises(TypeError, match=r"v must be a torch.Tensor, got list"):
        scaled_dot_product_attention(q, k, [[0.0]])
    with pytest.raises(
        TypeError, match=r"k must be a floating-point tensor, got dtype torch.int64"
    ):
        scaled_dot_product_attention(q, k.long(), v)
    # masks
    with pytest.raises(
        TypeError,
        match=r"mask must be a boolean tensor \(True = may attend\), got torch.float32",
    ):
        scaled_dot_product_attention(q, k, v, torch.ones(5, 7))
    with pytest.raises(TypeError, match=r"mask must be a boolean tensor .*got torch.int64"):
        scaled_dot_product_attention(q, k, v, torch.ones(5, 7, dtype=torch.long))
    with pytest.raises(TypeError, match=r"mask must be a boolean tensor .*got list"):
        scaled_dot_product_attention(q, k, v, [[True] * 7] * 5)
    with pytest.raises(
        ValueError,
        match=r"mask must end in \(n_q, n_k\) = \(5, 7\) or broadcast to it, got shape \(7, 5\)",
    ):
        scaled_dot_product_attention(q, k, v, torch.ones(7, 5, dtype=torch.bool))
    with pytest.raises(
        ValueError, match=r"mask must end in \(n_q, n_k\) = \(5, 7\) .*got shape \(7,\)"
    ):
        scaled_dot_product_attention(q, k, v, torch.ones(7, dtype=torch.bool))
    with pytest.raises(
        ValueError,
        match=r"mask batch dimensions \(3,\) do not broadcast to the batch dimensions \(2,\)",
    ):
        scaled_dot_product_attention(q, k, v, torch.ones(3, 5, 7, dtype=torch.bool))


# MultiHeadAttention ------------------------------------------------------------------


def _torch_mha(d, h, bias=True, batch_first=True, seed=0, **kw):
    torch.manual_seed(seed)
    mha = nn.MultiheadAttention(d, h, bias=bias, batch_first=batch_first, **kw).double().eval()
    if bias:  # torch initialises the biases to zero: make them count
        with torch.no_grad():
            mha.in_proj_bias.normal_()
            mha.out_proj.bias.normal_()
    return mha


def _call_torch(mha, query, key, value, **kw):
    """nn.MultiheadAttention on (B, n, d) inputs, whatever its batch_first."""
    if mha.batch_first:
        return mha(query, key, value, **kw)
    out, weights = mha(query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1), **kw)
    return out.transpose(0, 1), weights


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("n_k", [None, 9])  # self-attention, cross-attention
def test_mha_matches_torch(batch_first, bias, n_k):
    d, h, B, n_q = 24, 4, 3, 5
    mha = _torch_mha(d, h, bias=bias, batch_first=batch_first)
    ours = MultiHeadAttention.from_torch(mha)
    gen = _gen(10)
    x = _randn(B, n_q, d, gen=gen)
    kv = x if n_k is None else _randn(B, n_k, d, gen=gen)
    with torch.no_grad():
        ref_out, ref_w = _call_torch(mha, x, kv, kv, need_weights=True, average_attn_weights=False)
        out, w = ours(x) if n_k is None else ours(x, kv)
    assert out.shape == (B, n_q, d) and w.shape == (B, h, n_q, kv.shape[1])
    torch.testing.assert_close(out, ref_out, **F64)
    torch.testing.assert_close(w, ref_w, **F64)
    # averaged over heads, as torch's default
    with torch.no_grad():
        _, ref_avg = _call_torch(mha, x, kv, kv)
    torch.testing.assert_close(w.mean(1), ref_avg, **F64)


def test_mha_separate_key_and_value():
    d, h = 16, 2
    mha = _torch_mha(d, h, seed=1)
    ours = MultiHeadAttention.from_torch(mha)
    gen = _gen(11)
    q, k, v = (
        _randn(2, 4, d, gen=gen),
        _randn(2, 6, d, gen=gen),
        _randn(2, 6, d, gen=gen),
    )
    with torch.no_grad():
        ref, _ = mha(q, k, v)
        out, _ = ours(q, k, v)
        only_key, _ = ours(q, k)  # value defaults to key
        ref_kk, _ = mha(q, k, k)
    torch.testing.assert_close(out, ref, **F64)
    torch.testing.assert_close(only_key, ref_kk, **F64)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_masks_match_torch(batch_first, need_weights):
    d, h, B, n_q, n_k = 16, 4, 2, 5, 7
    mha = _torch_mha(d, h, batch_first=batch_first, seed=2)
    ours = MultiHeadAttention.from_torch(mha)
    gen = _gen(12)
    x, kv = _randn(B, n_q, d, gen=gen), _randn(B, n_k, d, gen=gen)
    # an (n_q, n_k) attention mask: torch's True means blocked, ours True means may attend
    allowed = _random_mask((n_q, n_k), gen)
    with torch.no_grad():
        ref, ref_w = _call_torch(mha, x, kv, kv, attn_mask=~allowed, average_attn_weights=False)
        out, w = ours(x, kv, mask=allowed, need_weights=need_weights)
    torch.testing.assert_close(out, ref, **F64)
    if need_weights:
        torch.testing.assert_close(w, ref_w, **F64)
        assert (w[..., ~allowed] == 0).all()
    else:
        assert w is None
    # a key-padding mask: torch's (B, n_k) True = ignore, ours (B, 1, 1, n_k) True = keep
    keep = torch.arange(n_k) < torch.tensor([3, 7])[:, None]
    with torch.no_grad():
        ref, _ = _call_torch(mha, x, kv, kv, key_padding_mask=~keep)
        out, _ = ours(x, kv, mask=keep[:, None, None, :], need_weights=need_weights)
    torch.testing.assert_close(out, ref, **F64)
    # causal self-attention
    causal = torch.ones(n_q, n_q, dtype=torch.bool).tril()
    with torch.no_grad():
        ref, _ = _call_torch(mha, x, x, x, attn_mask=~causal)
        out, _ = ours(x, mask=causal, need_weights=need_weights)
    torch.testing.assert_close(out, ref, **F64)


@pytest.mark.parametrize("bias", [True, False])
def test_mha_need_weights_false_equals_weights_path(bias):
    torch.manual_seed(3)
    ours = MultiHeadAttention(32, 8, bias=bias).double()
    gen = _gen(13)
    x, kv = _randn(2, 6, 32, gen=gen), _randn(2, 3, 32, gen=gen)
    mask = _random_mask((2, 1, 6, 3), gen)
    for args in ((x,), (x, kv)):
        for m in (
            None,
            mask if len(args) == 2 else torch.ones(6, 6, dtype=torch.bool).tril(),
        ):
            with_w, w = ours(*args, mask=m)
            without, none = ours(*args, mask=m, need_weights=False)
            assert none is None and w is not None
            torch.testing.assert_close(without, with_w, **F64)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_gradients_match_torch(need_weights):
    d, h = 12, 3
    mha = _torch_mha(d, h, seed=4)
    ours = MultiHeadAttention.from_torch(mha)
    gen = _gen(14)
    x = _randn(2, 5, d, gen=gen)
    kv = _randn(2, 4, d, gen=gen)
    allowed = _random_mask((5, 4), gen)
    x1, kv1 = x.clone().requires_grad_(True), kv.clone().requires_grad_(True)
    x2, kv2 = x.clone().requires_grad_(True), kv.clone().requires_grad_(True)
    upstream = _randn(2, 5, d, gen=gen)
    out, _ = ours(x1, kv1, mask=allowed, need_weights=need_weights)
    (out * upstream).sum().backward()
    ref, _ = mha(x2, kv2, kv2, attn_mask=~allowed)
    (ref * upstream).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, **F64)
    torch.testing.assert_close(kv1.grad, kv2.grad, **F64)
    torch.testing.assert_close(
        torch.cat([ours.W_Q.weight.grad, ours.W_K.weight.grad, ours.W_V.weight.grad]),
        mha.in_proj_weight.grad,
        **F64,
    )
    torch.testing.assert_close(
        torch.cat([ours.W_Q.bias.grad, ours.W_K.bias.grad, ours.W_V.bias.grad]),
        mha.in_proj_bias.grad,
        **F64,
    )
    torch.testing.assert_close(ours.W_O.weight.grad, mha.out_proj.weight.grad, **F64)
    torch.testing.assert_close(ours.W_O.bias.grad, mha.out_proj.bias.grad, **F64)


def test_mha_from_torch_copies_weights_and_dtype():
    mha = _torch_mha(8, 2, seed=5)
    ours = MultiHeadAttention.from_torch(mha)
    assert ours.d_model == 8 and ours.n_heads == 2 and ours.d_k == 4
    assert ours.W_Q.weight.dtype == torch.float64
    torch.testing.assert_close(ours.W_K.weight, mha.in_proj_weight[8:16], atol=0, rtol=0)
    torch.testing.assert_close(ours.W_V.bias, mha.in_proj_bias[16:], atol=0, rtol=0)
    # a copy, not a view: changing ours leaves torch's alone
    with torch.no_grad():
        ours.W_Q.weight.zero_()
    assert mha.in_proj_weight[:8].abs().sum() > 0
    f32 = MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2))
    assert f32.W_O.weight.dtype == torch.float32


@pytest.mark.parametrize("d, h", [(8, 1), (16, 4), (64, 8), (30, 5)])
def test_mha_parameter_count(d, h):
    assert sum(p.numel() for p in MultiHeadAttention(d, h).parameters()) == 4 * d * d + 4 * d
    assert sum(p.numel() for p in MultiHeadAttention(d, h, bias=False).parameters()) == 4 * d * d
    assert sum(p.numel() for p in MultiHeadAttention(d, h).parameters()) == sum(
        p.numel() for p in nn.MultiheadAttention(d, h).parameters()
    )


def test_mha_heads_are_independent_slices():
    # head i of the weights equals single-head attention on the i-th slice of the projections
    torch.manual_seed(6)
    ours = MultiHeadAttention(12, 3).double()
    x = _randn(2, 4, 12, seed=15)
    with torch.no_grad():
        _, w = ours(x)
        q, k = ours.W_Q(x), ours.W_K(x)
        for i in range(3):
            sl = slice(4 * i, 4 * (i + 1))
            expected = torch.softmax(q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(4), dim=-1)
            torch.testing.assert_close(w[:, i], expected, **F64)


def test_mha_is_deterministic():
    x = torch.randn(2, 5, 16, generator=_gen(16))
    torch.manual_seed(7)
    a = MultiHeadAttention(16, 4)
    torch.manual_seed(7)
    b = MultiHeadAttention(16, 4)
    out_a, w_a = a(x)
    out_b, w_b = b(x)
    assert torch.equal(out_a, out_b) and torch.equal(w_a, w_b)
    again, _ = a(x)
    assert torch.equal(out_a, again)


def test_mha_errors():
    with pytest.raises(
        ValueError,
        match=r"d_model must be divisible by n_heads, got d_model=10 and n_heads=4",
    ):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match=r"d_model must be a positive integer, got 0"):
        MultiHeadAttention(0, 1)
    with pytest.raises(ValueError, match=r"n_heads must be a positive integer, got 2\.0"):
        MultiHeadAttention(8, 2.0)
    with pytest.raises(ValueError, match=r"d_model must be a positive integer, got True"):
        MultiHeadAttention(True, 1)
    mha = MultiHeadAttention(16, 4)
    x = torch.randn(2, 5, 16)
    with pytest.raises(
        ValueError, match=r"query must be 3-D \(B, n, d_model\), got shape \(5, 16\)"
    ):
        mha(torch.randn(5, 16))
    with pytest.raises(
        ValueError,
        match=r"key must be 3-D \(B, n, d_model\), got shape \(1, 2, 7, 16\)",
    ):
        mha(x, torch.randn(1, 2, 7, 16))
    with pytest.raises(
        ValueError,
        match=r"query must have last dimension 16 \(B, n, d_model\), got shape \(2, 5, 12\)",
    ):
        mha(torch.randn(2, 5, 12))
    with pytest.raises(TypeError, match=r"query must be a torch.Tensor, got list"):
        mha([[[0.0] * 16]])
    with pytest.raises(
        ValueError,
        match=r"must agree on B and n_k, got \(2, 5, 16\), \(2, 7, 16\) and \(2, 6, 16\)",
    ):
        mha(x, torch.randn(2, 7, 16), torch.randn(2, 6, 16))
    with pytest.raises(
        ValueError, match=r"must agree on B and n_k, got \(2, 5, 16\), \(3, 7, 16\)"
    ):
        mha(x, torch.randn(3, 7, 16))
    for need_weights in (True, False):
        with pytest.raises(TypeError, match=r"mask must be a boolean tensor .*got torch.float32"):
            mha(x, mask=torch.ones(5, 5), need_weights=need_weights)
        with pytest.raises(
            ValueError,
            match=r"mask must end in \(n_q, n_k\) = \(5, 7\) .*got shape \(5, 5\)",
        ):
            mha(
                x,
                torch.randn(2, 7, 16),
                mask=torch.ones(5, 5, dtype=torch.bool),
                need_weights=need_weights,
            )
        with pytest.raises(
            ValueError,
            match=r"mask batch dimensions \(3, 1\) do not broadcast to the batch dimensions \(2, 4\)",
        ):
            mha(
                x,
                mask=torch.ones(3, 1, 5, 5, dtype=torch.bool),
                need_weights=need_weights,
            )


def test_from_torch_errors():
    with pytest.raises(TypeError, match=r"expected a torch.nn.MultiheadAttention, got Linear"):
        MultiHeadAttention.from_torch(nn.Linear(4, 4))
    with pytest.raises(
        TypeError,
        match=r"expected a torch.nn.MultiheadAttention, got MultiHeadAttention",
    ):
        MultiHeadAttention.from_torch(MultiHeadAttention(4, 2))
    with pytest.raises(ValueError, match=r"add_bias_kv=False"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, add_bias_kv=True))
    with pytest.raises(ValueError, match=r"add_zero_attn=False"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, add_zero_attn=True))


@pytest.mark.parametrize("kdim, vdim", [(6, 10), (8, 8), (12, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_cross_attention_equals_torch_with_own_key_and_value_widths(kdim, vdim, bias):
    """Queries from one sequence, keys and values from another of other widths: the
    cross-attention of the Q-Former and of encoder-decoder transformers."""
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, kdim=kdim, vdim=vdim, bias=bias, batch_first=True).double()
    ours = MultiHeadAttention.from_torch(mha)
    assert (ours.kdim, ours.vdim) == (kdim, vdim)
    query = torch.randn(3, 4, 8, dtype=torch.float64)
    key = torch.randn(3, 7, kdim, dtype=torch.float64)
    value = torch.randn(3, 7, vdim, dtype=torch.float64)
    reference, reference_weights = mha(query, key, value, average_attn_weights=False)
    out, weights = ours(query, key, value)
    torch.testing.assert_close(out, reference, atol=1e-12, rtol=0)
    torch.testing.assert_close(weights, reference_weights, atol=1e-12, rtol=0)
    fused, _ = ours(query, key, value, need_weights=False)
    torch.testing.assert_close(fused, reference, atol=1e-12, rtol=0)
    n_params = sum(p.numel() for p in ours.parameters())
    assert n_params == sum(p.numel() for p in mha.parameters())
    assert n_params == 8 * 8 + kdim * 8 + vdim * 8 + 8 * 8 + (4 * 8 if bias else 0)


def test_cross_attention_names_the_width_it_expected():
    ours = MultiHeadAttention(8, 2, kdim=6, vdim=10)
    with pytest.raises(ValueError, match=r"key must have last dimension 6 \(B, n, kdim\)"):
        ours(torch.randn(1, 3, 8), torch.randn(1, 5, 8), torch.randn(1, 5, 10))
    with pytest.raises(ValueError, match=r"kdim"):
        MultiHeadAttention(8, 2, kdim=0)


# The building blocks the towers share --------------------------------------------------


def test_causal_and_padding_masks():
    from minivlm.attention import causal_mask, padding_mask

    mask = causal_mask(4)
    assert mask.dtype == torch.bool and mask.shape == (4, 4)
    i, j = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    assert torch.equal(mask, j <= i)  # query i may attend to keys 0..i
    pad = padding_mask(torch.tensor([[1, 1, 0], [1, 0, 0]]))
    assert pad.shape == (2, 1, 1, 3)
    assert pad[:, 0, 0].tolist() == [[True, True, False], [True, False, False]]
    both = causal_mask(3) & pad  # (B, 1, T, T): the future and the padding both blocked
    assert both.shape == (2, 1, 3, 3) and both[0, 0].tolist() == [
        [True, False, False],
        [True, True, False],
        [True, True, False],
    ]
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        causal_mask(0)
    with pytest.raises(ValueError, match=r"attention_mask must be 2-D \(B, T\), got shape \(3,\)"):
        padding_mask(torch.ones(3))


def test_split_and_merge_heads_are_inverse_and_slice_the_width():
    from minivlm.attention import merge_heads, split_heads

    x = torch.randn(2, 5, 12, generator=_gen(7))
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    torch.testing.assert_close(heads[:, 1], x[..., 4:8], atol=0, rtol=0)  # head 1: dims 4..7
    torch.testing.assert_close(merge_heads(heads), x, atol=0, rtol=0)


@pytest.mark.parametrize("causal", [False, True])
def test_attend_eager_and_fused_agree(causal):
    from minivlm.attention import attend, causal_mask

    q, k, v = (torch.randn(2, 3, 6, 4, generator=_gen(s), dtype=torch.float64) for s in (1, 2, 3))
    eager, weights = attend(q, k, v, need_weights=True, is_causal=causal)
    fused, none = attend(q, k, v, need_weights=False, is_causal=causal)
    assert none is None and weights.shape == (2, 3, 6, 6)
    torch.testing.assert_close(eager, fused, **F64)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(eager, expected, **F64)
    if causal:  # no weight on the future
        assert torch.all(weights.masked_select(~causal_mask(6)) == 0)
