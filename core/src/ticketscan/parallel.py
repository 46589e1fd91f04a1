"""Sharing documents out to forked worker processes, balanced by size.

Used by the decoding step and by scanners that parallelise over documents themselves
(fastscan). Workers are forked, so what they need (a compiled engine, say) is inherited.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

__all__ = ["balanced_shards", "file_size"]

T = TypeVar("T")


def file_size(path: Path) -> int:
    """Size of ``path`` in bytes, 0 if it cannot be read."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def balanced_shards(items: Sequence[T], sizes: Sequence[int], count: int) -> list[list[T]]:
    """Up to ``count`` non-empty shards of ``items``, largest first into the lightest shard."""
    shards: list[list[T]] = [[] for _ in range(count)]
    load = [0] * count
    for item, size in sorted(zip(items, sizes, strict=True), key=lambda pair: -pair[1]):
        k = load.index(min(load))
        shards[k].append(item)
        load[k] += size
    return [shard for shard in shards if shard]
