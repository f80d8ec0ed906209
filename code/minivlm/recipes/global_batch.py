"""CLIP's loss on one global batch split over several processes, against one process.

The CLIP chapter's "One batch over many GPUs" and the distributed tests run `spawn_check`: N
processes, joined by gloo, each hold the same CLIP and their shard of the same global batch,
and for each of the four ways of computing the loss in LOSSES, one forward and one backward
pass through DistributedDataParallel. One process computes the loss of the whole batch.
`no_gather_sweep` measures, in one process, what N devices without the gather compute: the
mean of N losses, each over B / N pairs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import distributed
from ..clip import CLIP, clip_loss, local_rows_loss
from ..data.tokenizer import Tokenizer
from .clip import CLIPRecipe, Embed, build, held_out_pairs, training_batch

# how a rank computes its loss from its B_local pairs
LOSSES = {
    # every rank's embeddings gathered with their gradients; local rows against all columns
    "gather": "clip_loss(gather=True)",
    # the same, but the other ranks' embeddings arrive without their gradients
    "naive gather": "local rows, all columns, all_gather_naive",
    # open_clip's default: the full B x B matrix on every rank, the naive gather
    "naive gather, full matrix": "all rows, all columns, all_gather_naive",
    # no gather at all: each rank's B_local pairs are the whole contest
    "no gather": "clip_loss(gather=False) over the rank's own pairs",
}


def global_batch(recipe: CLIPRecipe, seed: int, rows: slice = slice(None)):
    """The first training batch of the recipe's stream, drawn from `seed`: (captions, images,
    input_ids, mask), of which the rows given."""
    data = torch.Generator().manual_seed(seed)
    return training_batch(recipe, Tokenizer(), data, held_out_pairs(recipe), rows)


def _model(recipe: CLIPRecipe, state: dict | None) -> CLIP:
    torch.manual_seed(recipe.seed)
    model = build(recipe, Tokenizer())
    if state is not None:
        model.load_state_dict(state)
    return model


def gradient(model: CLIP) -> torch.Tensor:
    """Every parameter's gradient, flattened into one vector, in the model's order."""
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def one_process(recipe: CLIPRecipe, state: dict | None = None, seed: int = 0):
    """(loss, gradient) of clip_loss over the whole global batch, in this process."""
    model = _model(recipe, state)
    _, images, input_ids, mask = global_batch(recipe, seed)
    loss = clip_loss(*Embed(model)(images, input_ids, mask))
    loss.backward()
    return loss.item(), gradient(model)


def rank_check(ranks: distributed.World, recipe: CLIPRecipe, state, seed: int) -> dict:
    """One rank of spawn_check: for each way in LOSSES, this rank's loss and the gradient it
    holds after DDP's backward pass (the average over the ranks), and its shard's captions."""
    model = _model(recipe, state)
    net = distributed.wrap(Embed(model), ranks)
    rows = distributed.shard(recipe.batch_size, ranks)
    texts, images, input_ids, mask = global_batch(recipe, seed, rows)
    out = {"captions": texts}
    for name in LOSSES:
        model.zero_grad(set_to_none=True)
        I_f, T_f, scale = net(images, input_ids, mask)
        if name == "gather":
            loss = clip_loss(I_f, T_f, scale, gather=True)
        elif name == "naive gather":
            I_e, T_e = F.normalize(I_f, dim=-1), F.normalize(T_f, dim=-1)
            loss = local_rows_loss(I_e, T_e, scale, ranks.rank, distributed.all_gather_naive)
        elif name == "naive gather, full matrix":
            I_all = distributed.all_gather_naive(F.normalize(I_f, dim=-1))  # (B, d_e)
            T_all = distributed.all_gather_naive(F.normalize(T_f, dim=-1))  # (B, d_e)
            loss = clip_loss(I_all, T_all, scale)
        else:
            loss = clip_loss(I_f, T_f, scale)
        loss.backward()
        out[name] = (loss.item(), gradient(model))
    return out


def spawn_check(
    n_processes: int = 2, recipe: CLIPRecipe | None = None, state=None, seed: int = 0
) -> list[dict]:
    """rank_check in n_processes new processes (gloo, loopback): one dict per rank."""
    recipe = CLIPRecipe.chapter() if recipe is None else recipe
    distributed.shard(recipe.batch_size, distributed.World(size=n_processes))
    return distributed.spawn(rank_check, n_processes, recipe, state, seed)


def no_gather_sweep(
    recipe: CLIPRecipe, state: dict | None = None, n_devices=(1, 2, 4, 8, 16), seed: int = 0
) -> dict[int, tuple[float, torch.Tensor]]:
    """What N devices without the gather compute, in one process: the mean of the N losses
    over B / N pairs each, and its gradient, which is what DDP averages. N -> (loss,
    gradient); N = 1 is the loss of the global batch."""
    model = _model(recipe, state)
    _, images, input_ids, mask = global_batch(recipe, seed)
    out = {}
    for n in n_devices:
        distributed.shard(recipe.batch_size, distributed.World(size=n))
        model.zero_grad(set_to_none=True)
        I_f, T_f, scale = Embed(model)(images, input_ids, mask)
        losses = [
            clip_loss(i, t, scale) for i, t in zip(I_f.chunk(n), T_f.chunk(n))
        ]  # n x (B / n pairs)
        loss = torch.stack(losses).mean()
        loss.backward()
        out[n] = (loss.item(), gradient(model))
    return out
