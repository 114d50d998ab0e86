r"""Audio style transfer on spectrograms (Ulyanov's random 1-D net, the paper's classifier, VGG-19).

  python -m experiments.style_transfer                      # short demo on built-in signals
  python -m experiments.style_transfer --content=speech.flac --style=rooster.wav \
      --net=ulyanov --n_iter=300 --output_dir=out/st

Writes ``result.wav`` (peak-normalised to 0.99 only if it would clip), ``content.wav`` and
``style.wav`` (the inputs at the run's rate, 16-bit: ``style_1.wav``, ... for several styles),
``spectrograms.png`` (content, style, the optimised target magnitude and the written result
re-analysed), ``metrics.json`` (with ``provenance``: commit, command, machine, ``data_sha256`` of
the content and style files; :mod:`specst_jax.provenance`) and ``index.html`` to ``--output_dir``
as one set. Every WAV gets
the listener's check (:mod:`specst_jax.listener`; the result's spectral convergence is against
the target magnitude), recorded under ``listener`` in ``metrics.json``; a failed check prints one
warning line naming the file and does not stop the run (the files:
``specst_jax.style.output_files``). Inputs longer than ``--max_seconds`` (default 60 s) are
refused from their headers before any work; a clip shorter than one STFT frame is an error naming
the file.
Unset flags take the net's defaults (``style.nets.NETS``; trained Wyse weights bring their STFT);
without ``--content``: the demo (built-in signals, ``transfer.DEMO`` sizes). Engine:
``specst_jax.style.transfer``.
"""

import time

import jax
from absl import app, flags

from specst_jax import audio, cli, files, listener, provenance
from specst_jax.style import nets, output_files, transfer

_CONTENT = flags.DEFINE_string("content", None, "content audio file; unset: built-in demo signal")
_STYLE = flags.DEFINE_multi_string("style", None, "style audio file (repeatable: Grams combined)")
_NET = flags.DEFINE_enum("net", "ulyanov", list(nets.NETS), "network")
_WEIGHTS = flags.DEFINE_string(
    "weights", None, "vgg19: .npz/.h5/.pth/.mat ImageNet weights; wyse: trained weights "
    "(default: the shipped ones when present) or 'random'; ulyanov: unused (always random)")
_OUT = flags.DEFINE_string("output_dir", "out/style_transfer", "output folder (relative to the "
                           "folder the command runs in)")
_SEED = flags.DEFINE_integer("seed", 0, "PRNG seed (weights, initial noise, phase)")
_MAX_SECONDS = flags.DEFINE_float(
    "max_seconds", 60.0, "refuse a content or style file longer than this, before any work "
    "(0: no limit). Memory grows with length: ulyanov (4096 filters, CPU) peaks at 1.10 GB for "
    "15 s and 1.54 GB for 60 s (0.6 GB per minute: 2 GB at ~105 s; 1 h asked for 34 GB)")
_FLAGS = {k: getattr(flags, f"DEFINE_{kind}")(k, None, *([values] if values else []),
                                              f"{help_} (net default)")
          for k, (kind, values, help_) in transfer.SETTING_FLAGS.items()}


def run(output_dir: str) -> dict:
  """One style transfer from the flags; writes the output set and returns the metrics."""
  t_start = time.perf_counter()
  demo, styles = _CONTENT.value is None, list(_STYLE.value or [])
  if demo == bool(styles):
    raise ValueError("--style needs --content (the demo uses built-in signals)" if demo else
                     "--content needs at least one --style")
  given = {k: f.value for k, f in _FLAGS.items()}
  s = transfer.Settings.for_net(_NET.value, dict(given, weights=_WEIGHTS.value, seed=_SEED.value),
                                demo=demo)
  inputs = [] if demo else [_CONTENT.value, *styles]
  out = files.check_output_dir(output_dir, inputs=inputs)
  for path in inputs:  # from the headers: nothing decoded, no model built yet
    audio.check_duration(path, _MAX_SECONDS.value, flag="--max_seconds")
  try:
    weights = nets.load_weights(s.net, s.weights)
  except FileNotFoundError as e:
    raise ValueError(f"--weights={s.weights}: {e}") from e
  s = s.adopt(weights)
  sr = s.stft.sr

  def load(path):  # a clip shorter than one STFT frame: an error naming the file
    return audio.load_audio(path, sr=sr, min_samples=s.stft.n_fft)[0]

  content, style = (transfer.demo_inputs(sr) if demo else
                    (load(_CONTENT.value), [load(p) for p in styles]))
  r = transfer.stylize(s, content, style, weights=weights)
  metrics = dict(settings=dict(s.as_dict(), demo=demo, content=_CONTENT.value, style=styles,
                               output_dir=output_dir), **r.summary(), device=str(jax.devices()[0]),
                 provenance=provenance.record(data=inputs))
  with files.output_set(out, inputs=inputs) as tmp:
    metrics["listener"] = output_files.write_audio(tmp, s, r, content, style)
    output_files.write_figure(tmp, s, r)
    metrics["wall_time_s"] = time.perf_counter() - t_start
    files.write_json(tmp / "metrics.json", metrics, indent=1)
    output_files.write_page(tmp, s, r, metrics)
  listener.warn_each(out, metrics["listener"])
  print(f"style_transfer: wrote {out} ({', '.join(metrics['listener'])}, {output_files.FIGURE}, "
        f"metrics.json, index.html) in {metrics['wall_time_s']:.1f} s; "
        f"final {metrics['final_losses']}")
  return metrics


def main(argv):
  cli.quiet()  # no XLA TPU-probe line; AudioWarnings as one line each
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  with cli.one_line_errors("style_transfer"):
    run(_OUT.value)


def console() -> None:
  """The installed command's entry point (setup.cfg ``console_scripts``)."""
  cli.console(main, __name__)


if __name__ == "__main__":
  console()
