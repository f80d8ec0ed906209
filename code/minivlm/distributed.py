"""Data parallelism on PyTorch's own engine: one global batch, split over N processes.

Every process (a rank) holds the whole model and computes on its shard of each global batch;
DistributedDataParallel (DDP) averages the gradients over the ranks during the backward
pass, so every rank takes the same optimiser step (Li et al., 2020). A recipe run by

    torchrun --standalone --nproc_per_node=N -m minivlm.recipes.clip --batch-size B

gives each rank B / N of every batch of B. The processes talk through NCCL when there are
GPUs (one per rank) and through gloo on the CPU; `spawn`, which a notebook cell or a test
uses, always takes gloo and the CPU. `torchrun --standalone` and `spawn` keep the processes
on this machine, on the loopback address. A plain `python -m ...` run is a world of one: no
process group, no DDP, the code of a single process.

Two things the gradient average does not do by itself, and where the book does them:
- a loss that is not a mean over independent examples, such as CLIP's, whose every row
  needs every column: `all_gather` below, used by `minivlm.clip.clip_loss(gather=True)`;
- a mean over tokens, whose count differs between shards: the LLaVA recipe divides each
  rank's sum by the global count over N instead of by its own count.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import socket
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ._checks import is_int


@dataclass(frozen=True)
class World:
    """This process's place in the run: its rank, how many ranks, its device."""

    rank: int = 0
    size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0, the one that writes files and draws the progress bar."""
        return self.rank == 0


def world() -> World:
    """The current world: the process group's rank and size once `setup` has run, else one
    process on the CPU. The device is the rank's GPU under NCCL, the CPU under gloo."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), _device(dist.get_backend()))


def _device(backend: str) -> torch.device:
    if backend == "nccl":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def launched_size() -> int:
    """The number of processes the launcher started (torchrun's WORLD_SIZE), 1 without one.
    Known before the process group exists, so that bad arguments fail before it is made."""
    return int(os.environ.get("WORLD_SIZE", 1))


def setup(backend: str | None = None) -> World:
    """Join the process group torchrun (or `spawn`) started. backend None: NCCL when GPUs
    are present, one per rank, else gloo on the CPU; "gloo": the CPU even where there are
    GPUs. Without a launcher, a world of one on the CPU, and no group."""
    if backend not in (None, "gloo", "nccl"):
        raise ValueError(f"backend must be None, 'gloo' or 'nccl', got {backend!r}")
    if dist.is_available() and dist.is_initialized():
        return world()
    if launched_size() == 1:
        return World()
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(_device("nccl"))
    else:
        # all the ranks on one machine: gloo talks over the loopback interface, not over the
        # one its host name resolves to (GLOO_SOCKET_IFNAME, set, wins)
        if os.environ.get("LOCAL_WORLD_SIZE") == os.environ.get("WORLD_SIZE"):
            loopback = [name for _, name in socket.if_nameindex() if name.startswith("lo")]
            if loopback:
                os.environ.setdefault("GLOO_SOCKET_IFNAME", loopback[0])
    dist.init_process_group(backend)
    return world()


def teardown() -> None:
    """Leave the process group, if there is one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def launched(global_batch: int) -> Iterator[World]:
    """This process's World in the run the launcher started (one process without one), for
    a global batch of this size: a batch that does not split over the processes fails here,
    on every rank, before they connect; the process group is left at the end."""
    shard(global_batch, World(size=launched_size()))
    ranks = setup()
    try:
        yield ranks
    finally:
        teardown()


def shard(global_batch: int, world: World) -> slice:
    """The rows of a global batch that this rank computes: the rank-th of N equal parts.

    Every rank draws the same global batch from the same seeded generator and keeps its own
    rows, so the union of the shards is the one-process batch, row for row.
    """
    if not is_int(global_batch, 1):
        raise ValueError(f"the global batch size must be a positive integer, got {global_batch!r}")
    if world.size > global_batch:
        raise ValueError(
            f"a global batch of {global_batch} cannot be split over {world.size} processes: "
            f"each process needs at least one example"
        )
    if global_batch % world.size:
        raise ValueError(
            f"the global batch size must be divisible by the number of processes, got a batch "
            f"of {global_batch} over {world.size} processes"
        )
    per_rank = global_batch // world.size
    return slice(world.rank * per_rank, (world.rank + 1) * per_rank)


class _AllGather(torch.autograd.Function):
    """all_gather with a backward pass. Forward: every rank's (B_local, ...) rows,
    concatenated in rank order. Backward: rank r's loss depends on every rank's rows, so the
    gradient of rank r's own rows is the sum over all ranks of their losses' gradients with
    respect to those rows: an all-reduce of the gathered gradient, then this rank's slice.
    (Under NCCL a reduce-scatter would move about half the bytes; gloo's is an all-reduce
    underneath, and the all-reduce works on both.)"""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        ctx.rows = slice(dist.get_rank() * len(x), (dist.get_rank() + 1) * len(x))
        return torch.cat(parts, dim=0)  # N x (B_local, ...) -> (B_global, ...)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()  # the all-reduce writes in place: into a copy
        dist.all_reduce(grad)  # sum over the ranks: (B_global, ...)
        return grad[ctx.rows]  # (B_global, ...) -> (B_local, ...)


def all_gather(x: torch.Tensor) -> torch.Tensor:
    """(B_local, ...) on each rank -> (B_global, ...) on every rank, rank 0's rows first, with
    gradients: the backward pass gives each rank the gradient, summed over all the ranks'
    losses, of the rows it contributed. What open_clip's gather_features does with
    gather_with_grad=True through torch.distributed.nn.functional.all_gather, which PyTorch
    2.13 deprecates for a private module; _AllGather needs neither, and the tests check it
    against PyTorch's."""
    return _AllGather.apply(x)


def all_gather_naive(x: torch.Tensor) -> torch.Tensor:
    """The gather that looks right and is not: the other ranks' rows arrive as constants, and
    only this rank's own rows (put back in their place) carry a gradient. A loss over local
    rows and all columns then misses every term where this rank's rows are another rank's
    columns."""
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.detach())
    parts[dist.get_rank()] = x
    return torch.cat(parts, dim=0)  # N x (B_local, ...) -> (B_global, ...)


def mean(value: torch.Tensor) -> torch.Tensor:
    """The mean of a scalar over the ranks (itself in a world of one), for logging a loss
    that every rank computed over its own shard."""
    if world().size == 1:
        return value
    value = value.detach().clone()
    dist.all_reduce(value)
    return value / dist.get_world_size()


def wrap(model: torch.nn.Module, world: World) -> torch.nn.Module:
    """The model as DDP sees it in a world of several, the model itself in a world of one.

    DDP broadcasts rank 0's weights at construction and, in every backward pass, averages
    the gradients of the parameters that required them at construction, in buckets that
    overlap with the rest of the backward pass. Its hooks are armed by its forward: the loss
    must be computed from what the wrapped module's forward returns, every one of those
    parameters must get a gradient in every step, and a model whose trainable parameters
    change must be wrapped again.
    """
    if world.size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [world.device.index] if world.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def spawn(fn: Callable, nprocs: int, *args, timeout: float = 300.0) -> list:
    """Run fn(world, *args) in nprocs new processes on this machine, joined by gloo over the
    loopback address, on the CPU even where there are GPUs, and return their results in
    rank order.

    What torchrun does for a command, for a function: it lets a test or a notebook cell start
    a distributed run and look at what each rank computed. fn must be importable (a function
    of a module, not of a notebook) and its result picklable.
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}")
    if not is_int(nprocs, 1):
        raise ValueError(f"nprocs must be a positive integer, got {nprocs!r}")
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    port = _free_port()
    processes = [
        context.Process(target=_run_rank, args=(fn, rank, nprocs, port, results, args))
        for rank in range(nprocs)
    ]
    for process in processes:
        process.start()
    try:
        got = dict(results.get(timeout=timeout) for _ in processes)
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    failed = {rank: blob for rank, blob in got.items() if isinstance(blob, str)}
    if failed:
        rank = min(failed)
        raise RuntimeError(f"rank {rank} of {nprocs} failed:\n{failed[rank]}")
    return [pickle.loads(got[rank]) for rank in range(nprocs)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_rank(fn, rank, nprocs, port, results, args) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(nprocs),
        LOCAL_WORLD_SIZE=str(nprocs),
    )
    # the ranks share this machine's cores: each takes its share, as torchrun's ranks do
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // nprocs))
    try:
        out = fn(setup("gloo"), *args)
        # plain pickle: the tensors travel by value, not as shared memory that dies with us
        results.put((rank, pickle.dumps(out)))
    except BaseException:
        results.put((rank, traceback.format_exc()))
    finally:
        teardown()
