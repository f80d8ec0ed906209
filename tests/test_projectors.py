"""minivlm.projectors: shapes, token counts, parameter counts by formula, errors, gradients."""

import pytest
import torch

from minivlm.projectors import (
    LinearProjector,
    MergeProjector,
    MLPProjector,
    QFormerProjector,
    make_projector,
)

D_V, D_T, N = 32, 48, 16  # vision width, text width, patches


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def qformer_params(D_v, D_t, n_queries, depth, d, mlp_ratio=4.0):
    m = round(d * mlp_ratio)
    block = 2 * d + 4 * (d * d + d) + 2 * d + (d * m + m) + (m * d + d)  # LN, attention, LN, MLP
    return (
        n_queries * d  # the learned queries
        + 2 * D_v  # ln_vision
        + (D_v * d + d)  # W_in
        + depth * block
        + 2 * d  # ln_out
        + (d * D_t + D_t)  # W_out
    )


@pytest.mark.parametrize(
    "kind, kw, n_out, count",
    [
        ("linear", {}, N, D_V * D_T + D_T),
        ("mlp", {}, N, (D_V * D_T + D_T) + (D_T * D_T + D_T)),
        ("mlp", {"bias": False}, N, D_V * D_T + D_T * D_T),
        ("merge", {}, N // 4, (4 * D_V * D_T + D_T) + (D_T * D_T + D_T)),
        ("merge", {"merge": 4}, N // 16, (16 * D_V * D_T + D_T) + (D_T * D_T + D_T)),
        ("qformer", {"n_queries": 5, "n_heads": 4}, 5, qformer_params(D_V, D_T, 5, 1, D_T)),
        (
            "qformer",
            {"n_queries": 8, "n_heads": 2, "depth": 2, "width": 24},
            8,
            qformer_params(D_V, D_T, 8, 2, 24),
        ),
    ],
)
def test_shapes_token_counts_and_parameter_counts(kind, kw, n_out, count):
    torch.manual_seed(0)
    projector = make_projector(kind, D_V, D_T, **kw)
    assert projector.n_tokens(N) == n_out
    assert projector(torch.randn(3, N, D_V)).shape == (3, n_out, D_T)
    assert n_params(projector) == count


def test_factory_builds_each_class():
    assert type(make_projector("linear", D_V, D_T)) is LinearProjector
    assert type(make_projector("mlp", D_V, D_T)) is MLPProjector
    assert type(make_projector("qformer", D_V, D_T, n_queries=3)) is QFormerProjector
    assert type(make_projector("merge", D_V, D_T, merge=2)) is MergeProjector
    with pytest.raises(
        ValueError, match=r"kind must be one of \['linear', 'merge', 'mlp', 'qformer'\]"
    ):
        make_projector("resampler", D_V, D_T)


def test_mlp_is_linear_gelu_linear():
    torch.manual_seed(0)
    p = MLPProjector(D_V, D_T)
    Z_v = torch.randn(2, N, D_V)
    h = torch.nn.functional.gelu(Z_v @ p.mlp.fc1.weight.T + p.mlp.fc1.bias)
    torch.testing.assert_close(p(Z_v), h @ p.mlp.fc2.weight.T + p.mlp.fc2.bias)


def test_qformer_token_count_does_not_grow_with_patches():
    torch.manual_seed(0)
    p = QFormerProjector(D_V, D_T, n_queries=4, n_heads=4)
    for n in (1, 16, 64):
        assert p.n_tokens(n) == 4
        assert p(torch.randn(2, n, D_V)).shape == (2, 4, D_T)


def test_per_token_projectors_commute_with_a_patch_permutation_and_qformer_ignores_it():
    # linear and MLP act on each patch alone; cross-attention without positions pools a set
    torch.manual_seed(0)
    Z_v, perm = torch.randn(2, N, D_V), torch.randperm(N)
    for kind in ("linear", "mlp"):
        p = make_projector(kind, D_V, D_T)
        torch.testing.assert_close(p(Z_v[:, perm]), p(Z_v)[:, perm])
    q = make_projector("qformer", D_V, D_T, n_queries=3)
    torch.testing.assert_close(q(Z_v[:, perm]), q(Z_v), atol=1e-6, rtol=1e-5)


def test_qformer_attention_weights_are_the_weights_its_output_is_made_of():
    torch.manual_seed(0)
    q = QFormerProjector(D_V, D_T, n_queries=3, n_heads=4, depth=2)
    Z_v = torch.randn(2, N, D_V)
    w = q.attention_weights(Z_v)
    assert w.shape == (2, 2, 4, 3, N)  # (depth, B, heads, queries, patches)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 2, 4, 3))
    # the first block's output rebuilt from the returned weights equals its forward
    block = q.blocks[0]
    patches = q.W_in(q.ln_vision(Z_v))
    x = q.queries.expand(2, -1, -1)
    attn = block.cross_attn
    v = attn.W_V(patches).view(2, N, 4, -1).transpose(1, 2)  # (B, h, N, d_k)
    heads = (w[0] @ v).transpose(1, 2).reshape(2, 3, -1)  # (B, h, n_q, d_k) -> (B, n_q, d)
    after_attn = x + attn.W_O(heads)
    rebuilt = after_attn + block.mlp(block.ln_2(after_attn))
    torch.testing.assert_close(rebuilt, block(x, patches)[0], atol=1e-5, rtol=1e-5)
    # the weights follow the image: other patches, other weights
    assert (q.attention_weights(torch.randn(2, N, D_V)) - w).abs().max() > 1e-3
    with pytest.raises(ValueError, match=r"3-D \(B, N, vision_width\), got shape \(16, 32\)"):
        q.attention_weights(torch.randn(N, D_V))


@pytest.mark.parametrize("kind", ["linear", "mlp", "qformer"])
def test_mismatched_widths_raise_naming_expected_and_got(kind):
    p = make_projector(kind, D_V, D_T)
    with pytest.raises(ValueError, match=r"last dimension 32 .*got shape \(2, 16, 24\)"):
        p(torch.randn(2, N, 24))
    with pytest.raises(ValueError, match=r"3-D \(B, N, vision_width\), got shape \(16, 32\)"):
        p(torch.randn(N, D_V))
    with pytest.raises(TypeError, match="floating-point"):
        p(torch.ones(2, N, D_V, dtype=torch.long))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="vision_width must be a positive integer, got 0"):
        LinearProjector(0, D_T)
    with pytest.raises(ValueError, match="text_width must be a positive integer, got 4.0"):
        MLPProjector(D_V, 4.0)
    with pytest.raises(ValueError, match="d_model must be divisible by n_heads"):
        QFormerProjector(D_V, 30, n_heads=4)
    with pytest.raises(ValueError, match="n_queries must be a positive integer, got 0"):
        QFormerProjector(D_V, D_T, n_queries=0)
    with pytest.raises(TypeError, match="n_queries"):
        make_projector("mlp", D_V, D_T, n_queries=4)


@pytest.mark.parametrize("kind", ["linear", "mlp", "qformer"])
def test_gradients_reach_every_parameter_and_the_input(kind):
    torch.manual_seed(0)
    p = make_projector(kind, D_V, D_T)
    Z_v = torch.randn(2, N, D_V, requires_grad=True)
    p(Z_v).square().sum().backward()
    assert Z_v.grad is not None and Z_v.grad.abs().sum() > 0
    for name, param in p.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_merge_concatenates_each_block_of_neighbouring_patches_row_by_row():
    torch.manual_seed(0)
    p = MergeProjector(D_V, D_T, merge=2)
    Z_v = torch.randn(2, N, D_V)  # a 4 x 4 grid of patches, row-major
    grid = Z_v.view(2, 4, 4, D_V)
    # token t covers rows 2r, 2r + 1 and columns 2c, 2c + 1, with t = 2r + c
    blocks = [
        torch.cat(
            [
                grid[:, 2 * r, 2 * c],
                grid[:, 2 * r, 2 * c + 1],
                grid[:, 2 * r + 1, 2 * c],
                grid[:, 2 * r + 1, 2 * c + 1],
            ],
            dim=-1,
        )
        for r in range(2)
        for c in range(2)
    ]
    x = torch.stack(blocks, dim=1)  # (2, 4, 4 D_V)
    h = torch.nn.functional.gelu(x @ p.mlp.fc1.weight.T + p.mlp.fc1.bias)
    torch.testing.assert_close(p(Z_v), h @ p.mlp.fc2.weight.T + p.mlp.fc2.bias)
    # merge=1 is the MLP projector, one token per patch
    one = MergeProjector(D_V, D_T, merge=1)
    mlp = MLPProjector(D_V, D_T)
    mlp.load_state_dict(one.state_dict())
    torch.testing.assert_close(one(Z_v), mlp(Z_v))


def test_merge_needs_a_square_grid_its_side_divides():
    p = MergeProjector(D_V, D_T, merge=2)
    for bad in (15, 17, 9):  # not square, not square, odd side
        with pytest.raises(ValueError, match=f"square grid.*got N={bad}"):
            p.n_tokens(bad)
        with pytest.raises(ValueError, match=f"got N={bad}"):
            p(torch.randn(1, bad, D_V))
    with pytest.raises(ValueError, match="merge must be a positive integer, got 0"):
        MergeProjector(D_V, D_T, merge=0)
