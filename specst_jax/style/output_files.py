"""The style-transfer tool's output set (host side): the audio, the figure and the page.

What ``experiments/style_transfer.py`` writes into its output set's temp folder:

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
  """File names of the style copies: ``style.wav``, or ``style_1.wav``, ... for several."""
  return ["style.wav"] if n_styles == 1 else [f"style_{i + 1}.wav" for i in range(n_styles)]


def write_audio(folder: Path, s: transfer.Settings, r: transfer.TransferResult, content,
                styles: list) -> dict[str, dict]:
  """The result and the inputs' copies (``[samples]`` at ``s.stft.sr``) as WAVs in ``folder``.

  Returns:
    file name -> listener check of the samples exactly as written (the result's against
    ``r.magnitude`` at ``s.stft``).
  """
  clips = {RESULT: (r.audio, r.magnitude), CONTENT: (content, None),
           **dict(zip(style_names(len(styles)), ((y, None) for y in styles), strict=True))}
  checks = {}
  for name, (y, target) in clips.items():
    written = transfer.peak_normalize(y, peak=RESULT_PEAK, only_above=1.0)
    audio.save_audio(folder / name, written, s.stft.sr,
                     subtype=None if name == RESULT else "PCM_16")
    checks[name] = listener.check_audio(written, sr=s.stft.sr, magnitude=target,
                                        stft=None if target is None else s.stft)
  return checks


def write_figure(folder: Path, s: transfer.Settings, r: transfer.TransferResult) -> Path:
  """:data:`FIGURE`: content, first style, the optimised target and ``result.wav`` as written."""
  written = audio.load_audio(folder / RESULT)[0]
  return panels.plot_magnitudes(folder / FIGURE, [
      ("content", r.content_magnitude, s.stft), ("style", r.style_magnitudes[0], s.stft),
      ("target magnitude (optimised)", r.magnitude, s.stft),
      (f"{RESULT} as written (re-analysed)", s.stft.magnitude(written), s.stft)],
      columns=2, panel_size=FIGURE_PANEL_INCHES)


def write_page(folder: Path, s: transfer.Settings, r: transfer.TransferResult,
               metrics: dict) -> Path:
  """``index.html``: content, style(s) and result players with their measures, and the figure."""
  checks = metrics["listener"]
  inputs = [CONTENT, *style_names(len(r.style_magnitudes))]
  cells = {("audio", name.removesuffix(".wav")): listening.Cell(
      name, None, listener.page_measures(checks[name])) for name in inputs}
  cells[("audio", "result")] = listening.Cell(
      RESULT, None, {**{f"{k} loss": v for k, v in r.summary()["final_losses"].items()},
                     "SC before writing (dB)": float(r.sc_db),
                     **listener.page_measures(checks[RESULT])})
  return listening.write_page(
      folder, f"style transfer ({s.net})", rows=["audio"],
      columns=[name.removesuffix(".wav") for name in inputs] + ["result"], cells=cells,
      figures={FIGURE: "Spectrograms, dB re each one's maximum: the inputs; the target magnitude "
                       "the optimiser reached; result.wav as written, re-analysed with the run's "
                       "STFT (what you hear)."},
      settings=metrics["settings"])
