"""minivlm.diagrams: the drawings say what the model and its data say."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from minivlm import diagrams  # noqa: E402
from minivlm.data import Tokenizer  # noqa: E402
from minivlm.llava import LLaVA, LLaVAConfig, make_example  # noqa: E402
from minivlm.projectors import make_projector  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def boxes(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_sequence_counts_and_colours_each_position_by_its_role():
    tok = Tokenizer()
    ids, labels = make_example(tok, "what colour is the circle ?", "red", 16, image_first=False)
    tokens = [tok.vocab[i] for i in ids.tolist()]
    _, ax = plt.subplots()
    counts = diagrams.sequence(ax, tokens, labels.tolist(), vocab=tok.vocab, max_image=3)
    # <bos>; six prompt words; 16 image tokens; the answer and <eos>, both scored
    assert counts == {"special": 1, "text": 6, "image": 16, "answer": 2}
    assert counts["answer"] == int((labels != -100).sum())
    drawn = boxes(ax)
    assert len(drawn) == len(tokens) - 16 + 3  # the run of 16 image tokens drawn as 3
    scored = [
        b
        for b in drawn
        if b.get_facecolor()[:3] == matplotlib.colors.to_rgb(diagrams.COLOURS["answer"])
    ]
    assert len(scored) == 2
    texts = [t.get_text() for t in ax.texts]
    assert "red" in texts and "<eos>" in texts and "…" in texts
    with pytest.raises(ValueError, match="one entry per position, got 3 tokens and 2 labels"):
        diagrams.sequence(ax, ["a", "b", "c"], [-100, 1])


def test_stages_reads_what_each_stage_trains_from_the_model():
    model = LLaVA(LLaVAConfig.tiny())
    _, axes = plt.subplots(1, 2)
    trained = diagrams.stages(axes, model)
    assert trained == {
        1: {"vision_tower": False, "projector": True, "language_model": False},
        2: {"vision_tower": False, "projector": True, "language_model": True},
    }
    n_lm = sum(p.numel() for p in model.language_model.parameters())
    assert any(f"{n_lm:,}" in t.get_text() for t in axes[1].texts)
    with pytest.raises(ValueError, match="one Axes per stage, 2, got 1"):
        diagrams.stages([axes[0]], model)


def test_projector_paths_match_the_projectors_token_counts_and_wiring():
    _, axes = plt.subplots(1, 3)
    tokens = diagrams.projector_paths(axes, n_patches=16, merge=2, n_queries=8)
    assert tokens == {
        "linear / MLP": make_projector("mlp", 8, 8).n_tokens(16),
        "patch merger": make_projector("merge", 8, 8, merge=2).n_tokens(16),
        "Q-Former": make_projector("qformer", 8, 8, n_queries=8, n_heads=4).n_tokens(16),
    }
    # one line per (patch, token) that feeds it: 16, 16 (each patch into one block), 8 x 16
    assert [len(ax.lines) for ax in axes] == [16, 16, 128]
    with pytest.raises(ValueError, match="square grid of patches whose side it divides, got N=12"):
        diagrams.projector_paths(axes, n_patches=12, merge=2, n_queries=8)
    with pytest.raises(ValueError, match="one Axes per projector, 3, got 2"):
        diagrams.projector_paths(axes[:2], n_patches=16, merge=2, n_queries=8)


def test_the_merger_blocks_are_the_ones_merge_projector_concatenates():
    # identity weights and large positive inputs, where GELU is the identity to float
    # precision: each output token is the concatenation of its block's patch values
    p = make_projector("merge", 1, 4, merge=2)
    with torch.no_grad():
        for layer in (p.mlp.fc1, p.mlp.fc2):
            layer.weight.copy_(torch.eye(4))
            layer.bias.zero_()
    Z_v = (1000.0 + torch.arange(16, dtype=torch.float64)).reshape(1, 16, 1)
    out = p.double()(Z_v)[0] - 1000.0  # (4 tokens, 4 values): patch indices
    assert out.round().long().tolist() == diagrams.merge_sources(side=4, merge=2)
    assert diagrams.merge_sources(4, 2)[1] == [2, 3, 6, 7]  # the top-right block
