"""The on-disk state of a batch run (host side): item folders, resume and the run summary.

Layout of ``output_dir``::

  items/<id>/result.wav        the stylised audio
  items/<id>/spectrograms.png  content / style / target / result as written (``--figures`` only)
  items/<id>/metrics.json      written LAST: its presence means the item is done; ``listener``
                               holds the listener's check of result.wav (specst_jax.listener)
  items/<id>/error.json        the item failed (reason); replaced or removed on a retry
  summary.json, summary.csv, errors.jsonl   the merged run (process 0 or ``--merge_only``)
  index.html                   a listening page of the finished items (the first ``PAGE_ITEMS``)

Every file is written atomically (a hidden temp file beside it, then a rename), so a kill at
any moment leaves either the old file or the new one; the hidden temp files a kill can strand
are removed by :func:`clean_temps` when the item is next run.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from specst_jax import files, listening

METRICS = "metrics.json"
ERROR = "error.json"
RESULT = "result.wav"
FIGURE = "spectrograms.png"
PAGE_ITEMS = 200  # items on the listening page; the rest are in summary.csv
SUMMARY_COLUMNS = ("id", "status", "total_loss", "style_loss", "content_loss", "iterations",
                   "seconds", "bucket_s", "content_fit", "process", "listener", "pairs_per_call",
                   "backed_off_from", "reason")


def item_dir(output_dir: str | os.PathLike, item_id: str) -> Path:
  return Path(output_dir) / "items" / item_id


def is_done(output_dir: str | os.PathLike, item_id: str) -> bool:
  """True when the item's ``metrics.json`` exists (it is written after everything else)."""
  return (item_dir(output_dir, item_id) / METRICS).is_file()


def clean_temps(output_dir: str | os.PathLike, item_id: str) -> list[Path]:
  """Removes the hidden temp files a killed write left in the item's folder; returns them."""
  folder = item_dir(output_dir, item_id)
  removed = []
  if folder.is_dir():
    for p in folder.iterdir():
      if p.name.startswith(".") and p.is_file():
        p.unlink(missing_ok=True)
        removed.append(p)
  return removed


def write_error(output_dir: str | os.PathLike, item_id: str, reason: str, *, stage: str,
                process: int) -> None:
  """Records a failed item (``error.json``); a one-line ``reason``."""
  reason = " ".join(str(reason).split())
  files.write_json(item_dir(output_dir, item_id) / ERROR,
                   dict(id=item_id, status="error", stage=stage, reason=reason, process=process))


def finish_item(output_dir: str | os.PathLike, item_id: str, metrics: dict[str, Any]) -> Path:
  """Writes ``metrics.json`` (the done marker: call after the result files) and drops an old
  ``error.json``."""
  folder = item_dir(output_dir, item_id)
  path = files.write_json(folder / METRICS, metrics, indent=1)
  (folder / ERROR).unlink(missing_ok=True)
  return path


def _read_json(path: Path) -> dict | None:
  try:
    return json.loads(path.read_text(encoding="utf-8"))
  except (OSError, json.JSONDecodeError):
    return None


def _listener_verdict(check: dict | None) -> str | None:
  """``passed``, the failed checks joined by ``'; '``, or None (an item written before the
  check existed)."""
  if check is None:
    return None
  return "passed" if check["passed"] else "; ".join(check["warnings"])


def item_row(output_dir: str | os.PathLike, item_id: str) -> dict[str, Any]:
  """One row of the summary: status ``ok``, ``error`` or ``missing`` (not run yet)."""
  folder = item_dir(output_dir, item_id)
  m = _read_json(folder / METRICS)
  if m is not None:
    final = m.get("final_losses", {})
    return dict(id=item_id, status="ok", total_loss=final.get("total"),
                style_loss=final.get("style"), content_loss=final.get("content"),
                iterations=m.get("n_iterations_done"), seconds=m.get("item_seconds"),
                bucket_s=m.get("bucket", {}).get("seconds"),
                content_fit=m.get("content_fit", {}).get("action"), process=m.get("process"),
                pairs_per_call=m.get("batch", {}).get("size"),
                backed_off_from=";".join(str(b) for b in m.get("batch", {}).get(
                    "backed_off_from", [])),
                listener=_listener_verdict(m.get("listener")), reason="")
  e = _read_json(folder / ERROR)
  if e is not None:
    return dict(id=item_id, status="error", process=e.get("process"),
                reason=e.get("reason", ""), stage=e.get("stage", ""))
  return dict(id=item_id, status="missing", reason="not run (or killed before it finished)")


def merge(output_dir: str | os.PathLike, item_ids: Sequence[str], *,
          extra: dict[str, Any] | None = None) -> dict[str, Any]:
  """Builds ``summary.json``, ``summary.csv`` and ``errors.jsonl`` from the item folders.

  Args:
    output_dir: the run's folder.
    item_ids: every id of the manifest (all processes' shares), in manifest order.
    extra: run-level fields added to ``summary.json`` (settings, timings, ...).

  Returns:
    the summary (counts and rows), as written to ``summary.json``.
  """
  out = Path(output_dir)
  rows = [item_row(out, i) for i in item_ids]
  counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "error", "missing")}
  summary = dict(n_items=len(rows), n_ok=counts["ok"], n_failed=counts["error"],
                 n_missing=counts["missing"], **(extra or {}), items=rows)
  files.write_json(out / "summary.json", summary, indent=1)
  buf = io.StringIO()
  writer = csv.DictWriter(buf, SUMMARY_COLUMNS, extrasaction="ignore", lineterminator="\n")
  writer.writeheader()
  writer.writerows({k: ("" if r.get(k) is None else r.get(k)) for k in SUMMARY_COLUMNS}
                   for r in rows)
  files.write_text(out / "summary.csv", buf.getvalue())
  errors = [dict(id=r["id"], stage=r.get("stage", ""), reason=r["reason"]) for r in rows
            if r["status"] == "error"]
  files.write_text(out / "errors.jsonl", "".join(json.dumps(e) + "\n" for e in errors))
  write_page(out, rows, settings=(extra or {}).get("settings", {}))
  return summary


def write_page(output_dir: str | os.PathLike, rows: Sequence[dict[str, Any]], *,
               settings: dict[str, Any] | None = None) -> Path:
  """``index.html``: a player, the spectrograms (with ``--figures``) and the losses per ok item."""
  out = Path(output_dir)
  ok = [r for r in rows if r["status"] == "ok"][:PAGE_ITEMS]
  cells = {}
  for r in ok:
    folder = f"items/{r['id']}"
    figure = f"{folder}/{FIGURE}" if (out / folder / FIGURE).is_file() else None
    measures = {k: r[k] for k in ("total_loss", "style_loss", "content_loss", "iterations",
                                  "bucket_s", "listener") if r.get(k) is not None}
    cells[(r["id"], "result")] = listening.Cell(f"{folder}/{RESULT}", figure, measures)
  n_ok = sum(r["status"] == "ok" for r in rows)
  notes = (f"{n_ok} of {len(rows)} items finished"
           + (f"; the first {len(ok)} are shown (all rows: summary.csv)" if n_ok > len(ok) else ""))
  return listening.write_page(out, "batch style transfer", rows=[r["id"] for r in ok],
                              columns=["result"], cells=cells, settings=settings or {},
                              notes=notes)
