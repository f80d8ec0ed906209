"""minivlm.llama: Hugging Face LlamaForCausalLM logits, loss and greedy generation; RoPE; errors."""

import pytest
import torch

from minivlm.llama import Llama, LlamaConfig, RotaryEmbedding, rotate_half

transformers = pytest.importorskip("transformers")


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # a tied matrix is counted once


SHAPES = [  # width, depth, n_heads, n_kv_heads, intermediate, tied, rope_theta
    (32, 2, 4, 4, 40, False, 10000.0),  # multi-head
    (48, 3, 6, 2, 64, True, 500.0),  # grouped-query, tied embeddings
    (32, 1, 4, 1, 24, False, 1e6),  # multi-query
]


def hf_llama(width, depth, n_heads, n_kv_heads, intermediate, tied, rope_theta, seed=0):
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=61,
        hidden_size=width,
        num_hidden_layers=depth,
        num_attention_heads=n_heads,
        num_key_value_heads=n_kv_heads,
        intermediate_size=intermediate,
        max_position_embeddings=64,
        tie_word_embeddings=tied,
        rope_theta=rope_theta,
        initializer_range=0.2,
        rms_norm_eps=1e-5,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    return transformers.LlamaForCausalLM(config).eval()


def batch(B=3, T=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 61, (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[0, :3] = 0  # left padding
    mask[1, -2:] = 0  # right padding
    return ids.masked_fill(mask == 0, 0), mask


@pytest.mark.parametrize("shape", SHAPES)
def test_logits_and_loss_equal_hugging_face(shape):
    hf = hf_llama(*shape)
    ours = Llama.from_hf(hf).eval()
    assert n_params(ours) == n_params(hf)
    ids, mask = batch()
    labels = ids.masked_fill(mask == 0, -100)
    with torch.no_grad():
        for attention_mask in (None, mask):
            expected = hf(input_ids=ids, attention_mask=attention_mask, labels=labels)
            logits, loss = ours(ids, attention_mask=attention_mask, labels=labels)
            assert expected.logits.std() > 0.5  # logits far from uniform, so the test can fail
            torch.testing.assert_close(logits, expected.logits, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(loss, expected.loss, atol=1e-5, rtol=1e-5)
        assert ours(ids)[1] is None


def test_inputs_embeds_and_position_ids_equal_hugging_face():
    hf = hf_llama(*SHAPES[1])
    ours = Llama.from_hf(hf).eval()
    ids, mask = batch()
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        embeds = ours.embed(ids)
        expected = hf(inputs_embeds=embeds, attention_mask=mask, position_ids=positions).logits
        torch.testing.assert_close(
            ours(inputs_embeds=embeds, attention_mask=mask, position_ids=positions)[0],
            expected,
            atol=1e-5,
            rtol=1e-5,
        )
        torch.testing.assert_close(ours(inputs_embeds=embeds)[0], ours(ids)[0])


@pytest.mark.parametrize("shape", SHAPES[:2])
def test_greedy_generate_equals_hugging_face(shape):
    hf = hf_llama(*shape)
    ours = Llama.from_hf(hf).eval()
    ids = torch.randint(3, 61, (3, 6), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[0, :3] = 0  # left padding: the usual layout for a batch of prompts
    ids = ids.masked_fill(mask == 0, 0)
    settings = dict(max_new_tokens=8, do_sample=False, pad_token_id=0)
    expected = hf.generate(ids, attention_mask=mask, eos_token_id=None, **settings)
    assert torch.equal(ours.generate(ids, 8, attention_mask=mask, eos_token_id=None), expected)
    expected = hf.generate(ids[1:], eos_token_id=None, **settings)
    assert torch.equal(ours.generate(ids[1:], 8, eos_token_id=None), expected)
    # stop on a token that HF's continuation of row 0 produces at its third step
    eos = int(hf.generate(ids, attention_mask=mask, eos_token_id=None, **settings)[0, 8])
    expected = hf.generate(ids, attention_mask=mask, eos_token_id=eos, **settings)
    got = ours.generate(ids, 8, attention_mask=mask, eos_token_id=eos, pad_token_id=0)
    assert torch.equal(got, expected)
    assert (got[0, 8:] == torch.tensor([eos] + [0] * (got.shape[1] - 9))).all()


def test_generate_from_inputs_embeds_returns_the_new_tokens():
    ours = Llama.from_hf(hf_llama(*SHAPES[0])).eval()
    ids, _ = batch(T=5)
    with torch.no_grad():
        embeds = ours.embed(ids)
    assert torch.equal(
        ours.generate(inputs_embeds=embeds, max_new_tokens=4),
        ours.generate(ids, 4)[:, 5:],
    )


def test_sampling_is_reproducible_with_a_generator():
    ours = Llama.from_hf(hf_llama(*SHAPES[0])).eval()
    ids, _ = batch(T=4)
    runs = [
        ours.generate(ids, 10, temperature=1.0, generator=torch.Generator().manual_seed(3))
        for _ in range(2)
    ]
    assert torch.equal(runs[0], runs[1])
    assert runs[0].shape == (3, 14) and runs[0].min() >= 0 and runs[0].max() < 61
    other = ours.generate(ids, 10, temperature=1.0, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(runs[0], other)


def test_causal_a_later_token_does_not_change_earlier_logits():
    torch.manual_seed(0)
    model = Llama(LlamaConfig.tiny(vocab_size=50)).eval()
    ids = torch.randint(0, 50, (1, 10))
    changed = ids.clone()
    changed[0, 6] = (ids[0, 6] + 1) % 50
    with torch.no_grad():
        a, b = model(ids)[0], model(changed)[0]
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert (a[:, 6:] - b[:, 6:]).abs().max() > 1e-4


def test_rope_scores_depend_on_the_offset_only():
    torch.manual_seed(0)
    d = 16
    rope = RotaryEmbedding(d, theta=10000.0)
    q, k = torch.randn(d), torch.randn(d)

    def rotate(x, m):
        cos, sin = rope(torch.tensor([[m]]), torch.float32)
        return x * cos[0, 0] + rotate_half(x) * sin[0, 0]

    def score(m, n):
        return (rotate(q, m) @ rotate(k, n)).item()

    assert score(7, 3) == pytest.approx(score(14, 10), rel=1e-4)
    assert score(7, 3) == pytest.approx(score(4, 0), rel=1e-4)
    by_offset = torch.tensor([score(20, n) for n in range(20)])
    assert by_offset.std() > 0.1  # the score does depend on m - n
    assert rotate(q, 5).norm().item() == pytest.approx(q.norm().item(), rel=1e-5)  # a rotation


@pytest.mark.parametrize(
    "preset, expected", [("tinyllama_1b", 1_100_048_384), ("llama2_7b", 6_738_415_616)]
)
def test_parameter_counts_of_published_models(preset, expected):
    with torch.device("meta"):
        model = Llama(getattr(LlamaConfig, preset)())
    assert n_params(model) == expected


def test_tiny_preset_counts_like_hugging_face():
    c = LlamaConfig.tiny()
    hf_config = transformers.LlamaConfig(
        vocab_size=c.vocab_size,
        hidden_size=c.width,
        num_hidden_layers=c.depth,
        num_attention_heads=c.n_heads,
        num_key_value_heads=c.n_kv_heads,
        intermediate_size=c.intermediate_size,
    )
    with torch.device("meta"):
        assert n_params(Llama(c)) == n_params(transformers.LlamaForCausalLM(hf_config))


def test_bad_input_is_rejected_with_expected_and_got():
    model = Llama(LlamaConfig.tiny(vocab_size=50, max_seq_len=16, width=128))
    ids = torch.randint(0, 50, (2, 8))
    with pytest.raises(ValueError, match="longer than the context: at most 16 tokens, got 17"):
        model(torch.randint(0, 50, (1, 17)))
    with pytest.raises(TypeError, match="integer tensor.*float32"):
        model(ids.float())
    with pytest.raises(ValueError, match=r"\[0, 50\).*\[50\]"):
        model(torch.tensor([[1, 50]]))
    with pytest.raises(ValueError, match="exactly one of input_ids"):
        model(ids, inputs_embeds=torch.randn(2, 8, 128))
    with pytest.raises(ValueError, match=r"last dimension 128.*\(2, 8, 64\)"):
        model(inputs_embeds=torch.randn(2, 8, 64))
    with pytest.raises(
        ValueError, match=r"attention_mask must be \(B, T\) = \(2, 8\), got \(2, 7\)"
    ):
        model(ids, attention_mask=torch.ones(2, 7))
    with pytest.raises(ValueError, match=r"labels must be \(B, T\) = \(2, 8\), got \(2, 7\)"):
        model(ids, labels=ids[:, :7])
    with pytest.raises(ValueError, match="or be -100"):
        model(ids, labels=torch.full((2, 8), -1))
    with pytest.raises(ValueError, match="max_new_tokens.*-1"):
        model.generate(ids, -1)
    with pytest.raises(ValueError, match="fit the context of 16, got 8 \\+ 9"):
        model.generate(ids, 9)
    with pytest.raises(ValueError, match="n_heads by n_kv_heads.*n_heads=4, n_kv_heads=3"):
        LlamaConfig(width=32, n_heads=4, n_kv_heads=3)
    with pytest.raises(TypeError, match="LlamaForCausalLM.*Linear"):
        Llama.from_hf(torch.nn.Linear(2, 2))


def test_next_token_loss_is_the_shifted_cross_entropy_over_labelled_tokens():
    from minivlm.llama import next_token_loss

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 6, 9, generator=g, dtype=torch.float64)
    labels = torch.randint(9, (2, 6), generator=g)
    labels[0, :3] = -100
    nll = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, 9),
        labels[:, 1:].reshape(-1),
        reduction="none",
        ignore_index=-100,
    ).view(2, 5)
    counted = (labels[:, 1:] != -100).sum(1)
    torch.testing.assert_close(next_token_loss(logits, labels).double(), nll.sum() / counted.sum())
    torch.testing.assert_close(
        next_token_loss(logits, labels, per_row=True).double(), nll.sum(1) / counted
    )
    bad = labels.clone()
    bad[1, 2] = 9
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\) or be -100, got \[9\]"):
        next_token_loss(logits, bad)
    with pytest.raises(TypeError, match="labels must be an integer tensor of token ids"):
        next_token_loss(logits, labels.float())
    with pytest.raises(ValueError, match=r"logits must be 3-D \(B, T, V\)"):
        next_token_loss(logits[0], labels)


def test_eager_attention_gives_the_sdpa_logits_and_shows_causal_weights():
    config = LlamaConfig.tiny(vocab_size=50, width=32, depth=2, n_heads=4, n_kv_heads=2)
    torch.manual_seed(0)
    fused = Llama(config)
    eager = Llama(LlamaConfig(**{**config.__dict__, "attn_implementation": "eager"}))
    eager.load_state_dict(fused.state_dict())
    ids = torch.randint(0, 50, (2, 7))
    mask = torch.ones_like(ids)
    mask[1, :2] = 0  # a left-padded row
    seen = []
    eager.layers[0].attn.register_forward_hook(lambda m, i, out: seen.append(out[1]))
    for attention_mask in (None, mask):
        torch.testing.assert_close(
            eager(ids, attention_mask)[0], fused(ids, attention_mask)[0], atol=1e-5, rtol=1e-5
        )
    plain, padded = seen
    assert plain.shape == (2, 4, 7, 7)  # (B, h, T, T): every query head, kv heads repeated
    torch.testing.assert_close(plain.sum(-1), torch.ones(2, 4, 7))
    assert torch.all(plain.triu(1) == 0)  # nothing from the future
    assert torch.all(padded[1, :, 2:, :2] == 0)  # nor from the padding
    with pytest.raises(ValueError, match="attn_implementation must be one of.*'flash'"):
        LlamaConfig.tiny(attn_implementation="flash")


def test_rotary_frequencies_are_hugging_face_s_to_the_last_bit():
    head_dim, theta = 32, 500000.0
    hf = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    assert torch.equal(RotaryEmbedding(head_dim, theta).inv_freq, hf)
