"""Phase reconstruction: magnitude ``[..., frames, bins]`` -> phase or audio.

One-pass estimators (:func:`pghi`, :func:`rtpghi`, :func:`spsi`, :func:`rtisi_la`)
return a phase ``[..., frames, bins]`` in radians; :func:`griffin_lim` and
:func:`reconstruct` return audio ``[..., samples]``.
"""

from specst_jax.phase.api import (
    DEFAULT_METHOD,
    DEFAULT_N_ITER,
    METHODS,
    reconstruct,
    reconstruct_sharded,
)
from specst_jax.phase.gla import griffin_lim, spectral_convergence
from specst_jax.phase.phase_gradient import (
    RTPGHIState,
    pghi,
    phase_gradients,
    rtpghi,
    rtpghi_init,
    rtpghi_step,
    window_gamma,
)
from specst_jax.phase.rtisi import rtisi_la
from specst_jax.phase.single_pass import spsi

__all__ = [
    "DEFAULT_METHOD",
    "DEFAULT_N_ITER",
    "METHODS",
    "RTPGHIState",
    "griffin_lim",
    "pghi",
    "phase_gradients",
    "reconstruct",
    "reconstruct_sharded",
    "rtisi_la",
    "rtpghi",
    "rtpghi_init",
    "rtpghi_step",
    "spectral_convergence",
    "spsi",
    "window_gamma",
]
