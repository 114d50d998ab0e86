"""Output files (host side): checked locations, atomic files and atomic sets of files.

This is the project's only atomic writer. Three layers:

* :func:`check_output_dir` / :func:`check_output_file` run BEFORE any computation: they
  refuse (with :class:`OutputError`, one line naming the path and the problem) a location
  that cannot work: a folder that is a file or lies under a file, a file path that is a
  folder, a place that cannot be written, or one that would replace one of the run's inputs.
  They create nothing.
* :func:`atomic_path` (and :func:`write_bytes`, :func:`write_text`, :func:`write_json`)
  writes one file: a temp file beside it, then ``os.replace``. A reader never sees a
  half-written file; a failed write leaves neither the file nor the temp file.
* :func:`output_set` writes a whole run: the caller writes every file into a temporary
  folder; on success the files replace the run's files in the output folder as one set
  (a brand-new folder is renamed into place in one step; into an existing folder the files
  are moved after a commit record is written, and a run killed while moving is completed by
  the next run). On error nothing changes in the output folder. Temp folders and temp files
  left by killed runs (their process is gone) are cleaned by the next run.

Files get the usual modes (``0o666 & ~umask``, folders ``0o777 & ~umask``), never 0600.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

_SET_TAG = "specst-tmp."
_COMMIT = ".specst-commit.json"
_FILE_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")
_SET_TMP = re.compile(r"^\.(?:(?P<name>.+)\.)?specst-tmp\.(?P<pid>\d+)\.[A-Za-z0-9_]+$")


class OutputError(ValueError):
  """An output location that cannot be used; the message names the path and the problem."""


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


def _alive(pid: int) -> bool:
  if pid == os.getpid():
    return True
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except (PermissionError, OverflowError):
    return True
  return True


# ----------------------------------------------------------------------------
# Checks (create nothing)
# ----------------------------------------------------------------------------


def _same(a: Path, b: Path) -> bool:
  """True when ``a`` and ``b`` name the same file (hard/symbolic links included)."""
  try:
    if os.path.samefile(a, b):
      return True
  except OSError:
    pass
  return os.path.realpath(a) == os.path.realpath(b)


def _check_folder(folder: Path, what: Path) -> None:
  """Checks that ``folder`` is (or can be created as) a writable folder; ``what`` is named."""
  if os.path.lexists(folder) and not folder.exists():
    raise OutputError(f"{what}: {folder} is a broken or looping symbolic link")
  if folder.exists():
    if not folder.is_dir():
      if folder == what:
        raise OutputError(f"{what}: output folder is an existing file, not a folder")
      raise OutputError(f"{what}: cannot create the output folder: {folder} is a file")
    if not os.access(folder, os.W_OK | os.X_OK):
      raise OutputError(f"{what}: permission denied: cannot write into {folder}")
    _probe(folder, what, "cannot write into")
    return
  ancestor = folder.parent
  while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
    ancestor = ancestor.parent
  if os.path.lexists(ancestor) and not ancestor.exists():
    raise OutputError(f"{what}: {ancestor} is a broken or looping symbolic link")
  if not ancestor.is_dir():
    raise OutputError(f"{what}: cannot create the output folder: {ancestor} is a file")
  if not os.access(ancestor, os.W_OK | os.X_OK):
    raise OutputError(f"{what}: permission denied: cannot create folders in {ancestor}")
  _probe(ancestor, what, "cannot create folders in")


def _probe(folder: Path, what: Path, doing: str) -> None:
  """Creates and removes an empty hidden folder in ``folder``: the real test of writability
  (root passes os.access everywhere; read-only mounts and sysfs refuse only the real thing)."""
  try:
    os.rmdir(tempfile.mkdtemp(dir=folder, prefix=".specst-probe."))
  except OSError as e:
    reason = "permission denied" if e.errno in (errno.EACCES, errno.EPERM) else (
        e.strerror or str(e))
    raise OutputError(f"{what}: {reason}: {doing} {folder}") from None


def _check_not_input(path: Path, inputs: Iterable, what: Path | None = None) -> None:
  for item in inputs:
    if item is None or not os.path.lexists(item):
      continue
    if _same(path, Path(item)):
      raise OutputError(
          f"{what or path}: refusing to write over the input file {item}")


def check_output_dir(path, *, inputs: Iterable = (), names: Iterable[str] = ()) -> Path:
  """Checks an output folder before any computation; creates nothing.

  Args:
    path: the folder the run will write into (it may not exist yet).
    inputs: the run's input files; none of them may be the folder or one of ``names`` in it.
    names: the file names (relative paths) the run will write into the folder, if known.

  Returns:
    ``path`` as a Path.

  Raises:
    OutputError: the folder is a file or lies under a file, is a broken/looping
      link, cannot be created or written (permission denied), one of ``names``
      is taken by a folder, or an output would replace one of ``inputs``.
  """
  out = Path(path)
  if str(path) == "":
    raise OutputError("output folder: empty path")
  _check_folder(out, out)
  inputs = [i for i in inputs if i is not None]
  _check_not_input(out, inputs)
  for name in names:
    target = out / name
    if target.is_dir():
      raise OutputError(f"{target}: output name is taken by a folder")
    _check_not_input(target, inputs)
  return out


def check_output_file(path, *, inputs: Iterable = (), sidecars: Iterable = ()) -> Path:
  """Checks an output file path (and its sidecar files) before any computation.

  Args:
    path: the file the run will write.
    inputs: the run's input files; the output and sidecars may not be any of them.
    sidecars: other files written with it (e.g. ``OUT.json`` beside ``OUT.wav``).

  Returns:
    ``path`` as a Path.

  Raises:
    OutputError: the path (or a sidecar) is a folder or not a regular file, its
      folder cannot be created or written, or it would replace one of ``inputs``.
  """
  out = Path(path)
  if str(path) == "" or str(path).endswith(os.sep):
    raise OutputError(f"{path!r}: output file path names a folder, not a file")
  inputs = [i for i in inputs if i is not None]
  for target in (out, *map(Path, sidecars)):
    if target.is_dir():
      raise OutputError(f"{target}: output path is a folder, not a file")
    if target.exists() and not target.is_file():
      raise OutputError(f"{target}: output path exists and is not a regular file")
    _check_not_input(target, inputs)
    _check_folder(target.parent, target)
  return out


# ----------------------------------------------------------------------------
# One file
# ----------------------------------------------------------------------------


def _clean_stale_files(folder: Path, name: str) -> None:
  """Removes temp files of ``name`` in ``folder`` left by processes that are gone."""
  with contextlib.suppress(OSError):
    for entry in os.scandir(folder):
      m = _FILE_TMP.match(entry.name)
      if m and m["name"] == name and not _alive(int(m["pid"])):
        with contextlib.suppress(OSError):
          os.unlink(entry.path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
  """Yields a temp path beside ``path``; on success it becomes ``path``, on error it is removed.

  Parent folders are created. Temp files of ``path`` left by killed processes are removed.
  """
  path = Path(path)
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale_files(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".tmp")
  except OSError as e:
    raise OutputError(f"{path}: cannot write here ({e.strerror or e})") from None
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


# ----------------------------------------------------------------------------
# A set of files
# ----------------------------------------------------------------------------


def _set_files(tmp: Path) -> list[str]:
  """Relative paths of every file (not folder) under ``tmp``, the commit record excluded."""
  found = []
  for root, _, names in os.walk(tmp):
    for name in names:
      rel = os.path.relpath(os.path.join(root, name), tmp)
      if rel != _COMMIT:
        found.append(rel)
  return sorted(found)


def _move_set(tmp: Path, dest: Path, names: list[str]) -> None:
  """Moves ``names`` from ``tmp`` into ``dest`` (already checked), then removes ``tmp``."""
  for rel in names:
    source = tmp / rel
    if not os.path.lexists(source):  # moved before an interruption
      continue
    target = dest / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
  shutil.rmtree(tmp, ignore_errors=True)


def _finish_or_remove(tmp: Path) -> None:
  """A dead run's temp folder: completes its commit if it had begun, else removes it."""
  record = tmp / _COMMIT
  try:
    commit = json.loads(record.read_text())
  except (OSError, ValueError):
    shutil.rmtree(tmp, ignore_errors=True)
    return
  with contextlib.suppress(OSError):
    _move_set(tmp, Path(commit["dest"]), list(commit["files"]))
  shutil.rmtree(tmp, ignore_errors=True)


def clean_stale(output_dir) -> None:
  """Finishes or removes temp folders (and temp files) of ``output_dir`` from killed runs.

  A temp folder whose process is gone is completed when its commit had begun (so the
  folder holds one whole set) and removed otherwise. Runs still alive are left alone.
  """
  out = Path(output_dir)
  places = [(out.parent, out.name)]
  if out.is_dir():
    places.append((out, ""))
  for folder, name in places:
    with contextlib.suppress(OSError):
      for entry in os.scandir(folder):
        m = _SET_TMP.match(entry.name)
        if m and (m["name"] or "") == name and not _alive(int(m["pid"])):
          _finish_or_remove(Path(entry.path))
        elif not name:
          m = _FILE_TMP.match(entry.name)
          if m and not _alive(int(m["pid"])):
            with contextlib.suppress(OSError):
              os.unlink(entry.path)


def _makedirs(folder: Path) -> list[Path]:
  """``mkdir -p folder``; returns the folders it created, outermost first."""
  missing = []
  while not folder.exists():
    missing.append(folder)
    folder = folder.parent
  created = []
  for path in reversed(missing):
    try:
      path.mkdir()
      created.append(path)
    except FileExistsError:
      pass
  return created


def _check_commit(tmp: Path, dest: Path, names: list[str], inputs: list) -> None:
  for rel in names:
    target = dest / rel
    if target.is_dir() and not (tmp / rel).is_dir():
      raise OutputError(f"{target}: output name is taken by a folder")
    for parent in list(target.parents)[: len(Path(rel).parts) - 1]:
      if parent.exists() and not parent.is_dir():
        raise OutputError(f"{target}: cannot write: {parent} is a file")
    _check_not_input(target, inputs)


class _TermAsExit:
  """While active (main thread only), SIGTERM raises SystemExit so the temp folder is removed."""

  def __enter__(self):
    self.previous = None
    if threading.current_thread() is threading.main_thread():
      with contextlib.suppress(ValueError, OSError):
        self.previous = signal.signal(signal.SIGTERM, self._handler)
    return self

  @staticmethod
  def _handler(signum, frame):
    raise SystemExit(128 + signum)

  def __exit__(self, *exc):
    if self.previous is not None:
      with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGTERM, self.previous)
    return False


@contextlib.contextmanager
def output_set(output_dir, *, inputs: Iterable = ()) -> Iterator[Path]:
  """Writes one run's files as a set: yields a temp folder to write them ALL into.

  Enter it only after the inputs are checked (the output folder is created here, not
  before). On success the files written into the temp folder replace the same-named files
  in ``output_dir`` as one set; files of ``output_dir`` the run did not write are kept. A
  new ``output_dir`` appears in one rename. On any error (or SIGTERM) nothing in
  ``output_dir`` changes, the temp folder and any folders created for it are removed, and
  the error propagates. After SIGKILL the next run cleans up (see :func:`clean_stale`).

  Args:
    output_dir: the run's output folder (it may not exist yet).
    inputs: the run's input files: no output may replace one (OutputError, nothing written).

  Yields:
    The temp folder (a hidden folder inside ``output_dir``, or beside it when
    ``output_dir`` does not exist yet), on the same filesystem.
  """
  inputs = [i for i in inputs if i is not None]
  out = check_output_dir(output_dir, inputs=inputs)
  clean_stale(out)
  fresh = not out.exists()
  created = []
  try:
    created = _makedirs(out.parent) if fresh else []
    if fresh:
      tmp = Path(tempfile.mkdtemp(dir=out.parent,
                                  prefix=f".{out.name}.{_SET_TAG}{os.getpid()}."))
    else:
      tmp = Path(tempfile.mkdtemp(dir=out, prefix=f".{_SET_TAG}{os.getpid()}."))
  except OSError as e:
    for folder in reversed(created):
      with contextlib.suppress(OSError):
        folder.rmdir()
    raise OutputError(f"{out}: cannot write the output folder ({e.strerror or e})") from None
  try:
    with _TermAsExit():
      yield tmp
      os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 folders
      names = _set_files(tmp)
      if fresh and not os.path.lexists(out):
        for rel in names:
          _check_not_input(out / rel, inputs)
        os.rename(tmp, out)
        return
      _check_commit(tmp, out, names, inputs)
      write_json(tmp / _COMMIT, {"dest": os.path.abspath(out), "files": names})
      _move_set(tmp, out, names)
  except BaseException:
    if (tmp / _COMMIT).exists():  # the set is half moved: the next run completes it
      raise
    shutil.rmtree(tmp, ignore_errors=True)
    for folder in reversed(created):
      with contextlib.suppress(OSError):
        folder.rmdir()
    raise
