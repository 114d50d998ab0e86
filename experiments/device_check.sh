#!/usr/bin/env bash
# Kept for old notes: the device check is experiments/device_check.py (see its docstring).
exec "${PYTHON:-python3}" -m experiments.device_check --output_dir="${OUT:-out/device_check}" "$@"
