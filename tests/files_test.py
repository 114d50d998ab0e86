"""Atomic writes: content, modes, and nothing left behind on failure."""

import json
import os

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
