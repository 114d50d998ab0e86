"""Helpers of tests/batch_test.py: tiny clips, bad files, manifests and a numpy fake engine."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from specst_jax import audio, signals
from specst_jax.batch.runner import BucketResult

SR = 8000


def write_clips(folder: Path, n_pairs: int, *, seconds=(0.4, 0.6, 0.75)) -> list[dict]:
  """Writes ``n_pairs`` content/style WAVs of a few lengths; returns manifest rows."""
  folder.mkdir(parents=True, exist_ok=True)
  names = list(signals.SIGNALS)
  rows = []
  for i in range(n_pairs):
    d = seconds[i % len(seconds)]
    c = signals.make_signal(names[i % len(names)], sr=SR, duration=d)
    s = signals.make_signal(names[(i + 1) % len(names)], sr=SR,
                            duration=seconds[(i + 1) % len(seconds)])
    audio.save_audio(folder / f"c{i}.wav", c, SR)
    audio.save_audio(folder / f"s{i}.wav", s, SR)
    rows.append(dict(id=f"pair{i:02d}", content=f"c{i}.wav", style=f"s{i}.wav"))
  return rows


def write_bad(folder: Path) -> list[dict]:
  """Two bad rows: a corrupt WAV (not audio) and a too-short one (10 samples)."""
  (folder / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really audio")
  audio.save_audio(folder / "short.wav", np.zeros(10, np.float32) + 0.1, SR)
  return [dict(id="bad_corrupt", content="corrupt.wav", style="s0.wav"),
          dict(id="bad_short", content="c0.wav", style="short.wav")]


def write_csv(path: Path, rows: list[dict], columns=("id", "content", "style")) -> Path:
  lines = [",".join(columns)] + [",".join(str(r.get(c, "")) for c in columns) for r in rows]
  path.write_text("\n".join(lines) + "\n")
  return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
  path.write_text("".join(json.dumps(r) + "\n" for r in rows))
  return path


@dataclasses.dataclass(frozen=True)
class FakeSettings:
  sr: int = SR
  gain: float = 0.5
  seed: int = 0


class FakeEngine:
  """A numpy stand-in for the transfer: result = gain * content + mean style, per pair."""

  def __init__(self):
    self.calls = []

  def resolve(self, overrides):
    unknown = set(overrides) - {"gain", "sr", "seed"}
    if unknown:
      raise ValueError(f"unknown settings {sorted(unknown)}")
    if overrides.get("gain", 0.5) < 0:
      raise ValueError("gain must be >= 0")
    return FakeSettings(**overrides)

  def group_key(self, settings):
    return dataclasses.replace(settings, seed=0)  # the seed never changes the "weights"

  def describe(self, settings):
    return dataclasses.asdict(settings)

  def sample_rate(self, settings):
    return settings.sr

  def min_samples(self, settings):
    return 64

  def run(self, settings, contents, styles, seeds):
    self.calls.append(contents.shape)
    y = settings.gain * contents + styles.mean(axis=1) * 0.1
    total = np.abs(y).mean(axis=-1) + seeds * 1e-3
    if settings.gain > 10:
      total = total * np.nan
    return BucketResult(y, dict(total=total, style=total / 2, content=total / 2),
                        np.full(len(y), 3), np.full(len(y), 4), None, dict(compile=0.0))


# ----------------------------------------------------------------------------- real engine

TINY = dict(net="ulyanov", sr=SR, n_fft=128, hop_length=64, filters=16, n_iter=4,
            optimizer="adam", learning_rate=0.05, phase_method="fgla", phase_iter=4)  # = :tiny


def sharded_and_single(manifest_path: str, out_sharded: str, out_single: str,
                       reference: str) -> None:
  """Run in a process with 4 (fake) devices: the manifest through the runner twice, batches of
  4 pairs sharded over the 4 devices, and one pair at a time on one device; and the first pair
  through the engine's single-run path, ``transfer.stylize`` (saved to ``reference``)."""
  import jax

  from specst_jax.batch import buckets, engine, manifest, runner
  from specst_jax.style import transfer
  devices = jax.local_devices()
  assert len(devices) == 4, devices
  items = manifest.read_manifest(manifest_path, engine.OVERRIDES)
  for out, devs, batch in ((out_sharded, devices, 4), (out_single, devices[:1], 1)):
    cfg = runner.RunConfig(out, batch_size=batch, bucket_seconds=(1.0,), min_seconds=0.05,
                           n_devices=len(devs), loader_threads=1)
    stats = runner.run(items, engine.StyleEngine(devs), cfg, base=TINY)
    assert stats.failed == 0 and stats.ok == len(items), stats
  settings = transfer.Settings.for_net("ulyanov", {k: v for k, v in TINY.items() if k != "net"})
  content = audio.load_audio(items[0].content, sr=SR)[0]
  style = buckets.fit_style(audio.load_audio(items[0].styles[0], sr=SR)[0], SR)[0]
  r = transfer.stylize(settings, buckets.fit_content(content, SR), [style], progress=None)
  y = transfer.peak_normalize(r.audio, peak=0.99, only_above=1.0)[:len(content)]
  np.savez(reference, audio=y, total=r.final_losses["total"])
