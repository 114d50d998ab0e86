"""Spectral features, time-major: mel, MFCC, deltas, centroid, log-frequency.

Layout: audio ``[..., samples]``; spectrograms and features ``[..., frames, bins]``
(the transpose of librosa's ``[..., bins, frames]``). Keyword names and defaults
follow librosa, and results match it up to that transpose (see the tests for the
tolerances).

Everything that touches a signal is a pure JAX function, so ``jax.jit``,
``jax.vmap`` and ``jax.grad`` go through it. Integer sizes, sample rates and
option strings are static: close over them or pass them as
``static_argnames`` when jitting. Filterbanks and DCT / Savitzky-Golay matrices
are built on the host with numpy in float64 and enter the program as constants.
Matrix products use ``Precision.HIGHEST`` so float32 parity also holds on
accelerators that would otherwise use reduced-precision matmuls.

Modules: :mod:`~specst_jax.features.mel` (mel scale, filterbank, spectrogram),
:mod:`~specst_jax.features.cepstrum` (DCT, MFCC),
:mod:`~specst_jax.features.derivatives` (deltas, stack_deltas),
:mod:`~specst_jax.features.centroid` (spectral centroid),
:mod:`~specst_jax.features.logfreq` (log-frequency filterbank and spectrogram).
The public names are re-exported here.
"""

from specst_jax.features.centroid import spectral_centroid
from specst_jax.features.cepstrum import dct, mfcc
from specst_jax.features.derivatives import deltas, stack_deltas
from specst_jax.features.logfreq import (
    logfreq_filterbank,
    logfreq_frequencies,
    logfreq_spectrogram,
)
from specst_jax.features.mel import (
    hz_to_mel,
    mel_filterbank,
    mel_frequencies,
    mel_to_hz,
    melspectrogram,
)

__all__ = [
    "dct",
    "deltas",
    "hz_to_mel",
    "logfreq_filterbank",
    "logfreq_frequencies",
    "logfreq_spectrogram",
    "mel_filterbank",
    "mel_frequencies",
    "mel_to_hz",
    "melspectrogram",
    "mfcc",
    "spectral_centroid",
    "stack_deltas",
]
