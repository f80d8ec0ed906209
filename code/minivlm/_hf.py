"""Shared by the from_hf loaders: Hugging Face parameter names to the package's."""

from __future__ import annotations


def rename_key(key: str, renames: list[tuple[str, str]]) -> str:
    """Apply each (old, new) substring replacement in order; load_state_dict(strict) after
    the renaming then proves that no parameter was missed."""
    for old, new in renames:
        key = key.replace(old, new)
    return key
