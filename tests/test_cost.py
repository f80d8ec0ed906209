"""minivlm.cost: FLOPs by formula against PyTorch's counter, memory kept for backward,
the attention implementations, and errors."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from minivlm import cost
from minivlm.vit import ViT, ViTConfig


@pytest.mark.parametrize(
    "config",
    [
        ViTConfig(image_size=32, patch_size=8, width=64, depth=2, n_heads=4, n_classes=10),
        ViTConfig(
            image_size=(24, 40),
            patch_size=(8, 4),
            width=48,
            depth=3,
            n_heads=3,
            n_classes=0,
            mlp_ratio=2.5,
        ),
        ViTConfig.base16(image_size=384),
    ],
)
def test_vit_flops_equal_pytorchs_count_of_the_eager_model(config):
    config.attn_implementation = "eager"  # every matrix product is an op the counter sees
    with torch.device("meta"):
        model = ViT(config)
    H, W = (config.image_size,) * 2 if isinstance(config.image_size, int) else config.image_size
    with FlopCounterMode(display=False) as counter:
        model(torch.empty(2, 3, H, W, device="meta"))
    flops = cost.vit_flops(config, batch_size=2)
    assert flops["total"] == counter.get_total_flops()
    assert flops["total"] == sum(v for k, v in flops.items() if k != "total")


def test_vit_flops_terms_by_hand():
    c = ViTConfig(image_size=32, patch_size=8, width=64, depth=2, n_heads=4, n_classes=10)
    n, D, L = 17, 64, 2
    assert cost.vit_flops(c) == {
        "patch_embed": 2 * 16 * (8 * 8 * 3) * D,
        "linear": L * 24 * n * D * D,  # 8 n D^2 for W_Q, W_K, W_V, W_O and 16 n D^2 for the MLP
        "attention": L * 4 * n * n * D,
        "head": 2 * D * 10,
        "total": 2 * 16 * 192 * D + L * 24 * n * D * D + L * 4 * n * n * D + 2 * D * 10,
    }


def test_the_attention_term_overtakes_the_linear_layers_past_6D_tokens():
    for side in (16, 48, 64):  # n = 257, 2305, 4097 tokens for D = 384: 6D = 2304
        f = cost.vit_flops(ViTConfig.small16(image_size=16 * side))
        assert (f["attention"] > f["linear"]) == (side * side + 1 > 6 * 384)


def test_eager_and_sdpa_compute_the_same_vit():
    torch.manual_seed(0)
    kw = dict(image_size=32, patch_size=8, width=64, depth=2, n_heads=4, n_classes=10)
    eager = ViT(ViTConfig(**kw, attn_implementation="eager")).double()
    sdpa = ViT(ViTConfig(**kw)).double()
    sdpa.load_state_dict(eager.state_dict())
    x = torch.randn(3, 3, 32, 32, dtype=torch.float64)
    torch.testing.assert_close(eager(x), sdpa(x))
    with pytest.raises(ValueError, match=r"attn_implementation must be one of.*got 'flash'"):
        ViTConfig(attn_implementation="flash")


def test_saved_bytes_counts_what_autograd_keeps():
    x = torch.randn(100, 10, requires_grad=True)
    w = torch.randn(10, 10, requires_grad=True)
    # x @ w keeps x and w; tanh keeps its output (100, 10)
    assert cost.saved_bytes(lambda: torch.tanh(x @ w)) == (100 * 10 + 10 * 10 + 100 * 10) * 4
    assert cost.saved_bytes(lambda: torch.tanh(x @ w), exclude=(w,)) == 2 * 100 * 10 * 4
    with torch.no_grad():
        assert cost.saved_bytes(lambda: torch.tanh(x @ w)) == 0


def test_eager_attention_keeps_the_n_by_n_weights_and_sdpa_does_not():
    torch.manual_seed(0)
    sizes = {}
    for impl in ("eager", "sdpa"):
        for side in (4, 8):  # 16 and 64 patches
            model = ViT(
                ViTConfig(
                    image_size=8 * side,
                    patch_size=8,
                    width=32,
                    depth=1,
                    n_heads=2,
                    n_classes=0,
                    attn_implementation=impl,
                )
            )
            x = torch.randn(1, 3, 8 * side, 8 * side)
            sizes[impl, side] = cost.saved_bytes(
                lambda model=model, x=x: model(x), tuple(model.parameters())
            )
    extra = {side: sizes["eager", side] - sizes["sdpa", side] for side in (4, 8)}
    assert extra[4] > 0
    # what eager keeps beyond sdpa grows with n^2: (65 / 17)^2 = 14.6 for 4x the tokens,
    # where anything linear in n would grow 3.8x
    assert extra[8] / extra[4] > 12
    assert sizes["sdpa", 8] / sizes["sdpa", 4] < 4.5


def test_seconds_returns_the_median_and_runs_warmup_and_repeats():
    calls = []
    t = cost.seconds(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6 and t >= 0


@pytest.mark.parametrize("stage, gigabytes", [(0, 120.0), (1, 31.4), (2, 16.6), (3, 1.9)])
def test_model_state_bytes_give_the_zero_papers_figure(stage, gigabytes):
    # Rajbhandari et al. (2020), figure 1: 7.5B parameters over 64 GPUs, K = 12
    per_gpu = cost.model_state_bytes(7_500_000_000, n_gpus=64, stage=stage)
    assert round(per_gpu["total"] / 1e9, 1) == gigabytes


def test_model_state_bytes_by_part():
    parts = cost.model_state_bytes(1000, n_gpus=4, stage=2)
    assert parts == {"weights": 2000, "gradients": 500, "optimizer": 3000, "total": 5500}
    assert cost.model_state_bytes(1000)["total"] == 16_000


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"n_params": 0}, ValueError, "n_params must be a positive integer, got 0"),
        ({"n_params": 10, "n_gpus": 2.0}, ValueError, "n_gpus must be a positive integer"),
        ({"n_params": 10, "stage": 4}, ValueError, "stage must be 0, 1, 2 or 3, got 4"),
    ],
)
def test_model_state_bytes_errors(kwargs, error, words):
    with pytest.raises(error, match=words):
        cost.model_state_bytes(**kwargs)


def test_errors():
    with pytest.raises(TypeError, match="config must be a ViTConfig, got dict"):
        cost.vit_flops({"width": 8})
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        cost.vit_flops(ViTConfig(), batch_size=0)
    with pytest.raises(TypeError, match="fn must be callable, got int"):
        cost.saved_bytes(3)
    with pytest.raises(TypeError, match="fn must be callable, got str"):
        cost.seconds("x")
    with pytest.raises(ValueError, match="repeats must be a positive integer, got 0"):
        cost.seconds(lambda: None, repeats=0)
