"""Listening pages: HTML structure, escaping, links, and a real headless-browser load."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from specst_jax import listening
from tests import browser


def _cells():
  return {("pair 1", "a"): listening.Cell("a 1.wav", "a1.png", {"style dB": 12.3456, "n": 3}),
          ("pair 1", "b"): listening.Cell("sub/b1.wav", None, {}),
          ("pair 2", "a"): listening.Cell(None, "a1.png", {"note": "<b>x</b>"})}


def test_page_structure_and_escaping():
  page = listening.render_page("T <&>", rows=["pair 1", "pair 2"], columns=["a", "b"],
                               cells=_cells(), settings={"lr": 0.01}, notes="say <this>")
  assert page.startswith("<!DOCTYPE html>")
  assert "<title>T &lt;&amp;&gt;</title>" in page
  assert page.count("<audio controls") == 2
  assert 'src="a%201.wav"' in page and 'src="sub/b1.wav"' in page
  assert page.count("<img ") == 2
  # Every image is linked at full size: the link and the image name the same file.
  assert page.count('<a href="a1.png"><img src="a1.png"') == 2
  assert "12.35" in page and "&lt;b&gt;x&lt;/b&gt;" in page and "say &lt;this&gt;" in page
  assert "<th>lr</th><td>0.01</td>" in page
  # Rows in order, one empty cell for (pair 2, b).
  assert page.index("pair 1") < page.index("pair 2")
  assert page.count("<td></td>") == 1


@pytest.mark.parametrize("bad", ["/abs/x.wav", "../x.wav", "a/../../x.wav"])
def test_links_must_stay_inside_the_folder(bad):
  with pytest.raises(ValueError, match="relative paths"):
    listening.render_page("t", rows=["r"], columns=["c"], cells={("r", "c"): listening.Cell(bad)})


def test_unknown_row_or_column_is_an_error():
  with pytest.raises(ValueError, match="outside"):
    listening.render_page("t", rows=["r"], columns=["c"], cells={("r", "x"): listening.Cell()})


def test_figures_below_the_table_linked_at_full_size():
  page = listening.render_page("t", rows=["pair 1", "pair 2"], columns=["a", "b"],
                               cells=_cells(), figures={"fig 1.png": "the <target> and result"})
  figure = page[page.index("<figure>"):page.index("</figure>")]
  assert '<a href="fig%201.png"><img src="fig%201.png"' in figure
  assert "<figcaption>the &lt;target&gt; and result</figcaption>" in figure
  assert page.index("</table>") < page.index("<figure>")
  assert f"width: {listening.FIGURE_MAX_WIDTH_PX}px; max-width: 100%" in page
  assert listening.linked_files(_cells(), ["fig 1.png", "a1.png"]) == [
      "a 1.wav", "a1.png", "sub/b1.wav", "fig 1.png"]


def test_write_page_refuses_a_missing_figure_and_takes_a_page_name(tmp_path):
  (tmp_path / "x.wav").write_bytes(b"")
  cells = {("r", "c"): listening.Cell("x.wav")}
  with pytest.raises(FileNotFoundError, match="fig.png"):
    listening.write_page(tmp_path, "t", rows=["r"], columns=["c"], cells=cells,
                         figures={"fig.png": ""}, page_name="y.html")
  assert not (tmp_path / "y.html").exists()
  (tmp_path / "fig.png").write_bytes(b"")
  page = listening.write_page(tmp_path, "t", rows=["r"], columns=["c"], cells=cells,
                              figures={"fig.png": ""}, page_name="y.html")
  assert page == tmp_path / "y.html" and "<figure>" in page.read_text()
  assert not (tmp_path / "index.html").exists()


def test_write_page_refuses_missing_links(tmp_path):
  with pytest.raises(FileNotFoundError, match="a 1.wav"):
    listening.write_page(tmp_path, "t", rows=["pair 1", "pair 2"], columns=["a", "b"],
                         cells=_cells())
  assert not (tmp_path / "index.html").exists()


def _write_media(folder, sr=8000):
  (folder / "sub").mkdir()
  t = np.arange(sr) / sr
  sf.write(folder / "a 1.wav", 0.3 * np.sin(2 * np.pi * 440 * t), sr)        # 1.0 s
  sf.write(folder / "sub" / "b1.wav", 0.3 * np.sin(2 * np.pi * 220 * t[: sr // 2]), sr)  # 0.5 s
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  for name, size in (("a1.png", (2, 1.5)), ("fig.png", (12, 7))):
    fig, ax = plt.subplots(figsize=size)
    ax.imshow(np.random.default_rng(0).random((8, 8)))
    fig.savefig(folder / name, dpi=120)
    plt.close(fig)


@pytest.mark.skipif(browser.skip_reason() is not None, reason=str(browser.skip_reason()))
def test_page_loads_in_headless_chromium(tmp_path):
  _write_media(tmp_path)
  page = listening.write_page(tmp_path, "listening test", rows=["pair 1", "pair 2"],
                              columns=["a", "b"], cells=_cells(), settings={"sr": 8000},
                              figures={"fig.png": "a figure"})
  report = browser.page_report(page)
  assert report["console_errors"] == []
  durations = sorted(a["duration"] for a in report["audio"])
  assert all(math.isfinite(d) for d in durations)
  np.testing.assert_allclose(durations, [0.5, 1.0], atol=0.01)
  images = report["images"]
  assert len(images) == 3 and all(i["width"] > 0 for i in images)
  assert all(i["link"] == i["src"] for i in images)  # each linked at full size
  cell_images, figure = images[:2], images[2]
  # a1.png is 240 px wide: shown at its size; the 1440 px figure at the page's figure width.
  assert all(i["shown_width"] == pytest.approx(min(i["width"], listening.CELL_IMAGE_WIDTH_PX))
             for i in cell_images)
  assert figure["width"] == 1440
  assert figure["shown_width"] == pytest.approx(listening.FIGURE_MAX_WIDTH_PX)


@pytest.mark.skipif(browser.skip_reason() is not None, reason=str(browser.skip_reason()))
def test_browser_check_catches_a_broken_audio_file(tmp_path):
  # The check must be able to fail: a .wav that is not audio has no finite duration.
  (tmp_path / "x.wav").write_bytes(b"not audio at all" * 10)
  page = listening.write_page(tmp_path, "t", rows=["r"], columns=["c"],
                              cells={("r", "c"): listening.Cell("x.wav")})
  report = browser.page_report(page)
  assert not math.isfinite(report["audio"][0]["duration"])
  assert report["audio"][0]["error"] is not None
