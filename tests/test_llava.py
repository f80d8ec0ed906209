"""minivlm.llava: Hugging Face LlavaForConditionalGeneration logits, loss and greedy generation;
the sequence layout, labels, image-token errors, training stages and a short training run."""

import pytest
import torch

from minivlm.data.tokenizer import Tokenizer
from minivlm.llava import (
    LLaVA,
    LLaVAConfig,
    build_labels,
    compare_with_hf,
    freeze,
    make_batch,
    make_example,
)
from minivlm.projectors import MLPProjector, QFormerProjector

transformers = pytest.importorskip("transformers")


@pytest.fixture(autouse=True)
def one_thread():
    # ops this small do not gain from a second thread, and on a busy two-core machine the two
    # threads wait for each other: this file then ran over ten times faster on one thread
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


IMAGE, V = 3, 50  # image token id and vocabulary of the Hugging Face model


def hf_llava(feature_layer=-2, select="default", tied=False, seed=0):
    torch.manual_seed(seed)
    vision = transformers.CLIPVisionConfig(
        image_size=32,
        patch_size=8,  # 16 patches
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=3,
        num_attention_heads=4,
        hidden_act="quick_gelu",
        initializer_factor=5.0,  # so that the image visibly moves the logits
    )
    text = transformers.LlamaConfig(
        vocab_size=V,
        hidden_size=32,
        intermediate_size=40,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        initializer_range=0.2,
        tie_word_embeddings=tied,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=V - 1,
    )
    config = transformers.LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=IMAGE,
        projector_hidden_act="gelu",
        vision_feature_layer=feature_layer,
        vision_feature_select_strategy=select,
    )
    return transformers.LlavaForConditionalGeneration(config).eval()


def prompt_batch(n_image_tokens, B=3, before=3, after=5, seed=0):
    """(B, before + N_out + after) ids: text, the image tokens, text; no other image token."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, V - 1, (B, before + n_image_tokens + after), generator=g)
    ids[:, before : before + n_image_tokens] = IMAGE
    return ids


VARIANTS = [(-2, "default", False), (-1, "full", True)]


@pytest.mark.parametrize("feature_layer, select, tied", VARIANTS)
def test_logits_and_loss_equal_hugging_face(feature_layer, select, tied):
    hf = hf_llava(feature_layer, select, tied)
    ours = LLaVA.from_hf(hf).eval()
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in hf.parameters())
    n_out = 16 + (select == "full")
    assert ours.n_image_tokens == n_out
    ids = prompt_batch(n_out)
    pixel_values = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    labels = build_labels(ids, 3 + n_out + 2)  # the loss on the last three tokens only
    mask = torch.ones_like(ids)
    mask[1, -2:] = 0  # right padding
    with torch.no_grad():
        for attention_mask in (None, mask):
            expected = hf(
                input_ids=ids,
                pixel_values=pixel_values,
                attention_mask=attention_mask,
                labels=labels,
            )
            logits, loss = ours(pixel_values, ids, labels, attention_mask)
            assert expected.logits.std() > 0.5  # not flat: the comparison means something
            torch.testing.assert_close(logits, expected.logits, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(loss, expected.loss, atol=1e-5, rtol=1e-5)
        # the image matters: other pixels, other logits at the answer
        other, _ = ours(pixel_values.flip(0), ids)
        assert (other[:, -1] - logits[:, -1]).abs().max() > 1e-2


def test_image_features_are_the_projected_penultimate_patch_tokens():
    hf = hf_llava()
    ours = LLaVA.from_hf(hf).eval()
    pixel_values = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = hf.get_image_features(pixel_values=pixel_values).pooler_output
        H_v = ours.image_features(pixel_values)
        Z_v = ours.vision_features(pixel_values)
    assert H_v.shape == (2, 16, 32) and Z_v.shape == (2, 16, 32)
    torch.testing.assert_close(H_v, torch.stack(list(expected)), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.image_features(vision_features=Z_v), H_v)


def test_greedy_generation_equals_hugging_face():
    hf = hf_llava()
    ours = LLaVA.from_hf(hf).eval()
    ids = prompt_batch(16, B=2, after=3)
    pixel_values = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    expected = hf.generate(
        input_ids=ids, pixel_values=pixel_values, max_new_tokens=6, do_sample=False
    )[:, ids.shape[1] :]  # Hugging Face returns prompt and answer; ours the answer
    # Hugging Face stops a row at eos (V - 1) and pads it with pad_token_id (0)
    new = ours.generate(pixel_values, ids, max_new_tokens=6, eos_token_id=V - 1, pad_token_id=0)
    assert new.shape == (2, 6) and new[0, 1] == V - 1  # row 0 stops early
    assert torch.equal(new, expected)
    assert torch.equal(ours.generate(pixel_values, ids, max_new_tokens=6)[1], expected[1])


def test_generate_with_left_padding_matches_one_prompt_at_a_time():
    torch.manual_seed(0)
    model = LLaVA(LLaVAConfig.tiny()).eval()
    tok = Tokenizer()
    prompts = ["what colour is the square ?", "how many objects ?"]
    ids, _, mask = make_batch(tok, prompts, None, model.n_image_tokens)
    assert mask[1, 0] == 0 and mask[:, -1].tolist() == [1, 1]  # padded on the left
    pixel_values = torch.randn(2, 3, 32, 32)
    batch = model.generate(pixel_values, ids, max_new_tokens=4, attention_mask=mask)
    for i, prompt in enumerate(prompts):
        one, _ = make_example(tok, prompt, None, model.n_image_tokens)
        alone = model.generate(pixel_values[i : i + 1], one[None], max_new_tokens=4)
        assert torch.equal(batch[i : i + 1], alone)


def test_compare_with_hf_copies_and_agrees_on_logits_and_greedy_answer():
    hf = hf_llava()
    ids = prompt_batch(16, B=1, after=3)
    pixel_values = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    ours, difference, new = compare_with_hf(
        hf, ids, pixel_values, max_new_tokens=5, eos_token_id=V - 1
    )
    assert isinstance(ours, LLaVA) and not ours.training
    assert difference < 1e-5
    expected = hf.generate(
        input_ids=ids, pixel_values=pixel_values, max_new_tokens=5, do_sample=False
    )[:, ids.shape[1] :]
    assert torch.equal(new, expected)
    # a copy, not a view: changing ours leaves Hugging Face's weights alone
    with torch.no_grad():
        ours.projector.mlp.fc1.weight.add_(1.0)
    assert not torch.equal(
        ours.projector.mlp.fc1.weight, hf.model.multi_modal_projector.linear_1.weight
    )


def test_tinyllava_preset_counts_llava_15s_tower_and_projector_before_tinyllama():
    with torch.device("meta"):
        tiny = LLaVA(LLaVAConfig.tinyllava_1b())
        big = LLaVA(LLaVAConfig.llava15_7b())
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert count(tiny.vision_tower) == count(big.vision_tower)
    assert count(tiny.projector) == 1024 * 2048 + 2048 + 2048 * 2048 + 2048
    # TinyLlama-1.1B with LLaVA's vocabulary of 32,064: 64 rows more in embed and lm_head
    assert count(tiny.language_model) == 1_100_048_384 + 2 * 64 * 2048
    assert tiny.n_image_tokens == 576


def test_wrong_number_of_image_tokens_raises():
    hf = hf_llava()
    ours = LLaVA.from_hf(hf).eval()
    ids = prompt_batch(16)
    ids[0, 3] = 7  # row 0 loses one image token
    with pytest.raises(ValueError, match="expected 16 image tokens per image, got 15 in row 0"):
        ours(torch.randn(3, 3, 32, 32), ids)
    ids = prompt_batch(16)
    ids[2, -1] = IMAGE  # row 2 has one too many
    with pytest.raises(ValueError, match="expected 16 image tokens per image, got 17 in row 2"):
        ours(torch.randn(3, 3, 32, 32), ids)
    with pytest.raises(ValueError, match=r"image_features must be \(B, N_out, D\) = \(3, 16, 32\)"):
        ours.merge(prompt_batch(16), torch.randn(2, 16, 32))
    with pytest.raises(ValueError, match="exactly one of pixel_values"):
        ours(None, prompt_batch(16))


def test_merge_puts_each_images_features_in_its_rows_places_in_order():
    torch.manual_seed(0)
    model = LLaVA(LLaVAConfig.tiny(projector="qformer", projector_options={"n_queries": 3}))
    ids = torch.tensor([[1, 3, 3, 3, 9, 10], [1, 9, 3, 3, 3, 10]])
    H_v = torch.randn(2, 3, 64)
    embeds = model.merge(ids, H_v)
    torch.testing.assert_close(embeds[0, 1:4], H_v[0])
    torch.testing.assert_close(embeds[1, 2:5], H_v[1])
    torch.testing.assert_close(embeds[0, 4:], model.language_model.embed(ids[0, 4:]))


def test_make_example_masks_exactly_the_image_and_the_prompt():
    tok = Tokenizer()
    q, a = "what colour is the square ?", "red"
    q_ids = tok.encode(q, add_eos=False)
    a_ids = tok.encode(a)  # "red" and <eos>
    for image_first in (True, False):
        ids, labels = make_example(tok, q, a, 4, image_first=image_first)
        image, prompt = [tok.image_id] * 4, q_ids
        context = [tok.bos_id] + (image + prompt if image_first else prompt + image)
        assert ids.tolist() == context + a_ids
        assert labels.tolist() == [-100] * len(context) + a_ids
    ids, labels = make_example(tok, q, None, 4)
    assert ids.tolist() == [tok.bos_id] + [tok.image_id] * 4 + q_ids
    assert (labels == -100).all()


def test_make_batch_pads_answers_on_the_right_and_prompts_on_the_left():
    tok = Tokenizer()
    prompts, answers = ["how many objects ?", "is there a red square ?"], ["two", "yes"]
    ids, labels, mask = make_batch(tok, prompts, answers, 2, image_first=False)
    assert ids.shape == labels.shape == mask.shape == (2, 11)
    assert mask[0].tolist() == [1] * 9 + [0] * 2 and ids[0, -2:].tolist() == [tok.pad_id] * 2
    assert labels[0].tolist() == [-100] * 7 + tok.encode("two") + [-100] * 2
    ids, labels, mask = make_batch(tok, prompts, None, 2)
    assert mask[0].tolist() == [0, 0] + [1] * 7 and ids[0, 2] == tok.bos_id
    with pytest.raises(ValueError, match="got 2 prompts and 1 answers"):
        make_batch(tok, prompts, ["two"], 2)


def test_build_labels_from_starts_and_masks():
    ids = torch.tensor([[1, 3, 3, 8, 9, 47], [1, 3, 3, 8, 47, 0]])
    assert build_labels(ids, 4).tolist() == [
        [-100] * 4 + [9, 47],
        [-100] * 4 + [47, 0],
    ]
    starts = build_labels(ids, torch.tensor([4, 3]))
    assert starts[1].tolist() == [-100] * 3 + [8, 47, 0]
    mask = torch.zeros_like(ids, dtype=torch.bool)
    mask[:, -1] = True
    assert build_labels(ids, mask).tolist() == [[-100] * 5 + [47], [-100] * 5 + [0]]
    with pytest.raises(ValueError, match=r"answer mask must be \(B, T\) = \(2, 6\)"):
        build_labels(ids, mask[:, :3])


def test_trainable_parameters_by_stage():
    torch.manual_seed(0)
    model = LLaVA(LLaVAConfig.tiny())

    def ids(params):
        return {id(p) for p in params}

    stage_1 = model.trainable_parameters(1)
    assert ids(stage_1) == ids(model.projector.parameters())
    stage_2 = model.trainable_parameters(2)
    assert ids(stage_2) == ids(model.projector.parameters()) | ids(
        model.language_model.parameters()
    )
    assert not ids(stage_2) & ids(model.vision_tower.parameters())  # never trained
    trainable = model.set_stage(1)
    assert ids(trainable) == ids(stage_1)
    assert ids(p for p in model.parameters() if p.requires_grad) == ids(stage_1)
    model.set_stage(2)
    assert ids(p for p in model.parameters() if p.requires_grad) == ids(stage_2)
    with pytest.raises(ValueError, match="stage must be 1 or 2, got 3"):
        model.trainable_parameters(3)
    freeze(model.vision_tower)
    assert freeze(model.projector) is model.projector
    assert not any(p.requires_grad for p in model.projector.parameters())


def tiny_data(model, B=16, seed=0):
    tok = Tokenizer()
    g = torch.Generator().manual_seed(seed)
    colours = ["red", "blue", "green", "yellow"]
    answers = [colours[int(i)] for i in torch.randint(0, 4, (B,), generator=g)]
    prompts = ["what colour is the square ?"] * B
    ids, labels, mask = make_batch(tok, prompts, answers, model.n_image_tokens, image_first=False)
    pixel_values = torch.rand(B, 3, 32, 32, generator=g)
    return pixel_values, ids, labels, mask


def test_a_few_training_steps_lower_the_loss_and_stage_1_touches_only_the_projector():
    torch.manual_seed(0)
    model = LLaVA(LLaVAConfig.tiny())
    pixel_values, ids, labels, mask = tiny_data(model)
    Z_v = model.vision_features(pixel_values).detach()  # frozen: computed once
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for stage, steps, drop in ((1, 10, 0.3), (2, 15, 2.0)):
        opt = torch.optim.AdamW(model.set_stage(stage), lr=3e-3)
        losses = []
        for _ in range(steps):
            _, loss = model(input_ids=ids, labels=labels, attention_mask=mask, vision_features=Z_v)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < losses[0] - drop, (stage, losses)
        if stage == 1:
            changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
            assert changed and all(k.startswith("projector.") for k in changed)


def test_tiny_preset_and_llava_15_shapes():
    config = LLaVAConfig.tiny()
    assert config.text.vocab_size == Tokenizer().vocab_size == 48
    assert config.image_token_id == Tokenizer().image_id
    model = LLaVA(config)
    assert isinstance(model.projector, MLPProjector) and model.n_image_tokens == 16
    assert sum(p.numel() for p in model.language_model.parameters()) == 105_280
    qformer = LLaVA(LLaVAConfig.tiny("qformer", projector_options={"n_queries": 4}))
    assert isinstance(qformer.projector, QFormerProjector) and qformer.n_image_tokens == 4
    big = LLaVAConfig.llava15_7b()
    with torch.device("meta"):
        ours = LLaVA(big)
        hf = transformers.LlavaForConditionalGeneration(
            transformers.LlavaConfig(text_config=transformers.LlamaConfig(vocab_size=32064))
        )
    assert ours.n_image_tokens == 576 == hf.config.image_seq_length
    n = sum(p.numel() for p in ours.parameters())
    assert n == sum(p.numel() for p in hf.parameters()) == 7_063_427_072


def test_config_errors():
    with pytest.raises(ValueError, match="projector must be one of"):
        LLaVAConfig.tiny("perceiver")
    with pytest.raises(ValueError, match=r"image_token_id must lie in \[0, 48\), got 48"):
        LLaVAConfig.tiny(image_token_id=48)
    with pytest.raises(ValueError, match=r"vision_feature_layer must lie in \[-3, 3\)"):
        LLaVAConfig.tiny(vision_feature_layer=-4)
    with pytest.raises(ValueError, match="vision_feature_select must be 'default' or 'full'"):
        LLaVAConfig.tiny(vision_feature_select="cls")
    with pytest.raises(TypeError, match="config must be a LLaVAConfig, got LlamaConfig"):
        LLaVA(LLaVAConfig.tiny().text)
    with pytest.raises(TypeError, match="expected a transformers.LlavaForConditionalGeneration"):
        LLaVA.from_hf(torch.nn.Linear(2, 2))
    model = LLaVA(LLaVAConfig.tiny())
    ids = torch.tensor([[1] + [3] * 16 + [9, 47]])
    with pytest.raises(ValueError, match=r"labels must be \(B, T\) = \(1, 19\)"):
        model(torch.randn(1, 3, 32, 32), ids, labels=ids[:, :5])


def test_per_row_loss_is_each_rows_own_mean_loss():
    torch.manual_seed(0)
    model = LLaVA(LLaVAConfig.tiny())
    logits = torch.randn(3, 7, model.config.text.vocab_size)
    labels = torch.randint(0, model.config.text.vocab_size, (3, 7))
    labels[0, :4] = -100  # rows with different numbers of labelled tokens
    labels[2, 1:6] = -100
    per_row = model.loss(logits, labels, per_row=True)
    assert per_row.shape == (3,)
    for b in range(3):
        torch.testing.assert_close(per_row[b], model.loss(logits[b : b + 1], labels[b : b + 1]))
    # weighted by their labelled tokens, the rows give back the mean over every token
    counted = (labels[:, 1:] != -100).sum(1).float()
    torch.testing.assert_close(
        (per_row * counted).sum() / counted.sum(), model.loss(logits, labels)
    )


def test_the_tiny_config_takes_its_vocabulary_from_the_caller():
    tok = Tokenizer()
    # the defaults are the scene world's tokenizer, which the recipes pass explicitly
    default = LLaVAConfig.tiny()
    assert (default.text.vocab_size, default.image_token_id) == (tok.vocab_size, tok.image_id)
    other = LLaVAConfig.tiny(projector="linear", vocab_size=100, image_token_id=99)
    assert (other.text.vocab_size, other.image_token_id, other.projector) == (100, 99, "linear")
    with pytest.raises(ValueError, match=r"image_token_id must lie in \[0, 100\), got 100"):
        LLaVAConfig.tiny(vocab_size=100, image_token_id=100)
