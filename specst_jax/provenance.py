"""Where a result came from: the commit, the command, the machine and the data it read.

Every result and weights JSON carries :func:`record`'s dict, so a reader can tell which code
made a number, rerun the command from the repository root, and see whether the data was the
same (a SHA-256 over the files read, in sorted order).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def git_commit(where: str | Path | None = None) -> str | None:
  """``HEAD``'s hash of the repository at ``where`` (default: this file's), ``+dirty`` when
  tracked files differ from it; None outside a repository or without git."""
  cwd = Path(where) if where is not None else Path(__file__).resolve().parent
  try:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                          text=True, timeout=30, check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                           capture_output=True, text=True, timeout=30, check=True).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return None
  return head + ("+dirty" if dirty else "")


def relative_command(argv: list[str] | None = None) -> str:
  """``python -m MODULE ARGS`` (or ``COMMAND ARGS`` for an installed command such as
  ``specst-style``) with paths under the repository written relative to it."""
  argv = list(sys.argv if argv is None else argv)
  script = Path(argv[0]).resolve() if argv else None
  if script is not None and script.is_relative_to(REPOSITORY) and script.suffix == ".py":
    module = ".".join(script.relative_to(REPOSITORY).with_suffix("").parts)
    head = ["python", "-m", module]
  elif argv and Path(argv[0]).name.startswith("specst-"):  # a console script (setup.cfg)
    head = [Path(argv[0]).name]
  else:
    head = ["python", *argv[:1]]
  return " ".join(head + relative_args(argv[1:]))


def relative_args(args: list[str]) -> list[str]:
  """Command-line arguments with absolute paths under the repository's parent made relative
  to the repository (``--data=/x/shared/data`` -> ``--data=../shared/data``)."""
  return [_relative(a) for a in args]


def relative_path(path: str | os.PathLike) -> str:
  """``path`` as a result file records it: relative to the repository when it lies under the
  repository's parent (``specst_jax/weights/...``, ``../shared/data/...``), else as given."""
  return _relative(os.fspath(Path(path).absolute()))


def _relative(arg: str) -> str:
  key, sep, value = arg.partition("=")
  text = value if sep else arg
  if text.startswith("/") and Path(text).resolve().is_relative_to(REPOSITORY.parent):
    text = os.path.relpath(Path(text).resolve(), REPOSITORY)
  return f"{key}={text}" if sep else text


def machine() -> str:
  """``x86_64, 2 CPUs, AMD EPYC ...`` (the CPU model from /proc/cpuinfo where it exists)."""
  model = platform.processor() or ""
  try:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
      if line.startswith("model name"):
        model = line.partition(":")[2].strip()
        break
  except OSError:
    pass
  return f"{platform.machine()}, {os.cpu_count()} CPUs, {model}".rstrip(", ")


def data_hash(paths: Iterable[str | Path]) -> str | None:
  """SHA-256 over the files ``paths``, in sorted order: each file's name (without its folder)
  and then its bytes; None for no paths.

  Cached per process by each file's path, size and modification time: a second call over
  unchanged files (a training run exports its provenance at every better epoch) reads nothing.

  Raises:
    FileNotFoundError: a file is missing.
  """
  paths = sorted(Path(p) for p in paths)
  if not paths:
    return None
  return _hash_files(tuple((str(p), *_stamp(p)) for p in paths))


def _stamp(path: Path) -> tuple[int, int]:
  stat = path.stat()
  return stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=64)
def _hash_files(stamped: tuple[tuple[str, int, int], ...]) -> str:
  digest = hashlib.sha256()
  for name, _, _ in stamped:
    path = Path(name)
    digest.update(path.name.encode())
    with open(path, "rb") as f:
      for block in iter(lambda: f.read(1 << 20), b""):
        digest.update(block)
  return digest.hexdigest()


def record(*, data: Iterable[str | Path] = (), argv: list[str] | None = None) -> dict:
  """``{"commit", "command", "machine", "date", "data_sha256", "python", "jax"}``."""
  try:
    import jax
    jax_version = jax.__version__
  except ImportError:  # provenance of a process without jax
    jax_version = None
  return {"commit": git_commit(), "command": relative_command(argv), "machine": machine(),
          "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
          "data_sha256": data_hash(data), "python": platform.python_version(),
          "jax": jax_version}
