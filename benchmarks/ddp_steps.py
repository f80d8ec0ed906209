"""Training steps per second of the CLIP recipe on 1 and on N processes of this machine.

Each run trains CLIPRecipe.book() (global batch 128) for --steps steps in processes started
by minivlm.distributed.spawn, gloo over the loopback address, the machine's cores shared
out evenly among the ranks as torchrun shares them. What is timed is the call of train_clip
on each rank (the model's construction, then the loop), the slowest rank's; the start of
the processes and the import of PyTorch are not. Each run is repeated, and the median is
printed with the range. On one machine the ranks share its cores: the figures show what
the split, the gather and the gradient all-reduce cost, not a speed-up from more hardware.

    .venv/bin/python benchmarks/ddp_steps.py [--steps 100] [--processes 1 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from minivlm import distributed
from minivlm.recipes.clip import CLIPRecipe, train_clip


def timed_run(ranks: distributed.World, steps: int) -> float:
    recipe = dataclasses.replace(CLIPRecipe.book(), steps=steps)
    start = time.perf_counter()
    train_clip(recipe, progress=False, ranks=ranks)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for n in args.processes:
        rates = []
        for _ in range(args.repeats):
            seconds = max(distributed.spawn(timed_run, n, args.steps))  # the slowest rank
            rates.append(args.steps / seconds)
        print(
            f"N = {n}: {statistics.median(rates):.2f} steps/s "
            f"({min(rates):.2f} to {max(rates):.2f} over {args.repeats} runs), "
            f"global batch {CLIPRecipe.book().batch_size}"
        )


if __name__ == "__main__":
    main()
