"""How far a live result moves: the book's live experiments over seeds and kernel sets.

A chapter that trains a model while its page is built shows one run, one draw. Another seed
lands elsewhere, and so does the same seed on another processor, whose kernels round
differently: a float sum depends on its order, and training carries the last bits forward.
This module runs each live experiment for several seeds, each run in a process of its own,
under the default kernels and under a second set, and ships the figures with the package
(`minivlm/spreads/<experiment>.json`). The chapters show their own run beside that spread,
and the prose interprets the spread, not the draw. To measure it again (each run of an
experiment takes as long as the chapter's training: `clip` about a minute, `llava` and
`llava_merge` two, `llava_ablations` four):

    python -m minivlm.recipes.spread clip              # its PLANS: seeds 0-4, both kernel sets
    python -m minivlm.recipes.spread all --seeds 0 1 2

The second kernel set is the one under which the book's tests re-execute the chapters.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

FOLDER = Path(__file__).resolve().parents[1] / "spreads"

# The kernels a process computes with, set by environment variables before torch starts.
# The second set differs from the default kernels on any x86 processor: ATen's portable
# (unvectorised) kernels instead of its AVX2 or AVX-512 ones, MKL's AVX code path for the
# matrix products, oneDNN's AVX code for the convolutions. Each changes the last bits of
# results, not their meaning: a claim that holds under one set and not the other is a claim
# about rounding.
KERNEL_SETS: dict[str, dict[str, str]] = {
    "default": {},
    "second": {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "AVX", "ONEDNN_MAX_CPU_ISA": "AVX"},
}

# experiment -> (the function that returns its figures for a seed, the recipe it runs)
EXPERIMENTS: dict[str, tuple[str, str]] = {
    "neighbours": (
        "minivlm.recipes.neighbours:figures",
        "minivlm.recipes.neighbours:NeighboursRecipe",
    ),
    "digits": ("minivlm.recipes.digits:figures", "minivlm.recipes.digits:DigitsRecipe"),
    "charlm": ("minivlm.recipes.charlm:figures", "minivlm.recipes.charlm:CharLMRecipe"),
    "clip": ("minivlm.recipes.clip:chapter_figures", "minivlm.recipes.clip:CLIPRecipe.chapter"),
    "llava": ("minivlm.recipes.llava:chapter_figures", "minivlm.recipes.llava:LLaVARecipe.chapter"),
    # two models a run (the image first; no stage 1), each as long as the chapter's recipe
    "llava_ablations": (
        "minivlm.recipes.llava:ablation_figures",
        "minivlm.recipes.llava:LLaVARecipe.chapter",
    ),
    "llava_merge": ("minivlm.recipes.llava:merge_figures", "minivlm.recipes.llava:merge_recipe"),
}

# The seeds and kernel sets an experiment is measured with: five seeds under both sets, but
# the LLaVA ablations (two models a run) and the merging projector on three seeds under the
# default kernels only, to bound their cost; the chapters compare them with the runs of the
# chapter's recipe on the same seeds and kernels, seed by seed
PLANS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    name: (tuple(range(5)), tuple(KERNEL_SETS)) for name in EXPERIMENTS
}
PLANS["llava_ablations"] = ((0, 1, 2), ("default",))
PLANS["llava_merge"] = ((0, 1, 2), ("default",))


def _resolve(path: str):
    module, _, name = path.partition(":")
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def recipe_of(experiment: str) -> str:
    """The repr of the recipe an experiment runs (seed 0): the spread is stale when it changes."""
    _check_experiment(experiment)
    make = _resolve(EXPERIMENTS[experiment][1])
    return repr(make())


def _check_experiment(experiment: str) -> None:
    if experiment not in EXPERIMENTS:
        raise ValueError(f"experiment must be one of {sorted(EXPERIMENTS)}, got {experiment!r}")


def machine() -> str:
    """The processor and its vector extensions, as far as Linux tells."""
    model, flags = platform.processor() or platform.machine(), ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("", platform.machine(), "x86_64"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                have = set(line.split(":", 1)[1].split())
                flags = " ".join(f for f in ("avx", "avx2", "fma", "avx512f") if f in have)
    except OSError:
        pass
    return f"{model} ({flags})" if flags else model


@dataclass
class Spread:
    """The figures of an experiment's runs: one per seed and kernel set."""

    experiment: str
    recipe: str
    runs: list[dict] = field(default_factory=list)  # {"seed", "kernels", "seconds", "figures"}
    machine: str = ""
    torch: str = ""

    def values(self, figure: str) -> list[float]:
        """The figure in every run."""
        if not self.runs or figure not in self.runs[0]["figures"]:
            known = sorted(self.runs[0]["figures"]) if self.runs else []
            raise ValueError(f"figure must be one of {known}, got {figure!r}")
        return [run["figures"][figure] for run in self.runs]

    def range(self, figure: str) -> tuple[float, float]:
        """(smallest, largest) over the runs."""
        values = self.values(figure)
        return min(values), max(values)

    def mean(self, figure: str) -> float:
        values = self.values(figure)
        return sum(values) / len(values)

    def by_seed(self, test) -> dict[str, list[int]]:
        """The seeds on which `test(figures) -> bool` holds under every kernel set ("all"),
        under none ("none"), or under some only ("some"). Count seeds, not runs: the kernel
        sets of one seed are two roundings of one draw, not two draws."""
        if not callable(test):
            raise TypeError(
                f"test must be a function of a run's figures, got {type(test).__name__}"
            )
        held: dict[int, set[bool]] = {}
        for run in self.runs:
            outcome = test(run["figures"])
            if not isinstance(outcome, bool):
                raise TypeError(f"test must return a bool, got {type(outcome).__name__}")
            held.setdefault(run["seed"], set()).add(outcome)
        groups = {"all": [], "none": [], "some": []}
        for seed, outcomes in sorted(held.items()):
            groups["some" if len(outcomes) == 2 else "all" if True in outcomes else "none"].append(
                seed
            )
        return groups

    @property
    def seeds(self) -> list[int]:
        return sorted({run["seed"] for run in self.runs})

    def describe(self) -> str:
        seeds = self.seeds
        kernels = sorted({run["kernels"] for run in self.runs})
        return (
            f"{len(self.runs)} runs: seeds {', '.join(map(str, seeds))} under the "
            f"{' and the '.join(kernels)} kernels"
        )

    def table(
        self, rows: dict[str, str], this_run: dict[str, float] | None = None, digits: int = 3
    ) -> str:
        """A text table: for each label -> figure, this run (when given) beside the smallest,
        mean and largest value over the runs."""
        width = max(len(label) for label in rows) + 2
        head = f"{'':{width}}" + (f"{'this run':>10}" if this_run is not None else "")
        head += f"{'smallest':>10}{'mean':>10}{'largest':>10}"
        lines = [head]
        for label, figure in rows.items():
            lo, hi = self.range(figure)
            line = f"{label:{width}}"
            if this_run is not None:
                line += f"{this_run[figure]:>10.{digits}f}"
            line += f"{lo:>10.{digits}f}{self.mean(figure):>10.{digits}f}{hi:>10.{digits}f}"
            lines.append(line)
        return "\n".join(lines + [f"({self.describe()})"])


def path(experiment: str) -> Path:
    return FOLDER / f"{experiment}.json"


def load(experiment: str) -> Spread:
    """The shipped spread of an experiment."""
    _check_experiment(experiment)
    if not path(experiment).exists():
        raise FileNotFoundError(
            f"{path(experiment)} is missing: run `python -m minivlm.recipes.spread {experiment}`"
        )
    spread = Spread(**json.loads(path(experiment).read_text()))
    if spread.recipe != recipe_of(experiment):
        raise ValueError(
            f"{path(experiment)} was measured with {spread.recipe}, but the experiment now runs "
            f"{recipe_of(experiment)}: run `python -m minivlm.recipes.spread {experiment}`"
        )
    return spread


def run_one(experiment: str, seed: int, kernels: str = "default") -> dict:
    """One run, in a fresh process with the kernel set's variables: {seed, kernels, seconds,
    figures}."""
    _check_experiment(experiment)
    if kernels not in KERNEL_SETS:
        raise ValueError(f"kernels must be one of {sorted(KERNEL_SETS)}, got {kernels!r}")
    env = {**os.environ, **KERNEL_SETS[kernels]}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "minivlm.recipes.spread", "--figures", experiment, str(seed)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"{experiment}, seed {seed}, {kernels} kernels failed:\n{done.stderr}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "seed": seed,
        "kernels": kernels,
        "seconds": round(time.perf_counter() - start, 1),
        "figures": figures,
    }


def measure(experiment: str, seeds=None, kernels=None, log=print) -> Spread:
    """Run the experiment for every seed under every kernel set, one process each (by
    default its PLANS)."""
    _check_experiment(experiment)
    seeds = PLANS[experiment][0] if seeds is None else seeds
    kernels = PLANS[experiment][1] if kernels is None else kernels
    spread = Spread(experiment, recipe_of(experiment), machine=machine(), torch=torch.__version__)
    for k in kernels:
        for seed in seeds:
            spread.runs.append(run_one(experiment, seed, k))
            log(f"{experiment} seed {seed} {k}: {spread.runs[-1]['seconds']} s")
    return spread


def save(spread: Spread) -> Path:
    FOLDER.mkdir(exist_ok=True)
    path(spread.experiment).write_text(json.dumps(asdict(spread), indent=1) + "\n")
    return path(spread.experiment)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", nargs="?", choices=sorted(EXPERIMENTS) + ["all"])
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=None, help="default: the experiment's PLANS"
    )
    parser.add_argument("--kernels", nargs="+", default=None, choices=list(KERNEL_SETS))
    parser.add_argument(
        "--figures",
        nargs=2,
        metavar=("EXPERIMENT", "SEED"),
        help="print one run's figures as JSON, in this process",
    )
    args = parser.parse_args(argv)
    if args.figures:
        name, seed = args.figures
        _check_experiment(name)
        figures = _resolve(EXPERIMENTS[name][0])(int(seed))
        print(json.dumps({k: float(v) for k, v in figures.items()}))
        return
    if args.experiment is None:
        parser.error("name an experiment, or all")
    names = sorted(EXPERIMENTS) if args.experiment == "all" else [args.experiment]
    for name in names:
        print(f"saved {save(measure(name, args.seeds, args.kernels))}")


if __name__ == "__main__":
    main()
