"""Listening pages: a static ``index.html`` beside a run's audio, for people to judge by ear.

A page is a table of rows (e.g. content/style pairs) x columns (e.g. conditions); each cell holds
an ``<audio controls>`` player, the spectrogram image and the cell's measures. Below the table,
optional figures are shown at page width (up to ``FIGURE_MAX_WIDTH_PX``); every image links to
itself at full size. The page also lists the run's settings. Static files only, every link
relative to the page's folder, so the folder opens in a browser as it is (or from a zip).
Host-side module: strings in, one file out.
"""

from __future__ import annotations

import dataclasses
import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from urllib.parse import quote

from specst_jax import files

PAGE_NAME = "index.html"
CELL_IMAGE_WIDTH_PX = 360  # a cell's image (and player) on the page; click for full size
FIGURE_MAX_WIDTH_PX = 1200  # a figure below the table; click for full size

_STYLE = f"""
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 0.4em; vertical-align: top; text-align: left; }}
th {{ background: #f4f4f4; }}
td img {{ display: block; max-width: {CELL_IMAGE_WIDTH_PX}px; margin-top: 0.3em; }}
audio {{ width: {CELL_IMAGE_WIDTH_PX}px; }}
figure {{ margin: 1em 0; }}
figure img {{ display: block; width: {FIGURE_MAX_WIDTH_PX}px; max-width: 100%; }}
figcaption {{ font-size: 0.9em; color: #555; }}
dl {{ margin: 0.3em 0 0 0; font-size: 0.85em; max-width: {CELL_IMAGE_WIDTH_PX}px; }}
dt {{ float: left; clear: left; margin-right: 0.4em; color: #555; }}
dd {{ margin: 0; }}
"""


@dataclasses.dataclass(frozen=True)
class Cell:
  """One table cell.

  Attributes:
    audio: path of the audio file, relative to the page's folder (``None``: no player).
    image: path of an image (e.g. the spectrogram), relative to the page's folder.
    measures: name -> value shown under the player (floats are printed with 4 significant digits).
  """

  audio: str | None = None
  image: str | None = None
  measures: Mapping[str, float | int | str] = dataclasses.field(default_factory=dict)


def _href(path: str) -> str:
  """A relative URL for a relative POSIX-style path (each component percent-encoded)."""
  parts = PurePosixPath(path.replace(os.sep, "/")).parts
  if not parts or PurePosixPath(path).is_absolute() or ".." in parts:
    raise ValueError(f"page links must be relative paths inside the page's folder, got {path!r}")
  return "/".join(quote(p) for p in parts)


def _value(v: float | int | str) -> str:
  if isinstance(v, float):
    return f"{v:.4g}"
  return str(v)


def _linked_image(path: str) -> str:
  """``<a href=path><img src=path></a>``: the image on the page, linked at full size."""
  alt = html.escape(PurePosixPath(path).name)
  return f'<a href="{_href(path)}"><img src="{_href(path)}" alt="{alt}"></a>'


def _figure_html(path: str, caption: str) -> str:
  cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
  return f"<figure>{_linked_image(path)}{cap}</figure>\n"


def _cell_html(cell: Cell | None) -> str:
  if cell is None:
    return "<td></td>"
  parts = []
  if cell.audio is not None:
    parts.append(f'<audio controls preload="metadata" src="{_href(cell.audio)}"></audio>')
  if cell.image is not None:
    parts.append(_linked_image(cell.image))
  if cell.measures:
    items = "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(_value(v))}</dd>"
                    for k, v in cell.measures.items())
    parts.append(f"<dl>{items}</dl>")
  return "<td>" + "".join(parts) + "</td>"


def render_page(title: str, *, rows: Sequence[str], columns: Sequence[str],
                cells: Mapping[tuple[str, str], Cell], settings: Mapping[str, object] = (),
                notes: str = "", figures: Mapping[str, str] = MappingProxyType({})) -> str:
  """The HTML of a listening page (pure: no file access).

  Args:
    title: page title and heading.
    rows: row labels, top to bottom (e.g. pair names).
    columns: column labels, left to right (e.g. condition names).
    cells: ``(row, column) -> Cell``; missing cells stay empty.
    settings: the run's settings, listed under the table.
    notes: a paragraph of plain text shown above the table.
    figures: image path -> caption, shown below the table at page width, each linked at full
      size.

  Raises:
    ValueError: a cell names a row or column that is not in ``rows`` / ``columns``, or a link is
      not a relative path inside the page's folder.
  """
  unknown = [key for key in cells if key[0] not in rows or key[1] not in columns]
  if unknown:
    raise ValueError(f"cells {unknown[:3]} name rows/columns outside "
                     f"{list(rows)} x {list(columns)}")
  head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
  body = "".join(
      f"<tr><th>{html.escape(r)}</th>" + "".join(_cell_html(cells.get((r, c))) for c in columns)
      + "</tr>" for r in rows)
  settings_html = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                          for k, v in dict(settings).items())
  t = html.escape(title)
  return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{t}</title>'
          f"<style>{_STYLE}</style></head><body>\n<h1>{t}</h1>\n"
          + (f"<p>{html.escape(notes)}</p>\n" if notes else "")
          + f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>\n"
          + "".join(_figure_html(path, caption) for path, caption in figures.items())
          + (f"<h2>Settings</h2>\n<table>{settings_html}</table>\n" if settings_html else "")
          + "</body></html>\n")


def linked_files(cells: Mapping[tuple[str, str], Cell], figures: Sequence[str] = ()
                 ) -> list[str]:
  """Every audio and image path the cells (and figures) link to, in order, without repeats."""
  paths = [p for c in cells.values() for p in (c.audio, c.image) if p is not None]
  return list(dict.fromkeys([*paths, *figures]))


def write_page(folder: str | os.PathLike, title: str, *, rows: Sequence[str],
               columns: Sequence[str], cells: Mapping[tuple[str, str], Cell],
               settings: Mapping[str, object] = (), notes: str = "",
               figures: Mapping[str, str] = MappingProxyType({}), page_name: str = PAGE_NAME
               ) -> Path:
  """Writes ``folder/page_name`` (atomically) after checking every linked file exists there.

  Arguments as :func:`render_page`; ``page_name``: the page's file name in ``folder``.

  Returns:
    the page's path.

  Raises:
    FileNotFoundError: a linked audio or image file is not in ``folder``.
    ValueError: as :func:`render_page`.
  """
  folder = Path(folder)
  page = render_page(title, rows=rows, columns=columns, cells=cells, settings=settings,
                     notes=notes, figures=figures)
  missing = [p for p in linked_files(cells, list(figures)) if not (folder / p).is_file()]
  if missing:
    raise FileNotFoundError(f"{folder / page_name}: linked files missing: {missing[:5]}")
  return files.write_text(folder / page_name, page)
