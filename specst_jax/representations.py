"""One registry of spectrogram representations: magnitude -> x (-> magnitude).

Every consumer (ESC-50 features, style transfer, figures, measures) builds its input here:

* ``"unit_db"``: the paper's (Wyse 2017) dB re the clip max, floored at ``-top_db``, scaled to
  [0, 1] (``dB / top_db + 1``; :func:`specst_jax.scaling.unit_db`). ``[..., frames, bins]``.
* ``"log1p"``: Ulyanov & Lebedev's ``log(1 + |S|)``. ``[..., frames, bins]``.
* ``"unit_db_image"``: ``unit_db`` as a VGG-19 image ``[..., H=bins, W=frames, 3]`` (Gatys et al.);
  decoded by luminosity.
* ``"log_mel"``: dB of a Slaney mel power spectrogram re 1.0, floored ``top_db`` below the clip
  max. ``[..., frames, n_mels]``.
* ``"log_mel_deltas"``: ``log_mel`` and its first delta (Piczak's input).
  ``[..., frames, 2 n_mels]``.
* ``"mfcc"``: ``n_mfcc`` cepstral coefficients of ``log_mel`` (plus first and second deltas when
  ``options.deltas``). ``[..., frames, n_mfcc (x 3)]``.
* ``"logfreq"``: a log-frequency (semitone, constant-Q-like) magnitude spectrogram
  (:func:`specst_jax.features.logfreq_spectrogram`) in dB re the clip max, floored ``top_db``
  below it. ``[..., frames, bands]``.
* ``"A+B"`` (e.g. ``"log_mel_deltas+logfreq"``): a stack, the representations ``A`` and ``B``
  of the same frames side by side on the channel axis (early fusion). ``[..., frames,
  channels(A) + channels(B)]``; not invertible.

All maxima and floors are per spectrogram (over the last two axes), so a leading batch is
allowed. :func:`display_db` is the one scaling used for showing a spectrogram.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from specst_jax import features, scaling, spectral
from specst_jax.models import vgg19 as vgg19_lib


@dataclasses.dataclass(frozen=True)
class Stft:
  """STFT settings (hashable: a static jit argument and part of config hashes).

  Attributes:
    sr: sample rate in Hz.
    n_fft: FFT size in samples (``n_fft // 2 + 1`` bins).
    hop_length: hop in samples.
    center: pad by ``n_fft // 2`` on both sides so frame ``t`` is centred on sample ``hop t``.
  """

  sr: int = 22050
  n_fft: int = 2048
  hop_length: int = 512
  center: bool = True

  def __post_init__(self):
    for name in ("sr", "n_fft", "hop_length"):
      value = getattr(self, name)
      if isinstance(value, bool) or int(value) != value or value <= 0:
        raise ValueError(f"Stft.{name} must be a positive integer, got {value!r}")
      object.__setattr__(self, name, int(value))
    object.__setattr__(self, "center", bool(self.center))

  @property
  def n_bins(self) -> int:
    return self.n_fft // 2 + 1

  def n_frames(self, n_samples: int) -> int:
    """Frames of a signal of ``n_samples`` samples."""
    return spectral.num_frames(int(n_samples), n_fft=self.n_fft, hop_length=self.hop_length,
                               center=self.center)

  def magnitude(self, audio: ArrayLike) -> jax.Array:
    """``|STFT|`` of ``audio [..., samples]`` -> ``[..., frames, bins]`` (Hann window)."""
    return spectral.magnitude(spectral.stft(jnp.asarray(audio), n_fft=self.n_fft,
                                            hop_length=self.hop_length, center=self.center))

  def as_dict(self) -> dict:
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, d: Mapping[str, Any]) -> Stft:
    """From a mapping such as a provenance file; unknown keys are ignored, missing ones default."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


@dataclasses.dataclass(frozen=True)
class Options:
  """Parameters of the mel / MFCC / dB representations.

  Attributes:
    n_mels: mel bands (log_mel, log_mel_deltas, mfcc).
    n_mfcc: cepstral coefficients (mfcc).
    deltas: append first and second deltas to the MFCCs.
    top_db: dynamic range in dB (the floor of every dB representation).
  """

  n_mels: int = 128
  n_mfcc: int = 40
  deltas: bool = True
  top_db: float = 80.0


@dataclasses.dataclass(frozen=True)
class Representation:
  """One representation.

  Attributes:
    name: its key in :data:`REPRESENTATIONS`.
    encode: ``(magnitude [..., frames, bins], stft, options) -> x``.
    decode: ``(x, ref, options) -> magnitude [..., frames, bins]`` (``ref``: the linear
      maximum for the dB ones), or ``None`` where the map is not invertible.
    n_channels: ``(stft, options) -> int``: size of the last axis of ``x``.
  """

  name: str
  encode: Callable[[jax.Array, Stft, Options], jax.Array]
  decode: Callable[[jax.Array, Any, Options], jax.Array] | None
  n_channels: Callable[[Stft, Options], int]

  @property
  def invertible(self) -> bool:
    return self.decode is not None


# ------------------------------------------------------------------------------ encoders


def _unit_db(S, stft, o):
  return scaling.unit_db(S, top_db=o.top_db)


def _unit_db_inverse(x, ref, o):
  """[0, 1] -> magnitude, maximum at ``ref``; values outside [0, 1] are clipped, 0 -> 0."""
  u = jnp.clip(x, 0.0, 1.0)
  return jnp.where(u > 0.0, scaling.unit_db_to_amplitude(u, top_db=o.top_db), 0.0) * jnp.asarray(
      ref)


def _log_mel(S, stft, o):
  mel = features.melspectrogram(S=S ** 2, sr=stft.sr, n_fft=stft.n_fft, n_mels=o.n_mels)
  return scaling.power_to_db(mel, ref=1.0, amin=1e-10, top_db=o.top_db)


def _mfcc(S, stft, o):
  m = features.mfcc(S=_log_mel(S, stft, o), sr=stft.sr, n_mfcc=o.n_mfcc)
  return features.stack_deltas(m, orders=(1, 2)) if o.deltas else m


def _logfreq(S, stft, o):
  L = features.logfreq_spectrogram(S=S, sr=stft.sr, n_fft=stft.n_fft)
  return scaling.amplitude_to_db(L, ref="max", top_db=o.top_db)


def _bins(stft, o):
  return stft.n_bins


REPRESENTATIONS: Mapping[str, Representation] = MappingProxyType({r.name: r for r in (
    Representation("unit_db", _unit_db, _unit_db_inverse, _bins),
    Representation("log1p", lambda S, stft, o: scaling.log1p_magnitude(S),
                   lambda x, ref, o: scaling.expm1_magnitude(x), _bins),
    Representation("unit_db_image",
                   lambda S, stft, o: vgg19_lib.spectrogram_to_image(_unit_db(S, stft, o)),
                   lambda x, ref, o: _unit_db_inverse(vgg19_lib.image_to_spectrogram(x), ref, o),
                   lambda stft, o: 3),
    Representation("log_mel", _log_mel, None, lambda stft, o: o.n_mels),
    Representation("log_mel_deltas",
                   lambda S, stft, o: features.stack_deltas(_log_mel(S, stft, o), orders=(1,)),
                   None, lambda stft, o: 2 * o.n_mels),
    Representation("mfcc", _mfcc, None, lambda stft, o: o.n_mfcc * (3 if o.deltas else 1)),
    Representation("logfreq", _logfreq, None,
                   lambda stft, o: features.logfreq_filterbank(sr=stft.sr,
                                                               n_fft=stft.n_fft).shape[1]),
)})


STACK_SEPARATOR = "+"
# Not stackable: an image's last axis is colour, not channels of frames.
_UNSTACKABLE = ("unit_db_image",)


def _stack(names: list[str]) -> Representation:
  """The representations ``names`` of one magnitude, concatenated on the channel axis."""
  if len(names) < 2 or len(set(names)) != len(names) or any(n in _UNSTACKABLE for n in names):
    raise ValueError(f"a stack needs two or more distinct representations joined by "
                     f"{STACK_SEPARATOR!r}, none of {_UNSTACKABLE}, got "
                     f"{STACK_SEPARATOR.join(names)!r}")
  parts = [get(n) for n in names]

  def encode_stack(S, stft, o):
    return jnp.concatenate([p.encode(S, stft, o) for p in parts], axis=-1)

  return Representation(STACK_SEPARATOR.join(names), encode_stack, None,
                        lambda stft, o: sum(p.n_channels(stft, o) for p in parts))


def get(name: str) -> Representation:
  """The representation called ``name`` (or the stack ``"A+B"``); ValueError naming the known
  ones."""
  if isinstance(name, str) and STACK_SEPARATOR in name:
    return _stack(name.split(STACK_SEPARATOR))
  try:
    return REPRESENTATIONS[name]
  except (KeyError, TypeError):
    raise ValueError(f"representation must be one of {tuple(REPRESENTATIONS)}, "
                     f"got {name!r}") from None


def encode(name: str, magnitude: ArrayLike, stft: Stft, options: Options = Options()
           ) -> jax.Array:
  """Magnitude ``[..., frames, bins]`` -> representation ``name`` (see the module docstring)."""
  rep = get(name)
  S = jnp.asarray(magnitude)
  if S.ndim < 2 or S.shape[-1] != stft.n_bins:
    raise ValueError(f"magnitude must be [..., frames, {stft.n_bins}] for n_fft={stft.n_fft}, "
                     f"got shape {S.shape}")
  return rep.encode(S, stft, options)


def decode(name: str, x: ArrayLike, *, ref: ArrayLike = 1.0, options: Options = Options()
           ) -> jax.Array:
  """Representation ``name`` -> magnitude ``[..., frames, bins]``.

  Args:
    name: an invertible representation (``unit_db``, ``log1p``, ``unit_db_image``).
    x: the representation; values outside its range are clipped first ([0, 1] for the dB ones,
      >= 0 for log1p).
    ref: linear maximum of the magnitude (dB ones; broadcast against ``[..., frames, bins]``);
      log1p ignores it.
    options: ``top_db`` of the dB ones.
  """
  rep = get(name)
  if rep.decode is None:
    invertible = tuple(k for k, r in REPRESENTATIONS.items() if r.invertible)
    raise ValueError(f"representation {name!r} cannot be decoded (invertible: {invertible})")
  return rep.decode(jnp.asarray(x), ref, options)


def display_db(magnitude: ArrayLike, *, floor_db: float = 80.0) -> jax.Array:
  """THE display scaling: ``20 log10(S / max S)`` per spectrogram, floored at ``-floor_db``.

  ``[..., frames, bins]`` -> dB in ``[-floor_db, 0]`` (a silent spectrogram is all
  ``-floor_db``).
  """
  if not floor_db > 0:
    raise ValueError(f"floor_db must be positive, got {floor_db}")
  S = jnp.abs(jnp.asarray(magnitude, jnp.float32))
  top = jnp.maximum(jnp.max(S, axis=(-2, -1), keepdims=True), 1e-10)
  return jnp.maximum(20.0 * jnp.log10(jnp.maximum(S / top, 1e-30)), -float(floor_db))
