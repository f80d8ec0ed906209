"""Training loops: a fixed number of steps, AdamW, linear warm-up then cosine decay.

A fixed number of steps, never a wall-clock budget, so that the same seed gives the same
model on any machine. In a notebook the progress bar is one output line updated in place
(live in Jupyter and Colab; an executed notebook, and so the built book, keeps its final
state); elsewhere it is tqdm's usual bar on stdout.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from tqdm.std import tqdm

from . import distributed
from ._checks import check_int


class _OutputLine:
    """A file for tqdm that shows each write as one notebook output, updated in place."""

    def __init__(self):
        from IPython.display import Pretty, display

        self._pretty = Pretty
        self._handle = display(Pretty(""), display_id=True)

    def write(self, text: str) -> None:
        text = text.strip("\r\n")  # tqdm redraws with "\r"; the display replaces instead
        if text:
            self._handle.update(self._pretty(text))

    def flush(self) -> None:
        pass


def _progress_file():
    try:
        from IPython import get_ipython
    except ImportError:
        return sys.stdout
    shell = get_ipython()
    return _OutputLine() if shell is not None and hasattr(shell, "kernel") else sys.stdout


def lr_at(step: int, steps: int, lr: float, warmup: int = 0) -> float:
    """Learning rate of step `step` (0-based): linear warm-up over `warmup` steps from lr /
    warmup, then a cosine decay from lr to 0 over the remaining steps."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass
class History:
    """What a run recorded: the loss and learning rate of every step."""

    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)

    def smoothed(self, window: int = 25) -> list[float]:
        """Running mean of the loss over the last `window` steps, for plots."""
        out, total = [], 0.0
        for i, value in enumerate(self.loss):
            total += value - (self.loss[i - window] if i >= window else 0.0)
            out.append(total / min(i + 1, window))
        return out


def fit(
    params: Iterable[torch.nn.Parameter],
    loss_fn: Callable[[int], torch.Tensor],
    steps: int,
    lr: float,
    warmup: int = 0,
    weight_decay: float = 0.0,
    after_step: Callable[[], None] | None = None,
    desc: str = "training",
    progress: bool = True,
) -> History:
    """Minimise loss_fn(step) for `steps` AdamW steps and return the History.

    loss_fn draws its own batch for the step (from a seeded generator, so that runs
    repeat); after_step runs after every optimiser step (CLIP clamps its temperature there).
    In a run of several processes (minivlm.distributed), the History holds the mean of the
    ranks' losses, and only rank 0 draws the progress bar.
    """
    check_int(steps, "steps")
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("fit needs at least one parameter with requires_grad=True, got none")
    # fused: one kernel for the update of every parameter; the small models here spend a
    # tenth of a step in the optimiser otherwise
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    history = History()
    progress = progress and distributed.world().is_main
    bar = tqdm(
        range(steps),
        desc=desc,
        file=_progress_file() if progress else sys.stdout,
        disable=not progress,
        mininterval=1.0,
        ncols=88,
        ascii=" =",
    )
    for step in bar:
        rate = lr_at(step, steps, lr, warmup)
        for group in optimiser.param_groups:
            group["lr"] = rate
        loss = loss_fn(step)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if after_step is not None:
            after_step()
        history.loss.append(distributed.mean(loss).item())
        history.lr.append(rate)
        if step % 50 == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{history.smoothed()[-1]:.3f}", refresh=False)
    bar.close()
    return history
