"""Checkers for the exercises of the chapter on the evolution from unimodal to multimodal
models (chapters/evolution.md)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .. import clip, llama
from ._harness import Case, CheckResult, Mistakes, compare_scalars, references, run


@references("clip_loss")
def check_info_nce(info_nce: Callable) -> CheckResult:
    """info_nce(image_features, text_features, logit_scale) -> the symmetric InfoNCE loss.

    Features are (B, d_e), not normalised; logit_scale is the multiplier 1 / tau. The
    reference is minivlm.clip.clip_loss: the mean of the image-to-text and text-to-image
    cross-entropies, each averaged over the batch.
    """
    rng = torch.Generator().manual_seed(3)
    cases = []
    for B, d, scale in ((6, 8, 1 / 0.07), (5, 16, torch.tensor(4.0))):
        # norms far from 1, so that a missing normalisation shows
        image = torch.randn(B, d, generator=rng, dtype=torch.float64) * 3.0
        text = torch.randn(B, d, generator=rng, dtype=torch.float64) * 0.5
        cases.append(
            Case(
                f"info_nce with B={B}, d_e={d}, logit_scale={float(scale):.3g}",
                lambda image=image, text=text, scale=scale: info_nce(image, text, scale),
                clip.clip_loss(image, text, scale).to(torch.float64),
                _info_nce_mistakes(image, text, float(scale)),
            )
        )
    return run("info_nce", cases, compare_scalars)


def _info_nce_mistakes(image: torch.Tensor, text: torch.Tensor, scale: float) -> Mistakes:
    """The loss each usual mistake gives on features (B, d_e) and the multiplier scale."""
    B = len(image)
    labels = torch.arange(B)  # pair i matches pair i

    def ce(logits: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels)

    def both(logits: torch.Tensor) -> torch.Tensor:  # the mean of the two directions
        return (ce(logits) + ce(logits.T)) / 2

    cos = F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T  # (B, B)
    i2t, t2i = ce(scale * cos), ce(scale * cos.T)
    return {
        "the features are not L2-normalised: s(i, j) is a cosine similarity only "
        "after each feature is divided by its norm": both(scale * (image @ text.T)),
        "the temperature is missing: multiply the cosine similarities by "
        "logit_scale = 1 / tau": both(cos),
        "the cosine similarities are divided by logit_scale; logit_scale is already "
        "1 / tau, so multiply by it": both(cos / scale),
        "only the image-to-text direction L_i2t: average it with the text-to-image "
        "direction L_t2i": i2t,
        "only the text-to-image direction L_t2i: average it with the image-to-text "
        "direction L_i2t": t2i,
        "the losses are summed over the batch: each direction has a 1/B in front "
        "(a mean, not a sum)": B * (i2t + t2i) / 2,
        "the two directions are added: the total is their mean, (L_i2t + L_t2i) / 2": i2t + t2i,
    }


@references("next_token_loss")
def check_next_token_loss(next_token_loss: Callable) -> CheckResult:
    """next_token_loss(logits, labels) -> the mean next-token cross-entropy.

    logits (B, T, V) and labels (B, T) are aligned as in Llama.forward: the logit at
    position t predicts the label at position t + 1, and labels equal to -100 (image,
    prompt and padding positions) are left out of the loss and of the mean. The reference
    is minivlm.llama.next_token_loss.
    """
    rng = torch.Generator().manual_seed(4)
    cases = []
    for B, T, V, n_ignored in ((2, 9, 7, (3, 5)), (3, 6, 11, (1, 4, 2))):
        logits = torch.randn(B, T, V, generator=rng, dtype=torch.float64) * 2.0
        labels = torch.randint(V, (B, T), generator=rng)
        for row, k in enumerate(n_ignored):  # a different number of -100 in each row
            labels[row, :k] = -100
        labels[0, -1] = -100  # and a padding position at the end
        cases.append(
            Case(
                f"next_token_loss with B={B}, T={T}, V={V}",
                lambda logits=logits, labels=labels: next_token_loss(logits, labels),
                llama.next_token_loss(logits, labels).to(torch.float64),
                _next_token_mistakes(logits, labels),
            )
        )
    return run("next_token_loss", cases, compare_scalars)


def _cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy of logits (B, T, V) against labels (B, T), the -100 positions left out."""
    V = logits.shape[-1]
    return F.cross_entropy(
        logits.reshape(-1, V),  # (B, T, V) -> (B T, V)
        labels.reshape(-1),  # (B, T) -> (B T,)
        ignore_index=-100,
        reduction=reduction,
    )


def _next_token_mistakes(logits: torch.Tensor, labels: torch.Tensor) -> Mistakes:
    """The loss each usual mistake gives on logits (B, T, V) and labels (B, T)."""
    ce = _cross_entropy
    shifted_logits, shifted_labels = logits[:, :-1], labels[:, 1:]  # logit t, label t + 1
    valid = shifted_labels != -100
    per_token = ce(shifted_logits, shifted_labels, "none")  # (B (T-1),), 0 where -100
    return {
        "the labels are not shifted: the logit at position t predicts the token at "
        "t + 1, so compare logits[:, :-1] with labels[:, 1:]": ce(logits, labels),
        "the shift goes the wrong way: compare logits[:, :-1] with labels[:, 1:], not "
        "logits[:, 1:] with labels[:, :-1]": ce(logits[:, 1:], labels[:, :-1]),
        "the positions labelled -100 enter the loss (as token 0): leave them out, "
        "for example with ignore_index=-100": ce(
            shifted_logits, shifted_labels.masked_fill(~valid, 0)
        ),
        "the mean runs over every position; divide by the number of labelled "
        "tokens (labels != -100) only": per_token.sum() / per_token.numel(),
        "the losses are summed: the objective is the mean over the labelled tokens": (
            per_token.sum()
        ),
        "each sequence is averaged first and then the batch; the reference (Llama.forward, "
        "Hugging Face) averages over all labelled tokens of the batch together": (
            llama.next_token_loss(logits, labels, per_row=True).mean()
        ),
    }
