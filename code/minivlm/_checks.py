"""Input checks shared by the package: each error says what was expected and what came."""

from __future__ import annotations

import torch


def check_tensor(
    t,
    name: str,
    dim: int | tuple[int, ...] | None = None,
    min_dim: int | None = None,
    last: int | None = None,
    shape_doc: str | None = None,
    floating: bool = True,
) -> None:
    """Raise TypeError/ValueError unless t is a (floating) tensor of the expected rank."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if floating and not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    doc = f" {shape_doc}" if shape_doc else ""
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else dim
        if t.dim() not in dims:
            want = " or ".join(str(d) for d in dims)
            raise ValueError(f"{name} must be {want}-D{doc}, got shape {tuple(t.shape)}")
    if min_dim is not None and t.dim() < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimensions{doc}, got shape {tuple(t.shape)}"
        )
    if last is not None and t.shape[-1] != last:
        raise ValueError(f"{name} must have last dimension {last}{doc}, got shape {tuple(t.shape)}")


def is_number(value) -> bool:
    """A real number: an int or a float, not a bool (which Python counts as an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value, minimum: int) -> bool:
    """An int (not a bool, which Python counts as one) of at least `minimum`."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def check_int(value, name: str, minimum: int = 1) -> None:
    if not is_int(value, minimum):
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value!r}")


def pair(value, name: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each at least `minimum`, as a pair."""
    items = (value, value) if isinstance(value, int) else value
    ok = (
        isinstance(items, (tuple, list))
        and len(items) == 2
        and all(is_int(v, minimum) for v in items)
    )
    if not ok:
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def check_heads(width: int, n_heads: int, name: str = "width") -> None:
    """Attention splits the width into n_heads equal heads."""
    if width % n_heads:
        raise ValueError(
            f"{name} must be divisible by n_heads, got {name}={width} and n_heads={n_heads}"
        )


def check_token_ids(t, name: str, vocab_size: int, ignore_index: int | None = None) -> None:
    """An integer (B, T) tensor of ids in [0, vocab_size), or ignore_index where given."""
    check_tensor(t, name, dim=2, shape_doc="(B, T)", floating=False)
    if t.is_floating_point() or t.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor of token ids, got dtype {t.dtype}")
    valid = (t >= 0) & (t < vocab_size)
    if ignore_index is not None:
        valid |= t == ignore_index
    if not bool(valid.all()):
        also = "" if ignore_index is None else f" or be {ignore_index}"
        raise ValueError(
            f"{name} must lie in [0, {vocab_size}){also}, got {t[~valid][:5].tolist()} "
            f"(its values span [{int(t.min())}, {int(t.max())}])"
        )
