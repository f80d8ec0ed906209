"""minivlm.clip: parameter counts, Hugging Face CLIPModel equivalence, clip_loss, errors."""

import math

import pytest
import torch
import torch.nn.functional as F

from minivlm.clip import CLIP, CLIPConfig, CLIPTextConfig, clip_loss, vision_from_hf
from minivlm.vit import ViTConfig

transformers = pytest.importorskip("transformers")


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("preset, expected", [("vit_b32", 151_277_313), ("vit_b16", 149_620_737)])
def test_parameter_counts_match_openai_checkpoints(preset, expected):
    with torch.device("meta"):
        model = CLIP(getattr(CLIPConfig, preset)())
    assert n_params(model) == expected


def hf_clip(activation="quick_gelu", eos_token_id=2, image_size=30, patch_size=5, seed=0):
    torch.manual_seed(seed)
    tower = dict(hidden_act=activation, initializer_range=0.2, num_attention_heads=4)
    config = transformers.CLIPConfig(
        text_config=dict(
            vocab_size=99,
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            max_position_embeddings=20,
            bos_token_id=0,
            pad_token_id=1,
            eos_token_id=eos_token_id,
            **tower,
        ),
        vision_config=dict(
            image_size=image_size,
            patch_size=patch_size,
            hidden_size=24,
            intermediate_size=40,
            num_hidden_layers=3,
            **tower,
        ),
        projection_dim=16,
    )
    return transformers.CLIPModel(config).eval()


def texts(B, T, eos, pad=1, seed=0):
    """Right-padded token ids ending in eos, and the attention mask (1 up to and with the eos)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, T + 1, (B,), generator=g)
    lengths[0] = T  # one text fills the context
    ids = torch.randint(3, 97, (B, T), generator=g)
    ids[torch.arange(B), lengths - 1] = eos
    mask = (torch.arange(T)[None] < lengths[:, None]).long()
    return ids.masked_fill(mask == 0, pad), mask


CASES = [  # activation, eos_token_id (2: the largest-id rule), image size, patch size, images, texts, T
    ("quick_gelu", 2, 30, 5, 3, 4, 12),
    ("gelu", 98, 32, 8, 5, 2, 20),
    ("quick_gelu", 98, 28, 14, 1, 6, 7),
]


@pytest.mark.parametrize("activation, eos, image_size, patch_size, B_i, B_t, T", CASES)
def test_equals_hugging_face_clip(activation, eos, image_size, patch_size, B_i, B_t, T):
    hf = hf_clip(activation, eos, image_size, patch_size)
    ours = CLIP.from_hf(hf).eval()
    assert ours.config.text.eos_token_id == (None if eos == 2 else eos)
    pixel_values = torch.randn(B_i, 3, image_size, image_size)
    input_ids, attention_mask = texts(B_t, T, eos=98)
    with torch.no_grad():
        out = hf(
            input_ids=input_ids,
            pixel_values=pixel_values,
            attention_mask=attention_mask,
            output_hidden_states=True,
        )
        image_features = ours.encode_image(pixel_values)
        text_features = ours.encode_text(input_ids, attention_mask)
        logits_per_image, logits_per_text = ours(pixel_values, input_ids, attention_mask)
        _, hidden = ours.vision.forward_features(pixel_values, output_hidden_states=True)
    tol = dict(atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        image_features,
        hf.get_image_features(pixel_values=pixel_values).pooler_output,
        **tol,
    )
    torch.testing.assert_close(
        text_features,
        hf.get_text_features(input_ids=input_ids, attention_mask=attention_mask).pooler_output,
        **tol,
    )
    torch.testing.assert_close(F.normalize(image_features, dim=-1), out.image_embeds, **tol)
    torch.testing.assert_close(F.normalize(text_features, dim=-1), out.text_embeds, **tol)
    assert logits_per_image.shape == (B_i, B_t) and logits_per_text.shape == (B_t, B_i)
    assert (
        out.logits_per_image.std() > 0.5
    )  # logits that differ from one another, so the test can fail
    torch.testing.assert_close(logits_per_image, out.logits_per_image, **tol)
    torch.testing.assert_close(logits_per_text, out.logits_per_text, **tol)
    assert len(hidden) == len(out.vision_model_output.hidden_states) == 4
    for h_ours, h_hf in zip(hidden, out.vision_model_output.hidden_states, strict=True):
        torch.testing.assert_close(h_ours, h_hf, **tol)


def test_loss_equals_hugging_face_return_loss():
    hf = hf_clip()
    ours = CLIP.from_hf(hf)
    pixel_values = torch.randn(4, 3, 30, 30)
    input_ids, attention_mask = texts(4, 10, eos=98)
    expected = hf(
        input_ids=input_ids,
        pixel_values=pixel_values,
        attention_mask=attention_mask,
        return_loss=True,
    ).loss
    loss = clip_loss(
        ours.encode_image(pixel_values),
        ours.encode_text(input_ids, attention_mask),
        ours.logit_scale.exp(),
    )
    torch.testing.assert_close(loss, expected, atol=1e-5, rtol=1e-5)
    loss.backward()
    assert ours.logit_scale.grad is not None and ours.W_i.weight.grad.abs().sum() > 0


def test_vision_tower_from_hf_clip_vision_model():
    hf = hf_clip().vision_model
    assert isinstance(hf, transformers.CLIPVisionModel)
    tower = vision_from_hf(hf).eval()
    x = torch.randn(2, 3, 30, 30)
    with torch.no_grad():
        out = hf(pixel_values=x, output_hidden_states=True)
        _, hidden = tower.forward_features(x, output_hidden_states=True)
        pooled = tower(x)
    torch.testing.assert_close(pooled, out.pooler_output, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        hidden[-2][:, 1:], out.hidden_states[-2][:, 1:], atol=1e-5, rtol=1e-5
    )  # LLaVA's features


def test_padding_after_the_end_of_text_changes_nothing():
    # causal attention: tokens after the end-of-text cannot reach it, masked or not
    torch.manual_seed(0)
    model = CLIP(CLIPConfig.tiny()).eval()
    ids = torch.tensor([[5, 9, 255, 0, 0], [7, 8, 6, 3, 255]])
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    with torch.no_grad():
        torch.testing.assert_close(model.encode_text(ids, mask), model.encode_text(ids))
        torch.testing.assert_close(model.encode_text(ids[:1, :3]), model.encode_text(ids)[:1])


def test_pooling_rules():
    config = CLIPTextConfig(
        vocab_size=50, context_length=8, width=8, depth=1, n_heads=2, eos_token_id=4
    )
    text = CLIP(CLIPConfig(vision=CLIPConfig.tiny().vision, text=config)).text
    ids = torch.tensor(
        [[7, 4, 4, 4], [7, 9, 8, 4]]
    )  # pad == eos in the first row: the first one counts
    assert text.pool_positions(ids).tolist() == [1, 3]
    with pytest.raises(ValueError, match=r"end-of-text token 4, rows \[0\]"):
        text.pool_positions(torch.tensor([[7, 9, 8, 9]]))
    text.config.eos_token_id = None  # OpenAI's rule: the largest id
    assert text.pool_positions(torch.tensor([[7, 49, 0, 0], [3, 1, 2, 0]])).tolist() == [1, 0]


def test_clip_loss_equals_the_formula_by_hand():
    torch.manual_seed(0)
    image_features, text_features = torch.randn(6, 5) * 3, torch.randn(6, 5)
    s = 14.3
    I_e = image_features / image_features.norm(dim=1, keepdim=True)
    T_e = text_features / text_features.norm(dim=1, keepdim=True)
    logits = s * I_e @ T_e.T
    labels = torch.arange(6)
    expected = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    torch.testing.assert_close(clip_loss(image_features, text_features, s), expected)
    torch.testing.assert_close(clip_loss(image_features, text_features, torch.tensor(s)), expected)
    # features are normalised inside: rescaling them changes nothing
    torch.testing.assert_close(clip_loss(10 * image_features, 0.1 * text_features, s), expected)


def test_clip_loss_on_orthonormal_pairs():
    # s on the diagonal and 0 elsewhere: each row's loss is log(1 + (B - 1) e^{-s}) in both directions
    B, s = 4, 5.0
    features = torch.eye(B)
    expected = math.log(1 + (B - 1) * math.exp(-s))
    assert clip_loss(features, features, s).item() == pytest.approx(expected, rel=1e-6)
    assert clip_loss(features, features.flip(0), s).item() > 5  # every pair mismatched


def test_clip_loss_rejects_bad_input():
    a = torch.randn(4, 8)
    with pytest.raises(ValueError, match=r"same B and d_e.*\(4, 8\) and \(3, 8\)"):
        clip_loss(a, torch.randn(3, 8), 1.0)
    with pytest.raises(ValueError, match=r"\(4, 8\) and \(4, 6\)"):
        clip_loss(a, torch.randn(4, 6), 1.0)
    with pytest.raises(TypeError, match="floating-point.*int64"):
        clip_loss(a.long(), a, 1.0)
    with pytest.raises(ValueError, match=r"2-D.*\(8,\)"):
        clip_loss(a[0], a[0], 1.0)
    with pytest.raises(ValueError, match=r"floating scalar, got shape \(2,\)"):
        clip_loss(a, a, torch.ones(2))
    with pytest.raises(TypeError, match="logit_scale.*str"):
        clip_loss(a, a, "14")


def test_logit_scale_starts_at_1_over_0_07_and_is_clamped_at_100():
    model = CLIP(CLIPConfig.tiny())
    assert model.logit_scale.exp().item() == pytest.approx(1 / 0.07, rel=1e-6)
    with torch.no_grad():
        model.logit_scale.fill_(7.0)  # exp(7) = 1097
    model.clamp_logit_scale_()
    assert model.logit_scale.exp().item() == pytest.approx(100.0, rel=1e-6)


def test_same_seed_same_model_same_output():
    ids, _ = texts(3, 12, eos=255)
    outputs = []
    for _ in range(2):
        torch.manual_seed(7)
        model = CLIP(CLIPConfig.tiny())
        outputs.append(model(torch.ones(2, 3, 32, 32), ids)[0])
    assert torch.equal(outputs[0], outputs[1])
    assert outputs[0].shape == (2, 3)


def test_bad_input_is_rejected_with_expected_and_got():
    model = CLIP(CLIPConfig.tiny(vocab_size=100, context_length=16))
    ids = torch.randint(0, 100, (2, 16))
    with pytest.raises(ValueError, match="longer than the context: at most 16 tokens, got 17"):
        model.encode_text(torch.randint(0, 100, (2, 17)))
    with pytest.raises(TypeError, match="integer tensor.*float32"):
        model.encode_text(ids.float())
    with pytest.raises(ValueError, match=r"\[0, 100\).*\[0, 100\]"):
        model.encode_text(torch.tensor([[0, 100]]))
    with pytest.raises(ValueError, match=r"shape of input_ids \(2, 16\).*\(2, 15\)"):
        model.encode_text(ids, torch.ones(2, 15, dtype=torch.long))
    with pytest.raises(ValueError, match=r"32 x 32 .*got 28 x 28"):
        model.encode_image(torch.randn(2, 3, 28, 28))
    with pytest.raises(TypeError, match="floating-point.*uint8"):
        model(torch.zeros(2, 3, 32, 32, dtype=torch.uint8), ids)
    with pytest.raises(TypeError, match="CLIPModel.*Linear"):
        CLIP.from_hf(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="ln_pre=True and no head"):
        CLIPConfig(vision=ViTConfig(image_size=32, patch_size=8, width=8, n_heads=2))
