#!/usr/bin/env bash
# Sourced on a lent device machine (see device_prepare.sh): sets PY (the image's python3) and DATA
# (.device/data when carried, else $DATA or ../shared/data), and installs .device/wheels into
# /tmp/site (on PYTHONPATH). For example, the Figure 1 study, its tables and figures back in $OUT:
#
#   run(command="source experiments/device_env.sh && $PY -m experiments.figure1
#       --output_dir=/tmp/f1 --config.data_dir=$DATA; cp /tmp/f1/metrics.* /tmp/f1/*.png $OUT/",
#       carry=[".device"], timeout_s=600)
export PYTHONUNBUFFERED=1
# The image's python3 holds its JAX; there may be no plain python there.
if command -v python3 >/dev/null; then PY=python3; else PY=python; fi
if [ -d .device/wheels ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .device/wheels/*.whl \
    && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
if [ -z "${DATA:-}" ]; then
  if [ -d .device/data ]; then DATA=.device/data; else DATA=../shared/data; fi
fi
export PY DATA
