"""The machine a benchmark ran on: CPU model, cores, ISA extensions, load average."""

from __future__ import annotations

import os
import platform
import subprocess


def _lscpu() -> dict[str, str]:
  try:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
  except (OSError, subprocess.SubprocessError):
    return {}
  fields = {}
  for line in out.splitlines():
    key, sep, value = line.partition(":")
    if sep:
      fields[key.strip()] = value.strip()
  return fields


def describe() -> dict:
  """``{"cpu", "cores", "amx", "avx512_bf16", "load_avg"}`` of this machine, now."""
  info = _lscpu()
  flags = set(info.get("Flags", "").split())
  return {
      "cpu": info.get("Model name", platform.processor() or "unknown"),
      "cores": os.cpu_count(),
      "amx": sorted(f for f in flags if f.startswith("amx")),
      "avx512_bf16": "avx512_bf16" in flags,
      "load_avg": [round(v, 2) for v in os.getloadavg()],
  }


def header(info: dict) -> str:
  """One line for a benchmark's header."""
  amx = ",".join(info["amx"]) if info["amx"] else "no AMX"
  load = " ".join(f"{v:.2f}" for v in info["load_avg"])
  return f"machine: {info['cpu']}, {info['cores']} cores, {amx}; load average {load}"
