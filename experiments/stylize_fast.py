r"""Stylises a clip with a trained feed-forward model: one pass of the generator, no optimisation.

  python -m experiments.stylize_fast --model=out/feedforward/rooster --content=speech.flac \
      --output_dir=out/fast --block_frames=8

``--model``: a training work directory or shipped model folder (``model.msgpack`` in it) or the
``.msgpack`` itself (``experiments/train_feedforward.py``); default: the first model shipped
under ``specst_jax/weights/feedforward/``. The content is read at the model's
rate; its spectrogram goes through the compiled generator (``feedforward.stylize_fast``) and
``--phase_method`` (default ``rtpghi``: one pass, real time). Timings are of a second call
(the first compiles; its wall time is ``first_call_s``): ``rtf_spectrogram`` = generator
seconds / audio seconds, ``rtf_total`` = analysis (STFT, encoding), generator and phase seconds
/ audio seconds. With ``--block_frames=N`` the spectrogram is also run through the generator
N frames at a time (``feedforward.stylize_stream``): ``stream.max_rel_diff`` is its largest
difference to the whole-file result relative to that result's peak; ``stream.latency_s`` =
N * hop / sr is what the causal generator adds (it needs no lookahead; its receptive field is
past context only); the STFT window (n_fft samples) and rtpghi's one frame add their own
(``stream.algorithmic_latency_s``, their sum).

Writes, as one set in ``--output_dir`` (checked before any work), what
``experiments/style_transfer.py`` writes (``specst_jax.style.output_files``): ``result.wav``,
``content.wav``, ``style.wav`` (when the model's folder holds the style clip it was trained on,
or ``--style``), ``spectrograms.png``, ``metrics.json`` (timings, real-time factors, the
engine's loss at the result when the style is known, the listener check of every WAV,
``provenance``) and ``index.html``.
"""

import dataclasses
import time

import jax
import numpy as np
from absl import app, flags

from specst_jax import audio, cli, files, listener, phase, provenance
from specst_jax.style import feedforward, output_files, transfer

_MODEL = flags.DEFINE_string("model", None, "model folder (model.msgpack in it) or .msgpack "
                             "file (default: the shipped rooster model, the demo)")
_CONTENT = flags.DEFINE_string("content", None, "content audio file (read at the model's rate)")
_OUT = flags.DEFINE_string("output_dir", "out/stylize_fast", "output folder")
_STYLE = flags.DEFINE_string("style", None, "the style clip the model was trained on (default: "
                             "style.wav beside the model; checked against its SHA-256)")
_PHASE = flags.DEFINE_enum("phase_method", "rtpghi", list(phase.METHODS),
                           "phase reconstruction (rtpghi: one real-time pass)")
_PHASE_ITER = flags.DEFINE_integer("phase_iter", 0, "iterations of a GLA stage (+fgla, +gla, "
                                   "gla, fgla); unused by the one-pass methods")
_BLOCK = flags.DEFINE_integer("block_frames", 0, "also stream the spectrogram through the "
                              "generator in blocks of this many frames (0: no streaming)")
_MAX_SECONDS = flags.DEFINE_float("max_seconds", 600.0, "refuse a longer content file, before "
                                  "any work (0: no limit)")
flags.mark_flags_as_required(["content"])

NAMES = (output_files.RESULT, output_files.CONTENT, *output_files.style_names(1),
         output_files.FIGURE, "metrics.json", "index.html")
CAPTION = ("Spectrograms, dB re each one's maximum: the inputs; the magnitude the generator "
           "made; result.wav as written, re-analysed with the model's STFT (what you hear).")


def model_path() -> str:
  """``--model``, or the shipped default model's folder (:func:`feedforward.default_model`)."""
  if _MODEL.value is not None:
    return _MODEL.value
  shipped = feedforward.default_model()
  if shipped is None:
    raise ValueError(f"--model: no shipped feed-forward model in {feedforward.SHIPPED_DIR}; "
                     "train one (python -m experiments.train_feedforward --style=FILE "
                     "--workdir=DIR) and pass --model=DIR")
  return str(shipped)


def load(model_path: str) -> feedforward.StyleModel:
  try:
    return feedforward.load_model(model_path)
  except (FileNotFoundError, ValueError) as e:
    raise ValueError(f"--model={model_path}: {e}") from e


def timed_stylize(model, content) -> tuple[feedforward.FastResult, float]:
  """A first call (compiles; its wall seconds returned) and the timed second call."""
  kw = dict(phase_method=_PHASE.value, phase_iter=_PHASE_ITER.value)
  t0 = time.perf_counter()
  feedforward.stylize_fast(model, content, **kw)
  first_s = time.perf_counter() - t0
  return feedforward.stylize_fast(model, content, **kw), first_s


def real_time_factors(timings: dict, seconds: float) -> dict:
  """``rtf_spectrogram`` (generator), ``rtf_no_phase`` (+ analysis), ``rtf_total`` (+ phase)."""
  no_phase = timings["analysis_s"] + timings["generator_s"]
  return dict(rtf_spectrogram=timings["generator_s"] / seconds, rtf_no_phase=no_phase / seconds,
              rtf_total=(no_phase + timings["phase_s"]) / seconds)


def stream_check(model, content, whole: np.ndarray, block: int) -> dict:
  """The streamed generator against the whole-file output ``whole [frames, bins]``."""
  stft = model.settings.stft
  x_c = feedforward.encode_audio(stft, model.representation, content)
  jax.block_until_ready(feedforward.stylize_stream(model, x_c, block))  # compiles the step
  t0 = time.perf_counter()
  y = np.asarray(jax.block_until_ready(feedforward.stylize_stream(model, x_c, block)))
  stream_s = time.perf_counter() - t0
  seconds = content.size / stft.sr
  latency = block * stft.hop_length / stft.sr
  return dict(
      block_frames=block, blocks=-(-whole.shape[-2] // block),
      max_rel_diff=float(np.max(np.abs(y - whole)) / np.max(np.abs(whole))),
      stream_s=stream_s, rtf_stream=stream_s / seconds, latency_s=latency,
      algorithmic_latency_s=latency + (stft.n_fft + stft.hop_length) / stft.sr,
      receptive_field_frames=model.receptive_field,
      receptive_field_s=model.receptive_field * stft.hop_length / stft.sr,
      note=("latency_s: the block (the generator is causal: output frame t needs input frames "
            "t - R + 1 .. t, R the receptive field, all past context); "
            "algorithmic_latency_s adds the STFT window (n_fft) and rtpghi's one frame (hop)" +
            ("" if model.representation == "log1p" else
             "; unit_db frames are dB re the clip's maximum: a live stream needs that level "
             "fixed in advance")))


def engine_losses(model, x: np.ndarray, content, style) -> dict:
  """The optimisation's loss terms at the generated frames ``x [frames, bins]`` (the engine's
  net, weights and targets for the model's settings)."""
  _, net = feedforward.loss_net(model.settings)
  stft, rep = model.settings.stft, model.representation
  terms = feedforward.engine_loss_terms(net, x, feedforward.encode_audio(stft, rep, content),
                                        [feedforward.encode_audio(stft, rep, style)])
  return {k: float(v) for k, v in terms.items()}


def run(output_dir: str) -> dict:
  """Stylises ``--content`` with ``--model``; writes the output set and returns the metrics."""
  t_start = time.perf_counter()
  if _BLOCK.value < 0:
    raise ValueError(f"--block_frames must be >= 0, got {_BLOCK.value}")
  if _PHASE_ITER.value < 0:
    raise ValueError(f"--phase_iter must be >= 0, got {_PHASE_ITER.value}")
  given = model_path()
  model_file = feedforward.model_file(given)
  style_in = _STYLE.value or str(model_file.parent / feedforward.STYLE_CLIP)
  inputs = [_CONTENT.value, str(model_file), str(model_file.with_suffix(".json")), style_in]
  out = files.check_output_dir(output_dir, inputs=inputs, names=NAMES)
  audio.check_duration(_CONTENT.value, _MAX_SECONDS.value, flag="--max_seconds")
  model = load(given)
  s = dataclasses.replace(model.settings, phase_method=_PHASE.value, phase_iter=_PHASE_ITER.value)
  found = feedforward.load_style(model, model_file, _STYLE.value)
  style, style_file = found if found is not None else (None, None)
  content = audio.load_audio(_CONTENT.value, sr=s.stft.sr, min_samples=s.stft.n_fft)[0]
  seconds = content.size / s.stft.sr
  r, first_s = timed_stylize(model, content)
  metrics = dict(
      settings=dict(s.as_dict(), model=str(model_file), content=_CONTENT.value,
                    style=None if style_file is None else str(style_file),
                    block_frames=_BLOCK.value, output_dir=output_dir),
      model=dict(style=model.style, representation=model.representation,
                 generator=feedforward.generator_dict(model.generator),
                 param_count=feedforward.param_count(model.params),
                 receptive_field_frames=model.receptive_field,
                 train_step=model.info.get("train", {}).get("step")),
      audio_seconds=seconds, timings=dict(r.timings, first_call_s=first_s),
      **real_time_factors(r.timings, seconds), sc_db=float(r.sc_db),
      device=str(jax.devices()[0]))
  if style is not None:
    metrics["final_losses"] = engine_losses(model, r.x, content, style)
  if _BLOCK.value:
    metrics["stream"] = stream_check(model, content, r.x, _BLOCK.value)
  metrics["provenance"] = provenance.record(
      data=[_CONTENT.value, model_file] + ([] if style_file is None else [style_file]))
  write_set(out, inputs, s, r, content, style, metrics, t_start)
  return metrics


def write_set(out, inputs, s, r, content, style, metrics, t_start) -> None:
  """The output set: the WAVs, the figure, ``metrics.json`` and ``index.html``."""
  styles = [] if style is None else [style]
  shown = [("content", r.content_magnitude)]
  if style is not None:
    shown.append(("style", np.asarray(transfer.magnitudes(s.stft, style, "style"))))
  shown.append(("generated magnitude (feed-forward)", r.magnitude))
  result_measures = {**{f"{k} loss": v for k, v in metrics.get("final_losses", {}).items()},
                     "SC before writing (dB)": metrics["sc_db"],
                     "real-time factor (total)": metrics["rtf_total"]}
  with files.output_set(out, inputs=inputs) as tmp:
    metrics["listener"] = output_files.write_audio(tmp, s, r, content, styles)
    output_files.write_panels(tmp, s, shown)
    metrics["wall_time_s"] = time.perf_counter() - t_start
    files.write_json(tmp / "metrics.json", metrics, indent=1)
    output_files.write_result_page(tmp, f"feed-forward style transfer ({s.net})", len(styles),
                                   result_measures, metrics, CAPTION)
  listener.warn_each(out, metrics["listener"])
  stream = metrics.get("stream")
  streamed = (f"; streamed in {stream['block_frames']}-frame blocks: max rel. diff "
              f"{stream['max_rel_diff']:.2g}, latency {1000 * stream['latency_s']:.0f} ms"
              if stream else "")
  print(f"stylize_fast: wrote {out} ({', '.join(metrics['listener'])}, {output_files.FIGURE}, "
        f"metrics.json, index.html); {metrics['audio_seconds']:.2f} s of audio: real-time factor "
        f"{metrics['rtf_spectrogram']:.2g} (spectrogram), {metrics['rtf_total']:.2g} (total, "
        f"{s.phase_method}){streamed}")


def main(argv):
  cli.quiet()  # no XLA TPU-probe line; AudioWarnings as one line each
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  with cli.one_line_errors("stylize_fast"):
    run(_OUT.value)


def console() -> None:
  """The installed command's entry point (setup.cfg ``console_scripts``)."""
  cli.console(main, __name__)


if __name__ == "__main__":
  console()
