"""Checkers for the exercises of the CLIP chapter (chapters/clip.md)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import metrics, vit
from ._harness import Case, CheckResult, Mistakes, compare_scalars, references, run


@references("patchify")
def check_patchify(patchify: Callable) -> CheckResult:
    """patchify(image (C, H, W), P) -> (N, P*P*C): patches row by row, each flattened as a
    (C, P, P) block, so that patchify(x, P) @ E equals ViT's strided convolution."""
    rng = torch.Generator().manual_seed(4)
    cases = []
    for C, H, W, P in ((3, 8, 12, 4), (2, 6, 6, 3), (3, 16, 16, 8)):
        x = torch.randn(C, H, W, generator=rng)
        cases.append(
            Case(
                f"patchify of a {C}x{H}x{W} image with P={P}",
                lambda x=x, P=P: patchify(x, P),
                vit.patchify(x, P),
                _patchify_mistakes(x, P),
            )
        )
    return run("patchify", cases)


def _patchify_mistakes(x: torch.Tensor, P: int) -> Mistakes:
    """The (N, C*P*P) matrix each usual mistake gives on the image x (C, H, W)."""
    C, H, W = x.shape
    blocks = x.reshape(C, H // P, P, W // P, P)  # (C, H, W) -> (C, H/P, P, W/P, P)
    return {
        "the patches are read column by column; ViT reads them row by row, like text": (
            blocks.permute(3, 1, 0, 2, 4).reshape(-1, C * P * P)  # (W/P, H/P, C, P, P) -> (N, CPP)
        ),
        "each patch is flattened channels-last (P, P, C); flatten it as a (C, P, P) "
        "block, the layout of the convolution's weight": (
            blocks.permute(1, 3, 2, 4, 0).reshape(-1, C * P * P)  # (H/P, W/P, P, P, C) -> (N, PPC)
        ),
        "the image was reshaped without separating the patch axes: each row is a strip "
        "of the image, not a P x P patch": x.reshape(-1, C * P * P),  # (C, H, W) -> (N, CPP)
    }


@references("recall_at_k")
def check_recall_at_k(recall_at_k: Callable) -> CheckResult:
    """recall_at_k(similarity (N, N), k) -> the fraction of rows i whose item i is among the
    row's k largest similarities."""
    rng = torch.Generator().manual_seed(5)
    cases = []
    for n, k in ((20, 1), (30, 3), (40, 5)):
        # a diagonal boost makes the right items likely but not certain: every mistake
        # below then gives a recall of its own
        S = torch.randn(n, n, generator=rng) + 1.0 * torch.eye(n)
        mistakes = {
            "the k best are taken down the columns (dim=0): that ranks queries for each item, "
            "text-to-image instead of image-to-text": _recall(S.T, k),
            # the k largest of -S are the k smallest of S
            "the k *smallest* similarities are taken; rank from the most similar": _recall(-S, k),
            "k + 1 items are counted (an off-by-one)": _recall(S, k + 1),
        }
        cases.append(
            Case(
                f"recall@{k} on a {n}x{n} matrix",
                lambda S=S, k=k: recall_at_k(S, k),
                _recall(S, k),
                mistakes,
            )
        )
    return run("recall_at_k", cases, compare_scalars)


def _recall(similarity: torch.Tensor, k: int) -> torch.Tensor:
    """The package's recall@k, item i the one right answer of query i, as a 0-d tensor."""
    targets = torch.arange(len(similarity))  # (N,)
    return torch.tensor(metrics.recall_at_k(similarity, targets, k))
