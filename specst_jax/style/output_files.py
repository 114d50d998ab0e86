"""The style-transfer tool's output set (host side): the audio, the figure and the page.

What ``experiments/style_transfer.py`` (and ``experiments/stylize_fast.py``, through
:func:`write_panels` and :func:`write_result_page`) writes into its output set's temp folder:

* :data:`RESULT` (``result.wav``, float): the result, peak-normalised to 0.99 only if it would
  clip (:func:`transfer.peak_normalize`); :data:`CONTENT` and :func:`style_names` (16-bit): the
  inputs at the run's rate, so the page plays them beside the result.
* :data:`FIGURE` (``spectrograms.png``): content, style, the optimised target magnitude and the
  result **as written**, re-analysed from the file with the run's STFT (what a listener hears).
* ``index.html``: players for content, style(s) and result with their measures, and the figure
  at page width, linked at full size (:mod:`specst_jax.listening`).

Every WAV gets the listener's check (:mod:`specst_jax.listener`) of its samples exactly as written;
the result's spectral convergence is against the target magnitude.
"""

from __future__ import annotations

from pathlib import Path

from specst_jax import audio, listener, listening
from specst_jax.studies import panels
from specst_jax.style import transfer

RESULT, CONTENT, FIGURE = "result.wav", "content.wav", "spectrograms.png"
RESULT_PEAK = 0.99  # a result (or input copy) peaking above 1 is scaled to this peak
FIGURE_PANEL_INCHES = (6.0, 3.4)  # at 120 dpi: 720 x 408 px per panel, two columns


def style_names(n_styles: int) -> list[str]:
  """File names of the style copies: ``style.wav``, or ``style_1.wav``, ... for several (none
  for 0)."""
  return ["style.wav"] if n_styles == 1 else [f"style_{i + 1}.wav" for i in range(n_styles)]


def write_checked(path: Path, y, s: transfer.Settings, target=None, *,
                  subtype: str | None = None) -> dict:
  """Writes ``y [samples]`` (at ``s.stft.sr``; peak-normalised to :data:`RESULT_PEAK` only
  if it would clip) to ``path``; returns the listener check of the samples as written
  (against the magnitude ``target [frames, bins]`` at ``s.stft`` when given)."""
  written = transfer.peak_normalize(y, peak=RESULT_PEAK, only_above=1.0)
  audio.save_audio(path, written, s.stft.sr, subtype=subtype)
  return listener.check_audio(written, sr=s.stft.sr, magnitude=target,
                              stft=None if target is None else s.stft)


def write_audio(folder: Path, s: transfer.Settings, r: transfer.TransferResult, content,
                styles: list) -> dict[str, dict]:
  """The result and the inputs' copies (``[samples]`` at ``s.stft.sr``) as WAVs in ``folder``.

  ``r``: a :class:`transfer.TransferResult`, or any result with ``audio`` and its target
  ``magnitude`` (:class:`specst_jax.style.feedforward.FastResult`); ``styles`` may be empty.

  Returns:
    file name -> listener check of the samples exactly as written (the result's against
    ``r.magnitude`` at ``s.stft``).
  """
  clips = {RESULT: (r.audio, r.magnitude), CONTENT: (content, None),
           **dict(zip(style_names(len(styles)), ((y, None) for y in styles), strict=True))}
  return {name: write_checked(folder / name, y, s, target,
                              subtype=None if name == RESULT else "PCM_16")
          for name, (y, target) in clips.items()}


def write_figure(folder: Path, s: transfer.Settings, r: transfer.TransferResult) -> Path:
  """:data:`FIGURE`: content, first style, the optimised target and ``result.wav`` as written."""
  return write_panels(folder, s, [("content", r.content_magnitude),
                                  ("style", r.style_magnitudes[0]),
                                  ("target magnitude (optimised)", r.magnitude)])


def write_panels(folder: Path, s: transfer.Settings, shown: list) -> Path:
  """:data:`FIGURE`: the ``(title, magnitude [frames, bins])`` panels at ``s.stft``, then
  ``result.wav`` as written in ``folder``, re-analysed with ``s.stft``."""
  written = audio.load_audio(folder / RESULT)[0]
  return panels.plot_magnitudes(
      folder / FIGURE, [(title, S, s.stft) for title, S in shown] +
      [(f"{RESULT} as written (re-analysed)", s.stft.magnitude(written), s.stft)],
      columns=2, panel_size=FIGURE_PANEL_INCHES)


def write_page(folder: Path, s: transfer.Settings, r: transfer.TransferResult,
               metrics: dict) -> Path:
  """``index.html``: content, style(s) and result players with their measures, and the figure."""
  return write_result_page(
      folder, f"style transfer ({s.net})", len(r.style_magnitudes),
      {**{f"{k} loss": v for k, v in r.summary()["final_losses"].items()},
       "SC before writing (dB)": float(r.sc_db)}, metrics,
      "Spectrograms, dB re each one's maximum: the inputs; the target magnitude the optimiser "
      "reached; result.wav as written, re-analysed with the run's STFT (what you hear).")


def write_result_page(folder: Path, title: str, n_styles: int, result_measures: dict,
                      metrics: dict, caption: str) -> Path:
  """``index.html``: players for :data:`CONTENT`, ``n_styles`` style copies and :data:`RESULT`
  (with ``result_measures`` and each file's listener check from ``metrics["listener"]``), and
  :data:`FIGURE` with ``caption``; ``metrics["settings"]`` listed."""
  checks = metrics["listener"]
  inputs = [CONTENT, *style_names(n_styles)]
  cells = {("audio", name.removesuffix(".wav")): listening.Cell(
      name, None, listener.page_measures(checks[name])) for name in inputs}
  cells[("audio", "result")] = listening.Cell(
      RESULT, None, {**result_measures, **listener.page_measures(checks[RESULT])})
  return listening.write_page(
      folder, title, rows=["audio"],
      columns=[name.removesuffix(".wav") for name in inputs] + ["result"], cells=cells,
      figures={FIGURE: caption}, settings=metrics["settings"])
