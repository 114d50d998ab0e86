#!/usr/bin/env bash
# Builds .device/ here (git-ignored): what a lent accelerator machine lacks for
# experiments/device_check.sh. Run it on the work machine, from the repository root, then call
# the device tool with
#
#   run(command="bash experiments/device_check.sh", carry=[".device"], timeout_s=600)
#
# Why: only the checkout travels to that machine (../shared does not), at most 64 MiB with what
# is carried, and its Python 3.12 image has JAX (CUDA), Flax, Optax, chex, orbax, absl, scipy,
# matplotlib and torch but not soundfile, soxr, ml_collections or librosa (the device tool's
# KINDS.md lists the image). So .device/ holds
#   wheels/  those packages for CPython 3.12, manylinux x86-64 (device_check.sh installs them
#            into /tmp/site and puts that on PYTHONPATH);
#   data/    speech/, rooster/, music/, the paper's BeingRural spectrogram and an ESC-50
#            subset: meta/esc50.csv, the first $CLIPS clips of each fold (the epoch timing runs
#            with clips_per_fold=$CLIPS), the clips bench_phase names, and the fold-5 clips of
#            the Figure 1 / channel studies' ten classes (so those studies run there too).
# It prints the size that will travel; keep it under 64 MiB (lower CLIPS if not).
set -euo pipefail
SHARED=${SHARED:-../shared/data}
CLIPS=${CLIPS:-16}
D=.device
rm -rf "$D"
mkdir -p "$D/wheels" "$D/data/esc50_16k/meta" "$D/data/esc50_16k/audio"

# The versions installed here (the tests' twins were checked against these).
pins=$(python -c 'from importlib.metadata import version
names = ["soundfile", "soxr", "ml_collections", "librosa", "audioread", "pooch", "platformdirs",
         "decorator"]
print(" ".join(f"{n}=={version(n)}" for n in names))')
python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform any -d "$D/wheels" $pins 2>&1 \
  | { grep -v "is ignored" || true; }

cp -r "$SHARED/speech" "$SHARED/rooster" "$SHARED/music" "$D/data/"
mkdir -p "$D/data/wyse_audioST"  # the paper's own pair (Figure 1): its speech spectrogram
cp "$SHARED/wyse_audioST/BeingRural5.0.tif" "$D/data/wyse_audioST/"
cp "$SHARED/esc50_16k/meta/esc50.csv" "$D/data/esc50_16k/meta/"
python - "$SHARED/esc50_16k" "$D/data/esc50_16k" "$CLIPS" <<'EOF'
import re
import shutil
import sys
from pathlib import Path

from specst_jax.classifier import esc50
from specst_jax.studies import pairs

src, dst, clips = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
kept = esc50.first_per_fold(esc50.read_metadata(src), clips)
paths = [str(p) for p in esc50.resolve_paths(src, kept)]
named = re.findall(r"esc50_16k/audio/([\w.-]+)", Path("experiments/bench_phase.py").read_text())
paths += [str(src / "audio" / n) for n in named]
# The Figure 1 and channel studies' pairs: fold-5 clips of their style and content classes.
classes = set(pairs.STYLE_CLASSES) | set(pairs.CONTENT_CLASSES)
fold5 = [c for c in esc50.read_metadata(src) if c.fold == pairs.FOLD and c.category in classes]
paths += [str(p) for p in esc50.resolve_paths(src, fold5)]
for p in sorted(set(paths)):
  shutil.copy(p, dst / "audio")
print(f"ESC-50 subset: {len(set(paths))} clips ({clips} per fold, bench_phase's, and the "
      f"studies' {len(fold5)} fold-{pairs.FOLD} clips)")
EOF
echo "$CLIPS" > "$D/data/esc50_16k/CLIPS_PER_FOLD"

tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
extra=$(du -sb "$D" | cut -f1)
echo "travels: working tree $((tree / 1048576)) MiB + .device $((extra / 1048576)) MiB" \
     "= $(((tree + extra) / 1048576)) MiB (limit 64 MiB)"
