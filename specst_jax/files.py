"""Atomic file writes (host side): a temp file in the target folder, then ``os.replace``.

A reader never sees a half-written output, and a failed write leaves neither the output nor
the temp file behind. Parent folders are created.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
  """Yields a temp path beside ``path``; on success it becomes ``path``, on error it is removed."""
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
  os.close(fd)
  try:
    yield Path(tmp)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual mode
    os.replace(tmp, path)
  except BaseException:
    Path(tmp).unlink(missing_ok=True)
    raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
  """Writes ``data`` to ``path`` atomically; returns the path."""
  with atomic_path(path) as tmp:
    tmp.write_bytes(data)
  return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
  """Writes UTF-8 ``text`` to ``path`` atomically; returns the path."""
  return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any, *, indent: int = 2) -> Path:
  """Writes ``obj`` as JSON (with a final newline) atomically; returns the path."""
  return write_text(path, json.dumps(obj, indent=indent) + "\n")
