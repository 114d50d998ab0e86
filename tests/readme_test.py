"""README.md's Python example runs as written (in a scratch folder) and writes what it says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks() -> list[str]:
  return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_python_example_runs_as_written(tmp_path):
  blocks = _python_blocks()
  assert len(blocks) == 1, "README.md should hold exactly one Python example"
  assert len(blocks[0].strip().splitlines()) <= 5  # the five-line example
  subprocess.run([sys.executable, "-c", blocks[0]], cwd=tmp_path, check=True, timeout=600)
  y, sr = sf.read(tmp_path / "result.wav")
  assert sr == 22050 and y.shape == (2 * 22050,)
  assert 0.0 < abs(y).max() <= 0.99
