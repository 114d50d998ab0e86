"""Atomic writes: content, modes, and nothing left behind on failure."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from specst_jax import files


def test_writes_and_creates_parents(tmp_path):
  path = files.write_json(tmp_path / "a" / "b" / "m.json", {"x": 1})
  assert json.loads(path.read_text()) == {"x": 1}
  assert path.read_text().endswith("\n")
  assert files.write_text(tmp_path / "t.txt", "hé").read_text(encoding="utf-8") == "hé"
  mask = os.umask(0)
  os.umask(mask)
  assert (path.stat().st_mode & 0o777) == (0o666 & ~mask)


def test_failure_leaves_nothing(tmp_path):
  target = tmp_path / "out.bin"
  with pytest.raises(RuntimeError):
    with files.atomic_path(target) as tmp:
      tmp.write_bytes(b"half")
      raise RuntimeError("writer failed")
  assert list(tmp_path.iterdir()) == []


def test_failure_keeps_previous_file(tmp_path):
  target = files.write_bytes(tmp_path / "out.bin", b"old")
  with pytest.raises(TypeError):
    files.write_json(target, {"not serialisable": object()})
  assert target.read_bytes() == b"old"
  assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


# ----------------------------------------------------------------------------
# Output checks (before computing; they create nothing)
# ----------------------------------------------------------------------------


def _tree(root):
  return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _dead_pid():
  child = subprocess.Popen([sys.executable, "-c", "pass"])
  child.wait()
  return child.pid


@pytest.mark.parametrize(
    "setup,target,fragment",
    [
        (lambda d: (d / "f").write_text("x"), "f", "is an existing file"),
        (lambda d: (d / "f").write_text("x"), "f/sub/out", "f is a file"),
        (lambda d: os.symlink(d / "missing", d / "broken"), "broken", "broken or looping"),
        (lambda d: os.symlink(d / "loop", d / "loop"), "loop/out", "broken or looping"),
    ],
)
def test_check_output_dir_refuses(tmp_path, setup, target, fragment):
  setup(tmp_path)
  before = _tree(tmp_path)
  with pytest.raises(files.OutputError, match=fragment) as info:
    files.check_output_dir(tmp_path / target)
  assert str(tmp_path) in str(info.value)
  assert _tree(tmp_path) == before


def test_check_output_dir_names_and_inputs(tmp_path):
  (tmp_path / "out" / "result.wav").mkdir(parents=True)
  with pytest.raises(files.OutputError, match="taken by a folder"):
    files.check_output_dir(tmp_path / "out", names=["result.wav"])
  (tmp_path / "out" / "in.wav").write_bytes(b"audio")
  with pytest.raises(files.OutputError, match="refusing to write over the input"):
    files.check_output_dir(tmp_path / "out", inputs=[tmp_path / "out" / "in.wav"],
                           names=["in.wav"])
  assert files.check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
  assert not (tmp_path / "new").exists()


def test_check_output_not_writable(tmp_path, monkeypatch):
  real_access = os.access
  monkeypatch.setattr(files.os, "access",
                      lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode))
  with pytest.raises(files.OutputError, match="permission denied"):
    files.check_output_dir(tmp_path)
  with pytest.raises(files.OutputError, match="permission denied"):
    files.check_output_dir(tmp_path / "a" / "b")
  with pytest.raises(files.OutputError, match="permission denied"):
    files.check_output_file(tmp_path / "x.wav")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_check_output_read_only_folder(tmp_path):
  folder = tmp_path / "ro"
  folder.mkdir()
  folder.chmod(0o500)
  try:
    with pytest.raises(files.OutputError, match="permission denied"):
      files.check_output_dir(folder / "out")
  finally:
    folder.chmod(0o700)


def test_check_output_file(tmp_path):
  (tmp_path / "d").mkdir()
  (tmp_path / "f").write_text("x")
  source = tmp_path / "in.flac"
  source.write_bytes(b"audio")
  os.symlink(source, tmp_path / "link.flac")
  os.link(source, tmp_path / "hard.flac")
  os.mkfifo(tmp_path / "fifo.wav")
  cases = [
      (tmp_path / "d", {}, "is a folder"),
      (tmp_path / "f" / "x.wav", {}, "f is a file"),
      (source, {"inputs": [source]}, "refusing to write over the input"),
      (tmp_path / "link.flac", {"inputs": [source]}, "refusing to write over the input"),
      (tmp_path / "hard.flac", {"inputs": [source]}, "refusing to write over the input"),
      (tmp_path / "in.wav", {"inputs": [tmp_path / "in.json"],
                             "sidecars": [tmp_path / "in.json"]}, "in.json"),
      (tmp_path / "ok.wav", {"sidecars": [tmp_path / "d"]}, "is a folder"),
      (tmp_path / "fifo.wav", {}, "not a regular file"),
  ]
  (tmp_path / "in.json").write_text("{}")
  before = _tree(tmp_path)
  for path, kwargs, fragment in cases:
    with pytest.raises(files.OutputError, match=fragment):
      files.check_output_file(path, **kwargs)
  assert files.check_output_file(tmp_path / "new" / "x.wav", inputs=[source]).name == "x.wav"
  assert _tree(tmp_path) == before


# ----------------------------------------------------------------------------
# Output sets
# ----------------------------------------------------------------------------


def test_output_set_new_folder(tmp_path):
  out = tmp_path / "a" / "run"
  with files.output_set(out) as tmp:
    assert tmp.parent == out.parent and not out.exists()
    files.write_json(tmp / "m.json", {"x": 1})
    (tmp / "sub").mkdir()
    (tmp / "sub" / "w.bin").write_bytes(b"w")
  assert _tree(tmp_path) == ["a", "a/run", "a/run/m.json", "a/run/sub", "a/run/sub/w.bin"]
  mask = os.umask(0)
  os.umask(mask)
  assert (out.stat().st_mode & 0o777) == (0o777 & ~mask)
  assert ((out / "m.json").stat().st_mode & 0o777) == (0o666 & ~mask)


def test_output_set_replaces_run_files_and_keeps_others(tmp_path):
  files.write_text(tmp_path / "result.wav", "old")
  files.write_text(tmp_path / "metrics.json", "old")
  files.write_text(tmp_path / "notes.txt", "mine")
  with files.output_set(tmp_path) as tmp:
    assert tmp.parent == tmp_path
    files.write_text(tmp / "result.wav", "new")
    files.write_text(tmp / "metrics.json", "new")
  assert _tree(tmp_path) == ["metrics.json", "notes.txt", "result.wav"]
  assert [(tmp_path / n).read_text() for n in _tree(tmp_path)] == ["new", "mine", "new"]


def test_output_set_error_changes_nothing(tmp_path):
  files.write_text(tmp_path / "run" / "result.wav", "old")
  files.write_text(tmp_path / "run" / "metrics.json", "old")
  before = _tree(tmp_path)
  with pytest.raises(RuntimeError, match="midway"):
    with files.output_set(tmp_path / "run") as tmp:
      files.write_text(tmp / "result.wav", "new")
      raise RuntimeError("failed midway")
  assert _tree(tmp_path) == before
  assert (tmp_path / "run" / "result.wav").read_text() == "old"
  # A new folder (and the parents made for it) vanish too.
  with pytest.raises(RuntimeError):
    with files.output_set(tmp_path / "x" / "y" / "run") as tmp:
      files.write_text(tmp / "a.txt", "a")
      raise RuntimeError("failed")
  assert _tree(tmp_path) == before


def test_output_set_refuses_to_replace_an_input(tmp_path):
  source = files.write_text(tmp_path / "in.wav", "input")
  with pytest.raises(files.OutputError, match="refusing to write over the input"):
    with files.output_set(tmp_path, inputs=[source]) as tmp:
      files.write_text(tmp / "in.wav", "output")
      files.write_text(tmp / "in.json", "{}")
  assert _tree(tmp_path) == ["in.wav"] and source.read_text() == "input"


def test_output_set_output_name_taken_by_folder(tmp_path):
  (tmp_path / "m.json").mkdir()
  with pytest.raises(files.OutputError, match="taken by a folder"):
    with files.output_set(tmp_path) as tmp:
      files.write_text(tmp / "a.txt", "a")
      files.write_text(tmp / "m.json", "{}")
  assert _tree(tmp_path) == ["m.json"]


def test_stale_temp_folders_and_files_are_cleaned(tmp_path):
  pid = _dead_pid()
  files.write_text(tmp_path / "run" / "a.txt", "old")
  files.write_text(tmp_path / "run" / "b.txt", "old")
  # A killed run that had not begun its commit: removed.
  files.write_text(tmp_path / "run" / f".specst-tmp.{pid}.abc123" / "a.txt", "half")
  # A killed run that had begun its commit (a.txt moved, b.txt not yet): completed.
  done = tmp_path / "run" / f".specst-tmp.{pid}.def456"
  files.write_text(done / "b.txt", "committed")
  files.write_json(done / ".specst-commit.json",
                   {"dest": str(tmp_path / "run"), "files": ["a.txt", "b.txt"]})
  # Temp files of killed atomic writes, and a sibling temp folder of a killed fresh run.
  files.write_text(tmp_path / "run" / f".a.txt.{pid}.x1y2z3.tmp", "")
  files.write_text(tmp_path / f".run.specst-tmp.{pid}.zz9" / "a.txt", "half")
  # A live run's temp folder is left alone.
  live = tmp_path / "run" / f".specst-tmp.{os.getpid()}.live"
  files.write_text(live / "a.txt", "busy")
  files.clean_stale(tmp_path / "run")
  assert _tree(tmp_path) == ["run", f"run/{live.name}", f"run/{live.name}/a.txt",
                             "run/a.txt", "run/b.txt"]
  assert (tmp_path / "run" / "b.txt").read_text() == "committed"
  assert (tmp_path / "run" / "a.txt").read_text() == "old"


_WRITER = """
import sys, time
from specst_jax import files
with files.output_set(sys.argv[1]) as tmp:
  for name in ("a.txt", "b.txt", "c.txt"):
    files.write_text(tmp / name, sys.argv[2])
    time.sleep(float(sys.argv[3]))
"""


def test_sigkill_during_write_then_rerun(tmp_path):
  out = tmp_path / "run"
  subprocess.run([sys.executable, "-c", _WRITER, str(out), "first", "0"], check=True,
                 timeout=60)
  child = subprocess.Popen([sys.executable, "-c", _WRITER, str(out), "second", "30"])
  try:
    deadline = time.monotonic() + 60
    while not list(out.glob(".specst-tmp.*/a.txt")):
      assert time.monotonic() < deadline and child.poll() is None
      time.sleep(0.02)
  finally:
    child.kill()
    child.wait()
  # Killed mid-write: the previous set is intact (the temp folder is left for the next run).
  assert [(out / n).read_text() for n in ("a.txt", "b.txt", "c.txt")] == ["first"] * 3
  subprocess.run([sys.executable, "-c", _WRITER, str(out), "third", "0"], check=True,
                 timeout=60)
  assert _tree(out) == ["a.txt", "b.txt", "c.txt"]
  assert [(out / n).read_text() for n in ("a.txt", "b.txt", "c.txt")] == ["third"] * 3


def test_sigterm_removes_the_temp_folder(tmp_path):
  out = tmp_path / "run"
  child = subprocess.Popen([sys.executable, "-c", _WRITER, str(out), "x", "30"])
  try:
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".run.specst-tmp.*/a.txt")):
      assert time.monotonic() < deadline and child.poll() is None
      time.sleep(0.02)
    child.terminate()
    assert child.wait(timeout=30) == 128 + signal.SIGTERM
  finally:
    child.kill()
    child.wait()
  assert _tree(tmp_path) == []
