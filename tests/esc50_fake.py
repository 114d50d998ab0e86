"""A small fake ESC-50 tree for tests: tones whose pitch depends on the class."""

from pathlib import Path

import numpy as np
import soundfile as sf


def make_fake_esc50(root: Path, *, n_classes: int = 4, per_class_per_fold: int = 2,
                    sr: int = 4000, suffix: str = ".flac") -> Path:
  """Writes ``root/meta/esc50.csv`` and ``root/audio/*`` (5 s clips at ``sr``); returns root."""
  root = Path(root)
  (root / "meta").mkdir(parents=True, exist_ok=True)
  (root / "audio").mkdir(exist_ok=True)
  rng = np.random.default_rng(0)
  t = np.arange(5 * sr) / sr
  rows = ["filename,fold,target,category,esc10,src_file,take"]
  for fold in range(1, 6):
    for target in range(n_classes):
      for k in range(per_class_per_fold):
        stem = f"{fold}-{1000 + 10 * target + k}-A-{target}"
        f0 = 200.0 * (target + 1) * (1 + 0.02 * rng.standard_normal())
        x = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.01 * rng.standard_normal(t.shape)
        sf.write(root / "audio" / f"{stem}{suffix}", x.astype(np.float32), sr)
        source = f"{fold}{1000 + 10 * target + k // 2}"  # pairs of clips share a recording
        rows.append(f"{stem}.wav,{fold},{target},class{target},False,{source},A")
  (root / "meta" / "esc50.csv").write_text("\n".join(rows) + "\n")
  return root


def tiny_config(fake: tuple[Path, Path], **overrides):
  """``experiments/configs/tiny.py`` on the fake tree ``fake = (data_dir, cache_dir)``."""
  from experiments.configs import tiny
  c = tiny.get_config()
  c.data_dir, c.cache_dir = str(fake[0]), str(fake[1])
  c.update(overrides)
  return c
