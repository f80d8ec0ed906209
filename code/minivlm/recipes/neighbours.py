"""The attention chapter's experiment: two heads, two relations.

For every token of a random sequence the model outputs both its left and its right
neighbour. One attention layer (token embedding plus sinusoidal positions, multi-head
attention, two linear read-outs) is trained with one head or with two heads of the same
total width, for the same number of steps. The chapter trains both live; the spread of
both accuracies over seeds and kernels is in `minivlm.recipes.spread`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import positional
from ..attention import MultiHeadAttention


@dataclass(frozen=True)
class NeighboursRecipe:
    steps: int = 300
    vocab: int = 16
    n: int = 16  # tokens per sequence
    d: int = 32  # model width, shared by the heads
    batch_size: int = 128
    lr: float = 1e-2
    n_test: int = 1000  # test sequences
    seed: int = 0


def train_neighbours(n_heads: int, recipe: NeighboursRecipe = NeighboursRecipe()):
    """Train the model with n_heads heads; return (accuracy, weights).

    accuracy: the share of test tokens (those with both neighbours) whose two neighbours
    are both right; weights: (n_heads, n, n), the attention weights averaged over the test
    sequences.
    """
    r = recipe
    torch.manual_seed(r.seed)
    embed, mha = nn.Embedding(r.vocab, r.d), MultiHeadAttention(r.d, n_heads)
    left, right = nn.Linear(r.d, r.vocab), nn.Linear(r.d, r.vocab)
    modules = nn.ModuleList([embed, mha, left, right])
    opt = torch.optim.Adam(modules.parameters(), lr=r.lr)
    pe = positional.sinusoidal(r.n, r.d)
    data = torch.Generator().manual_seed(r.seed + 1)
    for _ in range(r.steps):
        x = torch.randint(0, r.vocab, (r.batch_size, r.n), generator=data)
        h, _ = mha(embed(x) + pe, need_weights=False)
        h = h[:, 1:-1]  # tokens that have both neighbours
        loss = F.cross_entropy(left(h).flatten(0, 1), x[:, :-2].flatten()) + F.cross_entropy(
            right(h).flatten(0, 1), x[:, 2:].flatten()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = torch.randint(0, r.vocab, (r.n_test, r.n), generator=data)
    with torch.no_grad():
        h, weights = mha(embed(x) + pe)
        h = h[:, 1:-1]
        both = (left(h).argmax(-1) == x[:, :-2]) & (right(h).argmax(-1) == x[:, 2:])
    return both.float().mean().item(), weights.mean(0)  # weights: (heads, n, n)


def off_diagonal_mass(weights: torch.Tensor, offset: int) -> float:
    """Mean attention weight that the queries with a neighbour at `offset` give it:
    offset -1 is the left neighbour, +1 the right one. weights: (n, n), one head."""
    return weights.diagonal(offset).mean().item()


def figures(seed: int) -> dict[str, float]:
    """The chapter's figures for one seed, for minivlm.recipes.spread."""
    recipe = NeighboursRecipe(seed=seed)
    one, _ = train_neighbours(1, recipe)
    two, weights = train_neighbours(2, recipe)
    # for each head of the two-head model, its weight on the left and on the right neighbour
    masses = torch.tensor([[off_diagonal_mass(w, k) for k in (-1, 1)] for w in weights])
    return {
        "one_head": one,
        "two_heads": two,
        # the smaller of the two heads' weights on the neighbour it prefers
        "head_focus": masses.max(1).values.min().item(),
        # 1 when the heads prefer different neighbours, one relation each
        "heads_split": float(masses.argmax(1).unique().numel() == 2),
    }
