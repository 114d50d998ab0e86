"""Tests for specst_jax/provenance.py: the record every result and weights JSON carries."""

import hashlib
import os
import sys

import pytest

from specst_jax import provenance


def test_data_hash_is_names_then_bytes_in_sorted_order(tmp_path):
  (tmp_path / "b").mkdir()
  a, b = tmp_path / "z.wav", tmp_path / "b" / "a.wav"
  a.write_bytes(b"one")
  b.write_bytes(b"two")
  want = hashlib.sha256(b"a.wav" + b"two" + b"z.wav" + b"one").hexdigest()  # b/a.wav < z.wav
  assert provenance.data_hash([a, b]) == provenance.data_hash([str(b), str(a)]) == want
  assert provenance.data_hash([]) is None
  with pytest.raises(FileNotFoundError):
    provenance.data_hash([tmp_path / "missing.wav"])


def test_data_hash_cache_sees_a_changed_file(tmp_path):
  path = tmp_path / "x.flac"
  path.write_bytes(b"first")
  first = provenance.data_hash([path])
  assert provenance.data_hash([path]) == first
  path.write_bytes(b"second, longer")  # another size (and mtime): hashed again
  os.utime(path, ns=(1, 1))
  assert provenance.data_hash([path]) == hashlib.sha256(b"x.flac" + b"second, longer").hexdigest()


def test_record_keys_and_relative_command(tmp_path):
  data = tmp_path / "clip.wav"
  data.write_bytes(b"pcm")
  rec = provenance.record(data=[data], argv=[
      str(provenance.REPOSITORY / "experiments" / "reconstruct.py"),
      f"--output={provenance.REPOSITORY / 'out' / 'r.wav'}", "--seed=3"])
  assert set(rec) == {"commit", "command", "machine", "date", "data_sha256", "python", "jax"}
  assert rec["command"] == "python -m experiments.reconstruct --output=out/r.wav --seed=3"
  assert rec["data_sha256"] == provenance.data_hash([data])
  assert rec["commit"] is None or len(rec["commit"].removesuffix("+dirty")) == 40
  assert "CPUs" in rec["machine"] and rec["python"] == ".".join(map(str, sys.version_info[:3]))


def test_relative_command_of_an_installed_command_and_other_scripts():
  outside = provenance.REPOSITORY.parent / "shared" / "data" / "a.wav"
  assert provenance.relative_command(["/usr/bin/specst-style", f"--content={outside}"]) == (
      "specst-style --content=../shared/data/a.wav")
  assert provenance.relative_command(["/x/tool.py", "--a=/tmp/b"]) == "python /x/tool.py --a=/tmp/b"


def test_relative_path_of_shipped_files_and_shared_data(monkeypatch):
  repo = provenance.REPOSITORY
  shipped = repo / "specst_jax" / "weights" / "feedforward" / "rooster" / "model.msgpack"
  assert provenance.relative_path(shipped) == "specst_jax/weights/feedforward/rooster/model.msgpack"
  assert provenance.relative_path(repo.parent / "shared" / "data") == "../shared/data"
  monkeypatch.chdir(repo)
  assert provenance.relative_path("out/model") == "out/model"  # relative to the working folder
  assert provenance.relative_path("/tmp/elsewhere") == "/tmp/elsewhere"  # outside: as given
