"""Batch manifests (host side): a CSV or JSONL list of (content, style) pairs.

CSV (``.csv``) has a header row; JSONL (``.jsonl`` / ``.ndjson``) has one JSON object per
line. Required columns: ``id`` (the item's folder name: letters, digits, ``.``, ``_``, ``-``;
unique), ``content`` (an audio file) and ``style`` (one or more audio files separated by
``;``; in JSONL also a list). Any other column must be a settings override named in
``overrides`` (e.g. ``net``, ``seed``, ``n_iter``); an empty cell (or a JSON ``null``) means
"not overridden". Relative paths resolve against the manifest's folder.

Every problem with the manifest itself raises :class:`ManifestError`, one line naming the
file (and line) and the problem. Whether the audio files exist and decode is checked later,
per item, so that one bad file does not stop a run.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REQUIRED = ("id", "content", "style")
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class ManifestError(ValueError):
  """A manifest that cannot be used; the message names the file (and line) and the problem."""


@dataclasses.dataclass(frozen=True)
class Item:
  """One row of a manifest.

  Attributes:
    id: unique name (also the output folder ``items/<id>``).
    content: absolute path of the content audio.
    styles: absolute paths of the style audio (one or more; their Grams are combined).
    overrides: ``(name, value)`` settings given on this row, sorted by name.
    line: line number in the manifest (1-based; the header is line 1 of a CSV).
  """

  id: str
  content: str
  styles: tuple[str, ...]
  overrides: tuple[tuple[str, Any], ...] = ()
  line: int = 0

  def overrides_dict(self) -> dict[str, Any]:
    return dict(self.overrides)


def _convert(value: Any, kind: type, where: str, name: str) -> Any:
  """A cell -> ``kind`` (``int``, ``float``, ``str`` or ``bool``); ``None`` for an empty cell."""
  if value is None or (isinstance(value, str) and not value.strip()):
    return None
  try:
    if kind is bool:
      if isinstance(value, bool):
        return value
      text = str(value).strip().lower()
      if text not in ("true", "false", "1", "0"):
        raise ValueError
      return text in ("true", "1")
    if kind is int:
      if isinstance(value, float) and not value.is_integer():
        raise ValueError
      if isinstance(value, bool):
        raise ValueError
      return int(str(value).strip()) if isinstance(value, str) else int(value)
    if kind is float:
      if isinstance(value, bool):
        raise ValueError
      return float(value)
    return str(value).strip()
  except (TypeError, ValueError):
    raise ManifestError(
        f"{where}: column {name!r} must be {kind.__name__}, got {value!r}") from None


def _paths(value: Any, base: Path, where: str, name: str) -> tuple[str, ...]:
  if isinstance(value, list):
    parts = value
  elif isinstance(value, str):
    parts = value.split(";")
  else:
    raise ManifestError(f"{where}: column {name!r} must be a path (or paths), got {value!r}")
  out = []
  for p in parts:
    if not isinstance(p, str):
      raise ManifestError(f"{where}: column {name!r} must hold paths, got {p!r}")
    p = p.strip()
    if not p:
      continue
    path = Path(p).expanduser()
    out.append(str(path if path.is_absolute() else (base / path).absolute()))
  if not out:
    raise ManifestError(f"{where}: column {name!r} is empty")
  return tuple(out)


def _rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
  """``(line, row)`` pairs of a CSV or JSONL file; header problems raise ManifestError."""
  suffix = path.suffix.lower()
  try:
    text = path.read_text(encoding="utf-8")
  except FileNotFoundError:
    raise ManifestError(f"{path}: no such manifest file") from None
  except IsADirectoryError:
    raise ManifestError(f"{path}: is a directory, not a manifest file") from None
  except (OSError, UnicodeDecodeError) as e:
    raise ManifestError(f"{path}: cannot read the manifest ({e})") from None
  if suffix == ".csv":
    reader = csv.reader(text.splitlines())
    lines = [(i + 1, r) for i, r in enumerate(reader)]
    lines = [(i, r) for i, r in lines if any(c.strip() for c in r) and not r[0].startswith("#")]
    if not lines:
      raise ManifestError(f"{path}: empty manifest (no header row)")
    _, header = lines[0]
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
      raise ManifestError(f"{path}:{lines[0][0]}: repeated column in the header {header}")
    rows = []
    for i, r in lines[1:]:
      if len(r) != len(header):
        raise ManifestError(f"{path}:{i}: {len(r)} cells but the header has {len(header)}")
      rows.append((i, dict(zip(header, r, strict=True))))
    return [(lines[0][0], {h: None for h in header})] + rows
  if suffix in (".jsonl", ".ndjson"):
    rows = []
    for i, line in enumerate(text.splitlines(), start=1):
      if not line.strip() or line.lstrip().startswith("#"):
        continue
      try:
        row = json.loads(line)
      except json.JSONDecodeError as e:
        raise ManifestError(f"{path}:{i}: not valid JSON ({e.msg})") from None
      if not isinstance(row, dict):
        raise ManifestError(f"{path}:{i}: each line must be a JSON object")
      rows.append((i, row))
    if not rows:
      raise ManifestError(f"{path}: empty manifest (no rows)")
    return [(0, {})] + rows
  raise ManifestError(f"{path}: unknown manifest format {path.suffix!r} (use .csv or .jsonl)")


def read_manifest(path: str | Path, overrides: Mapping[str, type]) -> list[Item]:
  """Reads and validates a manifest.

  Args:
    path: the ``.csv`` or ``.jsonl`` file.
    overrides: the settings a row may override, name -> type (``int``, ``float``, ``str``,
      ``bool``); any other column is an error.

  Returns:
    the items in manifest order.

  Raises:
    ManifestError: unreadable file, unknown format, missing or unknown column, bad value,
      bad or duplicate id, empty content or style.
  """
  path = Path(path).expanduser()
  rows = _rows(path)
  base = path.parent.absolute()
  csv_header = rows[0][1]
  allowed = set(REQUIRED) | set(overrides)
  if path.suffix.lower() == ".csv":
    missing = [c for c in REQUIRED if c not in csv_header]
    if missing:
      raise ManifestError(f"{path}:{rows[0][0]}: the header lacks column(s) {missing} "
                          f"(need {list(REQUIRED)})")
    unknown = sorted(set(csv_header) - allowed)
    if unknown:
      raise ManifestError(f"{path}:{rows[0][0]}: unknown column(s) {unknown}; allowed: "
                          f"{sorted(allowed)}")
  items, seen = [], {}
  for line, row in rows[1:]:
    where = f"{path}:{line}"
    missing = [c for c in REQUIRED if row.get(c) in (None, "")]
    if missing:
      raise ManifestError(f"{where}: missing value(s) for {missing}")
    unknown = sorted(set(row) - allowed)
    if unknown:
      raise ManifestError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    item_id = str(row["id"]).strip()
    if not ID_PATTERN.fullmatch(item_id):
      raise ManifestError(f"{where}: id {item_id!r} must be 1-128 letters, digits, '.', '_' or "
                          "'-', starting with a letter or digit")
    if item_id in seen:
      raise ManifestError(f"{where}: duplicate id {item_id!r} (first on line {seen[item_id]})")
    seen[item_id] = line
    content = _paths(row["content"], base, where, "content")
    if len(content) != 1:
      raise ManifestError(f"{where}: column 'content' must be one path, got {len(content)}")
    styles = _paths(row["style"], base, where, "style")
    given = {k: _convert(row[k], overrides[k], where, k) for k in sorted(row)
             if k not in REQUIRED}
    items.append(Item(item_id, content[0], styles,
                      tuple((k, v) for k, v in given.items() if v is not None), line))
  if not items:
    raise ManifestError(f"{path}: the manifest has a header but no rows")
  return items
