"""What every command-line tool in experiments/ does first.

``quiet()`` is the first line of each absl ``main``: it drops JAX's "Unable to initialize backend
'tpu'" INFO line (logged by ``jax._src.xla_bridge`` when it probes for accelerators, which absl
prints before any error of ours) and prints each :class:`specst_jax.audio.AudioWarning` as one
``warning: ...`` line instead of a Python warning with its source line.
"""

import logging

from specst_jax import audio

XLA_BRIDGE_LOGGER = "jax._src.xla_bridge"


def quiet() -> None:
  """Quiets the XLA backend probe and shows AudioWarnings as single lines (idempotent)."""
  logging.getLogger(XLA_BRIDGE_LOGGER).setLevel(logging.WARNING)
  audio.show_warnings_as_lines()
