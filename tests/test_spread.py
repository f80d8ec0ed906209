"""The spread of the chapters' live results: shipped for every live experiment, measured
with the recipe the chapter runs, under both kernel sets, and reproduced by one command."""

import json

import pytest
import torch

from minivlm.recipes import spread

EXPERIMENTS = sorted(spread.EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_the_shipped_spread_is_of_the_current_recipe_and_complete(name):
    shipped = spread.load(name)  # raises when the recipe has changed since it was measured
    seeds = {run["seed"] for run in shipped.runs}
    kernels = {run["kernels"] for run in shipped.runs}
    planned_seeds, planned_kernels = spread.PLANS[name]
    assert seeds == set(planned_seeds) and kernels == set(planned_kernels)
    assert len(seeds) >= 3 and "default" in kernels
    pairs = {(run["seed"], run["kernels"]) for run in shipped.runs}
    assert len(pairs) == len(shipped.runs) == len(seeds) * len(kernels)
    figures = set(shipped.runs[0]["figures"])
    assert figures and all(set(run["figures"]) == figures for run in shipped.runs)
    assert all(isinstance(v, float) for run in shipped.runs for v in run["figures"].values())
    # the seeds are different draws: some figure moves between them
    assert any(len(set(shipped.values(f))) > 1 for f in figures)


def test_a_new_run_lands_inside_the_shipped_spread():
    """Seed 5, which the shipped spread does not hold, run as the command runs it."""
    run = spread.run_one("neighbours", seed=5, kernels="second")
    assert run["seed"] == 5 and run["kernels"] == "second" and run["seconds"] > 0
    shipped = spread.load("neighbours")
    lo, hi = shipped.range("one_head")
    assert lo - 0.05 <= run["figures"]["one_head"] <= hi + 0.05
    assert run["figures"]["two_heads"] >= shipped.range("two_heads")[0] - 0.02


def hand_made() -> spread.Spread:
    runs = [
        {"seed": s, "kernels": k, "seconds": 1.0, "figures": {"acc": a, "loss": 1.0}}
        for (s, k), a in zip(
            [(0, "default"), (1, "default"), (0, "second"), (1, "second")], [0.90, 0.94, 0.92, 0.96]
        )
    ]
    return spread.Spread("digits", "R()", runs)


def test_summaries_of_a_hand_made_spread():
    s = hand_made()
    assert s.values("acc") == [0.90, 0.94, 0.92, 0.96]
    assert s.range("acc") == (0.90, 0.96)
    assert s.mean("acc") == pytest.approx(0.93)
    assert s.describe() == "4 runs: seeds 0, 1 under the default and the second kernels"
    table = s.table({"test accuracy": "acc"}, this_run={"acc": 0.915}).splitlines()
    assert table[0].split() == ["this", "run", "smallest", "mean", "largest"]
    assert table[1].split() == ["test", "accuracy", "0.915", "0.900", "0.930", "0.960"]
    assert table[2] == "(4 runs: seeds 0, 1 under the default and the second kernels)"
    with pytest.raises(ValueError, match="figure must be one of \\['acc', 'loss'\\], got 'ac'"):
        s.range("ac")


def test_by_seed_counts_seeds_and_the_ones_the_kernels_decide():
    s = hand_made()  # acc: seed 0 -> 0.90, 0.92; seed 1 -> 0.94, 0.96
    assert s.seeds == [0, 1]
    assert s.by_seed(lambda f: f["acc"] > 0.91) == {"all": [1], "none": [], "some": [0]}
    assert s.by_seed(lambda f: f["acc"] > 0.5) == {"all": [0, 1], "none": [], "some": []}
    assert s.by_seed(lambda f: f["acc"] > 0.99) == {"all": [], "none": [0, 1], "some": []}
    with pytest.raises(TypeError, match="test must return a bool, got Tensor"):
        s.by_seed(lambda f: torch.tensor(f["acc"]) > 0.9)
    with pytest.raises(TypeError, match="test must be a function of a run's figures, got str"):
        s.by_seed("acc > 0.9")


def test_load_refuses_a_spread_measured_with_another_recipe(tmp_path, monkeypatch):
    monkeypatch.setattr(spread, "FOLDER", tmp_path)
    stale = hand_made()
    stale.recipe = "DigitsRecipe(steps=1, batch_size=64, lr=0.003, seed=0)"
    spread.save(stale)
    with pytest.raises(ValueError, match="python -m minivlm.recipes.spread digits"):
        spread.load("digits")
    current = hand_made()
    current.recipe = spread.recipe_of("digits")
    spread.save(current)
    assert spread.load("digits").runs == current.runs
    assert json.loads((tmp_path / "digits.json").read_text())["experiment"] == "digits"


def test_errors_name_what_was_expected():
    with pytest.raises(ValueError, match="experiment must be one of .*'llava'.*, got 'vit'"):
        spread.load("vit")
    with pytest.raises(
        ValueError, match="kernels must be one of \\['default', 'second'\\], got 'fast'"
    ):
        spread.run_one("digits", 0, kernels="fast")


def test_missing_spread_says_how_to_measure_it(tmp_path, monkeypatch):
    monkeypatch.setattr(spread, "FOLDER", tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m minivlm.recipes.spread clip"):
        spread.load("clip")
