"""Which process of a multi-host run owns which item: a stable hash of the item's id.

The share depends only on the id and the number of processes (not on the manifest's order,
the host, the Python hash seed or the time), so every host computes the same disjoint
partition without talking to the others, and a restarted run gives each host the same items.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def owner(item_id: str, num_processes: int) -> int:
  """The process (0 .. num_processes - 1) that owns ``item_id``: SHA-256 of the id, mod n."""
  if num_processes < 1:
    raise ValueError(f"num_processes must be >= 1, got {num_processes}")
  digest = hashlib.sha256(item_id.encode("utf-8")).digest()
  return int.from_bytes(digest[:8], "big") % num_processes


def share(items: Sequence[T], process_id: int, num_processes: int) -> list[T]:
  """The items (each with an ``id``) that process ``process_id`` runs, in their given order."""
  if not 0 <= process_id < num_processes:
    raise ValueError(f"process_id must lie in [0, {num_processes}), got {process_id}")
  return [it for it in items if owner(it.id, num_processes) == process_id]
