"""How much a 16 kHz copy (8 kHz bandwidth, like the shared ESC-50) loses of real sounds.

  python -m experiments.bandwidth --output=/tmp/bandwidth.json

For each corpus (``--corpus=NAME=GLOB``, repeatable; default the shared music, LJSpeech and
rooster clips) it measures, over 5 s segments, the energy above 8 kHz, in 8-11.025 kHz and above
11.025 kHz at the files' own rates, and how band-limiting to 8 kHz changes the unit_db, log-mel
and logfreq inputs at 22.05 kHz (:func:`specst_jax.classifier.bandwidth.measure_corpus`).
Prints the markdown tables and writes them and the numbers to ``--output`` (.json, .md beside;
the JSON has one key per corpus and ``provenance``: commit, command, machine and ``data_sha256``
of every file measured, :mod:`specst_jax.provenance`).
"""

import glob
import sys
from pathlib import Path

from absl import app, flags

from specst_jax import cli, files, provenance
from specst_jax.classifier import bandwidth

_CORPORA = flags.DEFINE_multi_string(
    "corpus", ["music=../shared/data/music/world/*.ogg",
               "speech=../shared/data/speech/ljspeech/*.flac",
               "rooster=../shared/data/rooster/*.wav"], "NAME=GLOB of audio files.")
_OUTPUT = flags.DEFINE_string("output", None, "The .json to write (a .md beside it).")
flags.mark_flags_as_required(["output"])


def main(argv):
  cli.quiet()  # no XLA TPU-probe line; AudioWarnings as one line each
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  results, read = {}, []
  for spec in _CORPORA.value:
    name, _, pattern = spec.partition("=")
    paths = sorted(glob.glob(pattern))
    if not name or not paths:
      print(f"error: --corpus {spec!r}: need NAME=GLOB matching files", file=sys.stderr)
      sys.exit(1)
    results[name] = bandwidth.measure_corpus(paths)
    read += paths
  text = bandwidth.markdown(results)
  files.write_json(_OUTPUT.value, dict(results, provenance=provenance.record(data=read)))
  files.write_text(Path(_OUTPUT.value).with_suffix(".md"), text)
  print(text)


if __name__ == "__main__":
  app.run(main)
