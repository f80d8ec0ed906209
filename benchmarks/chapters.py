"""Execute every chapter notebook, one after the other, and print each one's time beside a
reference workload timed in the same run, so that times from two machines compare.

    .venv/bin/python benchmarks/chapters.py                   # every chapter
    .venv/bin/python benchmarks/chapters.py clip llava        # some of them
    .venv/bin/python benchmarks/chapters.py --kernels second  # under the tests' second set

Budgets on a 2-core CPU: at most 60 s a chapter (90 s for the CLIP and LLaVA chapters,
which train models) and 5 minutes for the whole book, under the default kernels. A time
alone says as much about the machine as about the chapter; its ratio to the reference
workload, 100 training steps of the book's tiny CLIP on random batches (the package's own
forward and backward passes), says about the chapter only. The second kernel set, under
which the tests re-execute the chapters, is for correctness: its times are reported, not
budgeted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"
BUDGET = {"clip": 90.0, "llava": 90.0}
REFERENCE_STEPS = 100

REFERENCE = f"""
import time, torch
from minivlm.clip import CLIP, CLIPConfig, clip_loss
torch.manual_seed(0)
model = CLIP(CLIPConfig.tiny(vocab_size=48, context_length=16))
optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
images, ids = torch.rand(64, 3, 32, 32), torch.randint(1, 47, (64, 16))

def step():
    loss = clip_loss(model.encode_image(images), model.encode_text(ids), model.logit_scale.exp())
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()

for _ in range(10):
    step()  # warm-up
best = float("inf")
for _ in range(3):
    start = time.perf_counter()
    for _ in range({REFERENCE_STEPS}):
        step()
    best = min(best, time.perf_counter() - start)
print(best)
"""


def reference_seconds() -> float:
    """The reference workload, best of three, in a fresh process with this one's kernels."""
    done = subprocess.run(
        [sys.executable, "-c", REFERENCE], capture_output=True, text=True, check=True
    )
    return float(done.stdout.split()[-1])


def run_chapter(path: Path) -> float:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=900, resources={"metadata": {"path": str(CHAPTERS)}}).execute()
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter names (default: all)")
    parser.add_argument("--kernels", default="default", choices=["default", "second"])
    args = parser.parse_args(argv)

    from minivlm.recipes.spread import KERNEL_SETS, machine

    wanted = KERNEL_SETS[args.kernels]
    if any(os.environ.get(k) != v for k, v in wanted.items()):
        # the kernel set is read when torch starts: run again with it in the environment,
        # which the notebooks' kernels and the reference workload inherit
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **wanted})

    paths = [CHAPTERS / f"{n}.ipynb" for n in args.chapters] or sorted(CHAPTERS.glob("*.ipynb"))
    print(
        f"machine: {machine()}, {os.cpu_count()} CPUs; kernels: {args.kernels} "
        f"{' '.join(f'{k}={v}' for k, v in wanted.items())}".rstrip(),
        flush=True,
    )
    reference = reference_seconds()
    print(
        f"reference workload ({REFERENCE_STEPS} training steps of CLIPConfig.tiny, batch 64): "
        f"{reference:.2f} s",
        flush=True,
    )
    print(f"{'chapter':12} {'seconds':>8} {'budget':>7} {'x reference':>12}")
    total = 0.0
    for path in paths:
        seconds = run_chapter(path)
        total += seconds
        budget = BUDGET.get(path.stem, 60.0)
        print(
            f"{path.stem:12} {seconds:8.1f} {budget:7.0f} {seconds / reference:12.1f}", flush=True
        )
    print(f"{'total':12} {total:8.1f} {300.0:7.0f} {total / reference:12.1f}")
    after = reference_seconds()
    print(
        f"reference workload again, after the chapters: {after:.2f} s "
        f"(a change tells that the machine's speed changed during the run)"
    )


if __name__ == "__main__":
    main()
