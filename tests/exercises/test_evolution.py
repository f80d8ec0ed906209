"""The checkers of the Evolution chapter accept right solutions and name each mistake."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from minivlm import exercises
from minivlm.clip import clip_loss
from minivlm.llama import Llama, LlamaConfig

from .checker_asserts import fails as _fails
from .checker_asserts import passes as _passes
from .checker_asserts import raises as _raises

# InfoNCE -----------------------------------------------------------------------------


def _info_nce(
    image,
    text,
    scale,
    normalise=True,
    temperature="multiply",
    directions="both",
    reduction="mean",
    combine="mean",
):
    """The InfoNCE of the chapter, with one switch per classic mistake."""
    if normalise:
        image, text = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
    s = image @ text.T
    if temperature == "multiply":
        s = s * scale
    elif temperature == "divide":
        s = s / scale
    labels = torch.arange(len(s))
    i2t = F.cross_entropy(s, labels, reduction=reduction)
    t2i = F.cross_entropy(s.T, labels, reduction=reduction)
    if directions == "i2t":
        return i2t
    if directions == "t2i":
        return t2i
    return (i2t + t2i) / 2 if combine == "mean" else i2t + t2i


def _info_nce_from_the_formula(image, text, scale):
    """Written from the module's formula, with log-softmax by hand."""
    image = image / image.norm(dim=-1, keepdim=True)
    text = text / text.norm(dim=-1, keepdim=True)
    s = scale * image @ text.T
    l_i2t = -(s.diag() - s.logsumexp(dim=1)).mean()
    l_t2i = -(s.diag() - s.logsumexp(dim=0)).mean()
    return 0.5 * (l_i2t + l_t2i)


def test_check_info_nce_accepts_right_solutions(capsys):
    _passes(capsys, exercises.check_info_nce(clip_loss))
    _passes(capsys, exercises.check_info_nce(_info_nce))
    _passes(capsys, exercises.check_info_nce(_info_nce_from_the_formula))
    # a Python float is as good as a 0-d tensor
    _passes(capsys, exercises.check_info_nce(lambda i, t, s: _info_nce(i, t, s).item()))


@pytest.mark.parametrize(
    "kwargs, phrase",
    [
        (dict(normalise=False), "not L2-normalised"),
        (dict(temperature=None), "the temperature is missing"),
        (dict(temperature="divide"), "divided by logit_scale"),
        (dict(directions="i2t"), "only the image-to-text direction"),
        (dict(directions="t2i"), "only the text-to-image direction"),
        (dict(reduction="sum"), "summed over the batch"),
        (dict(combine="sum"), "the two directions are added"),
    ],
)
def test_check_info_nce_names_each_mistake(capsys, kwargs, phrase):
    result = exercises.check_info_nce(lambda i, t, s: _info_nce(i, t, s, **kwargs))
    _fails(capsys, result, phrase)


def test_check_info_nce_other_failures(capsys):
    _fails(
        capsys,
        exercises.check_info_nce(_raises),
        "raised RuntimeError: not implemented yet",
    )
    _fails(
        capsys,
        exercises.check_info_nce(lambda i, t, s: "a loss"),
        "should return a torch.Tensor, got str",
    )
    _fails(
        capsys,
        exercises.check_info_nce(lambda i, t, s: torch.zeros(len(i))),
        "returned shape",
    )
    _fails(
        capsys,
        exercises.check_info_nce(lambda i, t, s: _info_nce(i, t, s) + 0.1),
        "wrong values",
    )


# next-token loss ----------------------------------------------------------------------


def _next_token_loss(
    logits, labels, shift="right", ignore=True, denominator="labelled", reduce="tokens"
):
    """The loss of Llama.forward, with one switch per classic mistake."""
    V = logits.shape[-1]
    if shift == "right":
        logits, labels = logits[:, :-1], labels[:, 1:]
    elif shift == "wrong way":
        logits, labels = logits[:, 1:], labels[:, :-1]
    if not ignore:
        labels = labels.clamp(min=0)
    per_token = F.cross_entropy(
        logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100, reduction="none"
    ).view(labels.shape)
    valid = labels != -100
    if reduce == "sequences":
        return (per_token.sum(1) / valid.sum(1)).mean()
    if denominator == "labelled":
        return per_token.sum() / valid.sum()
    if denominator == "all":
        return per_token.sum() / per_token.numel()
    return per_token.sum()


def _next_token_loss_by_hand(logits, labels):
    """With log-softmax and gather, the -100 positions masked out by hand."""
    logp = logits[:, :-1].log_softmax(-1)
    target = labels[:, 1:]
    valid = target != -100
    picked = logp.gather(-1, target.clamp(min=0)[..., None])[..., 0]
    return -(picked * valid).sum() / valid.sum()


def test_check_next_token_loss_accepts_right_solutions(capsys):
    _passes(capsys, exercises.check_next_token_loss(_next_token_loss))
    _passes(capsys, exercises.check_next_token_loss(_next_token_loss_by_hand))


def test_check_next_token_loss_reference_is_llama_forward():
    """The checker's convention is the language model's own loss."""
    torch.manual_seed(0)
    model = Llama(LlamaConfig(vocab_size=11, width=16, depth=1, n_heads=2, intermediate_size=32))
    ids = torch.randint(11, (3, 8))
    labels = ids.clone()
    labels[0, :3] = labels[1, :5] = -100
    logits, loss = model(ids, labels=labels)
    assert torch.allclose(_next_token_loss(logits, labels), loss, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, phrase",
    [
        (dict(shift=None), "the labels are not shifted"),
        (dict(shift="wrong way"), "the shift goes the wrong way"),
        (dict(ignore=False), "labelled -100 enter the loss"),
        (dict(denominator="all"), "the mean runs over every position"),
        (dict(denominator=None), "the losses are summed"),
        (dict(reduce="sequences"), "each sequence is averaged first"),
    ],
)
def test_check_next_token_loss_names_each_mistake(capsys, kwargs, phrase):
    result = exercises.check_next_token_loss(lambda lg, lb: _next_token_loss(lg, lb, **kwargs))
    _fails(capsys, result, phrase)


def test_check_next_token_loss_other_failures(capsys):
    _fails(
        capsys,
        exercises.check_next_token_loss(_raises),
        "raised RuntimeError: not implemented yet",
    )
    _fails(
        capsys,
        exercises.check_next_token_loss(lambda lg, lb: lg[:, :-1].mean(-1)),
        "returned shape",
    )
    _fails(
        capsys,
        exercises.check_next_token_loss(lambda lg, lb: _next_token_loss(lg, lb) * 1.1),
        "wrong values",
    )


def test_the_mistakes_are_told_apart():
    """No two mistakes (nor a mistake and the right answer) give the same number."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 9, 7, generator=g, dtype=torch.float64)
    labels = torch.randint(7, (2, 9), generator=g)
    labels[0, :3], labels[1, :5], labels[0, -1] = -100, -100, -100
    variants = [
        dict(),
        dict(shift=None),
        dict(shift="wrong way"),
        dict(ignore=False),
        dict(denominator="all"),
        dict(denominator=None),
        dict(reduce="sequences"),
    ]
    values = [_next_token_loss(logits, labels, **v).item() for v in variants]
    assert min(abs(a - b) for i, a in enumerate(values) for b in values[i + 1 :]) > 1e-3
    image = torch.randn(6, 8, generator=g, dtype=torch.float64) * 3
    text = torch.randn(6, 8, generator=g, dtype=torch.float64) * 0.5
    variants = [
        dict(),
        dict(normalise=False),
        dict(temperature=None),
        dict(temperature="divide"),
        dict(directions="i2t"),
        dict(directions="t2i"),
        dict(reduction="sum"),
        dict(combine="sum"),
    ]
    values = [_info_nce(image, text, 1 / 0.07, **v).item() for v in variants]
    assert min(abs(a - b) for i, a in enumerate(values) for b in values[i + 1 :]) > 1e-3
