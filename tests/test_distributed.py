"""One global batch over several processes gives what one process gives.

Every run here stays on this machine and its CPU: `distributed.spawn` joins its processes
over 127.0.0.1, `torchrun --standalone` over localhost, both through gloo (the torchrun test
hides any GPU from its processes).

Tolerances. A sum over the same numbers in another order differs in its last bits, so two
processes never match one bit for bit. The losses agree to 1e-6 relative; the gradients as
vectors to 1e-5 of their norm. After optimiser steps, AdamW divides each gradient by its own
running size, and a gradient that is zero in exact arithmetic comes out as rounding noise,
which AdamW turns into steps of the learning rate's size: the bias of the key projection is
such a parameter (adding b_K adds q . b_K to every score of a query's row, and the softmax
of a row ignores a constant), and `test_key_biases_get_no_gradient` shows it. So weights are
compared without the key biases, to 1e-5, and the models by their embeddings, which the key
biases do not change. Equal weights after AdamW steps show equal gradient directions, not
equal scales (AdamW divides a gradient by its own size): the scale is checked on the
gradients themselves, and on the logged losses.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from minivlm import distributed
from minivlm.data import scenes as world
from minivlm.recipes import clip as recipe_clip
from minivlm.recipes import global_batch
from minivlm.recipes import llava as recipe_llava
from minivlm.recipes.clip import CLIPRecipe, Embed
from minivlm.recipes.llava import LLaVARecipe

SMALL_CLIP = dataclasses.replace(CLIPRecipe.book(), steps=5, batch_size=16)
SMALL_LLAVA = LLaVARecipe.chapter(stage1_steps=3, stage2_steps=3, batch_size=16, n_scenes=300)


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def trained_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict without the key biases (see the module's docstring)."""
    return {k: v for k, v in model.state_dict().items() if not k.endswith("W_K.bias")}


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    ours, theirs = trained_weights(a), trained_weights(b)
    assert ours.keys() == theirs.keys()
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], rtol=0, atol=1e-5, msg=name)


def embeddings(trained) -> torch.Tensor:
    _, images, input_ids, mask = global_batch.global_batch(trained.recipe, seed=123)
    with torch.no_grad():
        I_f, T_f, _ = Embed(trained.model)(images, input_ids, mask)
    return torch.cat([I_f, T_f])


# --- what each rank of the spawned run computes (a module function: spawn imports it) ---


def llava_gradient(ranks: distributed.World) -> tuple[float, torch.Tensor]:
    """The LLaVA recipe's loss of one stage-2 batch (rows_loss) and the gradient DDP leaves,
    on this rank; in a world of one, the one-process loss and gradient."""
    clip = recipe_clip.load_book_clip()
    model = recipe_llava.build(SMALL_LLAVA, clip)
    split = world.make_split(**recipe_llava.training_world(SMALL_LLAVA))
    Z_v = recipe_llava.vision_features(model, split.images)
    examples = recipe_llava.stage2_examples(split, SMALL_LLAVA)
    data = recipe_llava.stage_data(clip.tokenizer, examples, model, SMALL_LLAVA)
    model.set_stage(2)
    net = distributed.wrap(model, ranks)
    rows = torch.arange(16) * 37 % len(data.index)  # answers of different lengths
    loss = recipe_llava.rows_loss(net, data, Z_v, rows, ranks)
    loss.backward()
    grad = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    return loss.item(), grad


def ranks_compute(ranks: distributed.World) -> dict:
    """The loss and DDP's gradient in every way of global_batch.LOSSES; our all_gather's
    gradient against PyTorch's; LLaVA's loss and gradient on one batch; the CLIP and LLaVA
    recipes trained for a few steps."""
    out = global_batch.rank_check(ranks, CLIPRecipe.chapter(), None, 0)
    out["llava gradient"] = llava_gradient(ranks)
    x = torch.arange(6.0).reshape(3, 2) * (ranks.rank + 1)
    weights = torch.linspace(-1, 1, 6 * ranks.size).reshape(3 * ranks.size, 2)
    for name, gather in (("ours", distributed.all_gather), ("pytorch", _pytorch_all_gather)):
        leaf = x.clone().requires_grad_(True)
        # a loss that depends on every rank's rows, differently on every rank
        ((gather(leaf) * weights).sum() * (ranks.rank + 2)).backward()
        out[f"all_gather {name}"] = leaf.grad
    out["clip"] = recipe_clip.train_clip(SMALL_CLIP, progress=False, ranks=ranks).model
    trained = recipe_llava.train_llava(SMALL_LLAVA, progress=False, ranks=ranks)
    out["llava"], out["llava history"] = trained.model, trained.history
    return out


def _pytorch_all_gather(x):
    from torch.distributed.nn.functional import all_gather

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated in 2.13, still correct
        return torch.cat(all_gather(x))


@pytest.fixture(scope="module")
def two_ranks():
    return distributed.spawn(ranks_compute, 2)


@pytest.fixture(scope="module")
def one_process():
    return global_batch.one_process(CLIPRecipe.chapter())


def test_the_mean_of_the_ranks_losses_is_the_one_process_loss(two_ranks, one_process):
    losses = [rank["gather"][0] for rank in two_ranks]
    assert sum(losses) / 2 == pytest.approx(one_process[0], rel=1e-6)
    assert losses[0] != losses[1]  # each rank's loss is over its own rows


def test_ddp_gives_every_rank_the_one_process_gradient(two_ranks, one_process):
    reference = one_process[1]
    for rank in two_ranks:
        assert relative(rank["gather"][1], reference) < 1e-5
    torch.testing.assert_close(two_ranks[0]["gather"][1], two_ranks[1]["gather"][1])


def test_the_naive_gather_gives_another_gradient(two_ranks, one_process):
    # the terms where a rank's embeddings are another rank's columns are missing
    assert relative(two_ranks[0]["naive gather"][1], one_process[1]) > 0.3
    assert two_ranks[0]["naive gather"][0] == pytest.approx(two_ranks[0]["gather"][0], rel=1e-6)


def test_the_full_matrix_with_the_naive_gather_is_one_nth_but_the_temperature(
    two_ranks, one_process
):
    # every rank computes the whole B x B loss and keeps the gradient of its own rows only:
    # DDP's average is 1/N of the one-process gradient, but the temperature's, which every
    # rank computes whole, is not divided
    got, reference = two_ranks[0]["naive gather, full matrix"][1], one_process[1]
    t = element_names().index("logit_scale")
    others = torch.ones_like(reference, dtype=torch.bool)
    others[t] = False
    assert relative(2 * got[others], reference[others]) < 1e-5
    assert got[t] == pytest.approx(reference[t].item(), rel=1e-5)


def _model():
    return recipe_clip.build(CLIPRecipe.chapter(), recipe_clip.Tokenizer())


def element_names() -> list[str]:
    """The parameter each entry of global_batch.gradient's vector belongs to."""
    return [name for name, p in _model().named_parameters() for _ in range(p.numel())]


def test_without_the_gather_ddp_averages_the_local_losses(two_ranks):
    # what two devices without the gather compute is the one-process sweep at N = 2
    sweep = global_batch.no_gather_sweep(CLIPRecipe.chapter(), n_devices=(2,))
    loss, grad = sweep[2]
    assert sum(rank["no gather"][0] for rank in two_ranks) / 2 == pytest.approx(loss, rel=1e-6)
    assert relative(two_ranks[0]["no gather"][1], grad) < 1e-5


def test_our_all_gather_has_pytorchs_gradient(two_ranks):
    for rank in two_ranks:
        torch.testing.assert_close(rank["all_gather ours"], rank["all_gather pytorch"])
    # and the gradient is the sum over both ranks' losses: (2 + 3) times the weights
    weights = torch.linspace(-1, 1, 12).reshape(6, 2)
    torch.testing.assert_close(two_ranks[1]["all_gather ours"], 5 * weights[3:])


def test_the_ranks_train_on_different_halves_of_the_same_batch(two_ranks):
    first, second = (rank["captions"] for rank in two_ranks)
    whole = global_batch.global_batch(CLIPRecipe.chapter(), seed=0)[0]
    assert first + second == whole
    assert first != second


def test_two_processes_train_the_clip_recipe_to_the_same_weights(two_ranks):
    alone = recipe_clip.train_clip(SMALL_CLIP, progress=False)
    for rank in two_ranks:
        assert_same_weights(rank["clip"], alone.model)
    trained = recipe_clip.TrainedCLIP(two_ranks[0]["clip"], alone.tokenizer, SMALL_CLIP)
    torch.testing.assert_close(embeddings(trained), embeddings(alone), rtol=0, atol=1e-5)


def test_llava_shards_give_the_one_process_loss_and_gradient(two_ranks):
    # the shards hold different numbers of answer tokens: each rank's sum over the global
    # count / N makes the mean and DDP's average the one-process loss and gradient
    loss, grad = llava_gradient(distributed.World())
    losses = [rank["llava gradient"][0] for rank in two_ranks]
    assert losses[0] != pytest.approx(losses[1], rel=1e-3)
    assert sum(losses) / 2 == pytest.approx(loss, rel=1e-6)
    for rank in two_ranks:
        assert relative(rank["llava gradient"][1], grad) < 1e-5


def test_two_processes_train_the_llava_recipe_to_the_same_weights(two_ranks):
    alone = recipe_llava.train_llava(SMALL_LLAVA, progress=False)
    for rank in two_ranks:
        assert_same_weights(rank["llava"], alone.model)
    for stage, history in alone.history.items():
        assert two_ranks[0]["llava history"][stage].loss == pytest.approx(history.loss, rel=1e-5)


def test_key_biases_get_no_gradient(one_process):
    names = element_names()
    gradient, key_bias = one_process[1], torch.tensor([n.endswith("W_K.bias") for n in names])
    assert gradient[key_bias].abs().max() < 1e-6 * gradient[~key_bias].abs().max()


# --- the command line under torchrun ---


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    # no GPU: gloo on the CPU, whatever the machine has
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_torchrun_trains_the_clip_recipe_to_the_one_process_weights(tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    args = ["-m", "minivlm.recipes.clip", "--steps", "20"]
    two = run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", *args, "--out", "two.pt"], tmp_path
    )
    assert two.returncode == 0, two.stderr[-3000:]
    # `python -m minivlm.recipes.clip --steps 20 --out one.pt`, in this process
    recipe_clip.main([*args[2:], "--out", str(tmp_path / "one.pt")])
    assert two.stdout.count("saved two.pt") == 1  # rank 0 writes, once
    a, b = (recipe_clip.load(tmp_path / f"{n}.pt") for n in ("two", "one"))
    assert a.recipe == b.recipe == dataclasses.replace(CLIPRecipe.book(), steps=20)
    assert_same_weights(a.model, b.model)
    torch.testing.assert_close(embeddings(a), embeddings(b), rtol=0, atol=1e-5)
    # the logged loss is the mean over the ranks, the one-process loss
    assert a.history.loss == pytest.approx(b.history.loss, rel=1e-5)


# --- bad input ---


@pytest.mark.parametrize(
    "batch, size, words",
    [
        (10, 3, "a batch of 10 over 3 processes"),
        (2, 4, "a global batch of 2 cannot be split over 4 processes"),
        (1, 2, "a global batch of 1 cannot be split over 2 processes"),
    ],
)
def test_a_batch_that_does_not_split_is_refused_naming_both_numbers(batch, size, words):
    with pytest.raises(ValueError, match=words):
        distributed.shard(batch, distributed.World(rank=0, size=size))


@pytest.mark.parametrize("batch", [0, -4, 2.0, True, "8"])
def test_shard_refuses_a_batch_that_is_not_a_positive_integer(batch):
    with pytest.raises(ValueError, match="positive integer"):
        distributed.shard(batch, distributed.World())


def test_shards_cover_the_batch_in_rank_order():
    rows = [distributed.shard(12, distributed.World(rank=r, size=3)) for r in range(3)]
    assert [list(range(12))[s] for s in rows] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]


@pytest.mark.parametrize("module", [recipe_clip, recipe_llava])
def test_the_command_line_refuses_a_batch_before_the_processes_connect(module, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")  # as torchrun --nproc_per_node=4 sets it
    with pytest.raises(ValueError, match="a batch of 6 over 4 processes"):
        module.main(["--batch-size", "6", "--out", os.devnull])
    with pytest.raises(ValueError, match="a global batch of 2 cannot be split over 4"):
        module.main(["--batch-size", "2", "--out", os.devnull])


def test_spawn_reports_a_failing_rank():
    with pytest.raises(RuntimeError, match="rank 0 of 1 failed:(.|\n)*TypeError"):
        distributed.spawn(int, 1, "not a number")


def test_spawn_refuses_a_number_of_processes_below_one():
    with pytest.raises(ValueError, match="nprocs must be a positive integer, got 0"):
        distributed.spawn(int, 0)


def test_spawn_refuses_what_is_not_a_function():
    with pytest.raises(TypeError, match="fn must be a function, got str"):
        distributed.spawn("f", 2)


def test_setup_refuses_an_unknown_backend():
    with pytest.raises(ValueError, match="backend must be None, 'gloo' or 'nccl', got 'mpi'"):
        distributed.setup("mpi")


def test_clip_loss_refuses_a_gather_that_is_not_a_bool():
    x = torch.randn(4, 8)
    with pytest.raises(TypeError, match="gather must be True or False, got str"):
        from minivlm.clip import clip_loss

        clip_loss(x, x, 10.0, gather="yes")


def test_gather_changes_nothing_in_a_world_of_one():
    from minivlm.clip import clip_loss

    torch.manual_seed(0)
    x, y = torch.randn(8, 16), torch.randn(8, 16)
    assert torch.equal(clip_loss(x, y, 14.3, gather=True), clip_loss(x, y, 14.3))
