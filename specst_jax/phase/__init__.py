"""Phase reconstruction: magnitude ``[..., frames, bins]`` -> audio ``[..., samples]``."""

from specst_jax.phase.griffin_lim import griffin_lim, spectral_convergence
from specst_jax.phase.api import METHODS, reconstruct
