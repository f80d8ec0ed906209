"""minivlm.vit: parameter counts of timm's presets, the patch embedding, HF ViT equivalence, errors."""

import pytest
import torch

from minivlm.vit import ViT, ViTConfig


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "preset, expected",
    [
        ("ti16", 5_717_416),
        ("small16", 22_050_664),
        ("base16", 86_567_656),
        ("large16", 304_326_632),
    ],
)
def test_parameter_counts_match_timm(preset, expected):
    # timm's vit_*_patch16_224 with the ImageNet-1k head; meta tensors hold shapes, not memory
    with torch.device("meta"):
        model = ViT(getattr(ViTConfig, preset)())
    assert n_params(model) == expected


@pytest.mark.parametrize(
    "image_size, patch_size, N",
    [(224, 16, 196), (224, 32, 49), (336, 14, 576), ((32, 48), 8, 24)],
)
def test_n_patches_is_HW_over_P_squared(image_size, patch_size, N):
    config = ViTConfig(
        image_size=image_size,
        patch_size=patch_size,
        width=8,
        depth=1,
        n_heads=2,
        n_classes=3,
    )
    assert config.n_patches == N
    model = ViT(config)
    assert model.n_patches == N
    H, W = (image_size, image_size) if isinstance(image_size, int) else image_size
    x = torch.randn(2, 3, H, W)
    assert model.forward_features(x).shape == (2, 1 + N, 8)
    assert model(x).shape == (2, 3)


def test_patch_embedding_is_a_matrix_product_per_patch():
    torch.manual_seed(0)
    model = ViT(
        ViTConfig(
            image_size=(16, 24),
            patch_size=8,
            in_channels=2,
            width=6,
            depth=1,
            n_heads=2,
            n_classes=0,
        )
    )
    x = torch.randn(3, 2, 16, 24)
    B, C, H, W, P = 3, 2, 16, 24, 8
    # cut the image into patches by hand, each flattened in (C, P, P) order like the kernel
    patches = x.view(B, C, H // P, P, W // P, P)  # (B, C, H, W) -> (B, C, H/P, P, W/P, P)
    patches = patches.permute(0, 2, 4, 1, 3, 5).reshape(
        B, -1, C * P * P
    )  # -> (B, N, C P^2), row-major
    E = model.patch_embed.weight.reshape(6, -1).T  # (D, C, P, P) -> (C P^2, D)
    tokens = patches @ E + model.patch_embed.bias
    z_0 = torch.cat([model.class_token.expand(B, 1, 6), tokens], dim=1) + model.pos_embed
    torch.testing.assert_close(model.embed(x), z_0, atol=1e-6, rtol=1e-5)


def test_forward_features_and_hidden_states_agree_with_forward():
    torch.manual_seed(0)
    model = ViT(
        ViTConfig(image_size=32, patch_size=8, width=16, depth=3, n_heads=4, n_classes=5)
    ).eval()
    x = torch.randn(4, 3, 32, 32)
    features, hidden = model.forward_features(x, output_hidden_states=True)
    assert len(hidden) == 4 and all(h.shape == (4, 17, 16) for h in hidden)
    torch.testing.assert_close(hidden[0], model.embed(x))  # no ln_pre in timm's layout
    torch.testing.assert_close(features, model.ln_post(hidden[-1]))
    torch.testing.assert_close(model(x), model.head(features[:, 0]))
    assert not torch.allclose(hidden[-2], hidden[-1])  # each block changes the tokens


def test_same_seed_same_model_same_output():
    outputs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = ViT(
            ViTConfig(image_size=16, patch_size=4, width=8, depth=2, n_heads=2, n_classes=4)
        )
        outputs.append(model(torch.ones(2, 3, 16, 16)))
    assert torch.equal(outputs[0], outputs[1])
    assert outputs[0].abs().sum() > 0


def _load_hf_vit(hf, ours: ViT) -> None:
    """Copy transformers.ViTForImageClassification weights (transformers 5 names) into ours."""
    renames = [
        ("vit.embeddings.cls_token", "class_token"),
        ("vit.embeddings.position_embeddings", "pos_embed"),
        ("vit.embeddings.patch_embeddings.projection", "patch_embed"),
        ("vit.layers", "transformer.blocks"),
        ("vit.layernorm", "ln_post"),
        ("classifier", "head"),
        ("layernorm_before", "ln_1"),
        ("layernorm_after", "ln_2"),
        ("attention.q_proj", "attn.W_Q"),
        ("attention.k_proj", "attn.W_K"),
        ("attention.v_proj", "attn.W_V"),
        ("attention.o_proj", "attn.W_O"),
    ]
    state = {}
    for key, value in hf.state_dict().items():
        for old, new in renames:
            key = key.replace(old, new)
        state[key] = value.reshape(
            ours.state_dict()[key].shape
        )  # (1, 1, D) -> (D,), (1, N+1, D) -> (N+1, D)
    ours.load_state_dict(state)


@pytest.mark.parametrize(
    "image_size, patch_size, width, depth, n_heads, B",
    [(32, 8, 32, 2, 4, 3), (30, 5, 24, 3, 2, 1), (28, 14, 16, 1, 1, 5)],
)
def test_equals_hugging_face_vit(image_size, patch_size, width, depth, n_heads, B):
    transformers = pytest.importorskip("transformers")
    if int(transformers.__version__.split(".")[0]) < 5:
        pytest.skip("the test's weight names are those of transformers 5")
    torch.manual_seed(0)
    hf_config = transformers.ViTConfig(
        image_size=image_size,
        patch_size=patch_size,
        hidden_size=width,
        num_hidden_layers=depth,
        num_attention_heads=n_heads,
        intermediate_size=4 * width,
        num_labels=7,
        layer_norm_eps=1e-6,
        initializer_range=0.2,
    )
    hf = transformers.ViTForImageClassification(hf_config).eval()
    ours = ViT(
        ViTConfig(
            image_size=image_size,
            patch_size=patch_size,
            width=width,
            depth=depth,
            n_heads=n_heads,
            n_classes=7,
        )
    ).eval()
    _load_hf_vit(hf, ours)
    x = torch.randn(B, 3, image_size, image_size)
    with torch.no_grad():
        expected = hf(pixel_values=x, output_hidden_states=True)
        logits = ours(x)
        features, hidden = ours.forward_features(x, output_hidden_states=True)
    assert expected.logits.abs().max() > 0.1  # a test that could not fail would prove nothing
    torch.testing.assert_close(logits, expected.logits, atol=1e-5, rtol=1e-5)
    for h_ours, h_hf in zip(hidden, expected.hidden_states, strict=True):
        torch.testing.assert_close(h_ours, h_hf, atol=1e-5, rtol=1e-5)


def test_bad_images_are_rejected_with_expected_and_got():
    model = ViT(ViTConfig(image_size=32, patch_size=8, width=8, depth=1, n_heads=2, n_classes=2))
    with pytest.raises(
        ValueError,
        match=r"32 x 32 .*got 30 x 30.*not even a multiple of the patch size",
    ):
        model(torch.randn(1, 3, 30, 30))
    with pytest.raises(ValueError, match=r"32 x 32 .*got 40 x 40$"):
        model(torch.randn(1, 3, 40, 40))
    with pytest.raises(ValueError, match=r"3 channels.*\(1, 1, 32, 32\)"):
        model(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match=r"4-D.*\(3, 32, 32\)"):
        model(torch.randn(3, 32, 32))
    with pytest.raises(TypeError, match="floating-point.*uint8"):
        model(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model([[0.0]])


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match=r"multiple of patch_size.*\(30, 30\).*\(16, 16\)"):
        ViTConfig(image_size=30, patch_size=16)
    with pytest.raises(ValueError, match="divisible by n_heads.*width=10 and n_heads=4"):
        ViTConfig(width=10, n_heads=4)
    with pytest.raises(ValueError, match="activation.*'relu'"):
        ViTConfig(activation="relu")
    with pytest.raises(TypeError, match="ViTConfig"):
        ViT({"width": 8})


def test_mean_pooling_reads_the_mean_of_the_patch_tokens():
    torch.manual_seed(0)
    config = ViTConfig(
        image_size=16, patch_size=4, width=32, depth=2, n_heads=4, n_classes=5, pool="mean"
    )
    model = ViT(config).eval()
    x = torch.randn(3, 3, 16, 16)
    _, hidden = model.forward_features(x, output_hidden_states=True)
    expected = model.head(model.ln_post(hidden[-1][:, 1:].mean(dim=1)))
    torch.testing.assert_close(model(x), expected)
    cls_model = ViT(ViTConfig(**{**config.__dict__, "pool": "cls"})).eval()
    cls_model.load_state_dict(model.state_dict())
    assert not torch.allclose(cls_model(x), model(x))
    with pytest.raises(ValueError, match="pool must be 'cls' or 'mean', got 'max'"):
        ViTConfig(pool="max")


def test_patchify_times_E_is_the_patch_embedding():
    from minivlm.vit import patchify

    torch.manual_seed(0)
    model = ViT(ViTConfig(image_size=(8, 12), patch_size=4, width=16, depth=1, n_heads=2))
    x = torch.randn(3, 8, 12)
    patches = patchify(x, 4)
    assert patches.shape == (6, 48)  # N = 2 x 3 patches of 4 x 4 x 3
    E = model.patch_embed.weight.flatten(1)  # (D, C, P, P) -> (D, C P P)
    conv = model.patch_embed(x[None]).flatten(2).transpose(1, 2)[0]  # (N, D), row by row
    torch.testing.assert_close(patches @ E.T + model.patch_embed.bias, conv)
    torch.testing.assert_close(patches[4], x[:, 4:8, 4:8].reshape(-1), atol=0, rtol=0)
    with pytest.raises(ValueError, match="multiples of P=5, got 8 x 12"):
        patchify(x, 5)
    with pytest.raises(ValueError, match=r"image must be 3-D \(C, H, W\)"):
        patchify(x[None], 4)
