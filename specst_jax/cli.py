"""What every command-line tool in experiments/ shares: its first line and its error line.

``quiet()`` is the first line of each absl ``main``: it drops JAX's "Unable to initialize backend
'tpu'" INFO line (logged by ``jax._src.xla_bridge`` when it probes for accelerators, which absl
prints before any error of ours) and prints each :class:`specst_jax.audio.AudioWarning` as one
``warning: ...`` line instead of a Python warning with its source line.

``one_line_errors(tool)`` wraps a main's work: a bad input or output location (the errors below,
each of which names the file or flag) becomes one ``<tool>: error: ...`` line and exit status 1,
no traceback.
"""

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from specst_jax import audio, files

XLA_BRIDGE_LOGGER = "jax._src.xla_bridge"
# What a user can fix: unreadable/too long/too short audio, output locations, bad settings.
USER_ERRORS = (audio.AudioError, files.OutputError, ValueError, FileNotFoundError,
               FloatingPointError)


def quiet() -> None:
  """Quiets the XLA backend probe and shows AudioWarnings as single lines (idempotent)."""
  logging.getLogger(XLA_BRIDGE_LOGGER).setLevel(logging.WARNING)
  audio.show_warnings_as_lines()


@contextlib.contextmanager
def one_line_errors(tool: str, errors: tuple[type[BaseException], ...] = USER_ERRORS
                    ) -> Iterator[None]:
  """Turns ``errors`` raised inside into ``<tool>: error: <message>`` on stderr and exit 1."""
  try:
    yield
  except errors as e:
    print(f"{tool}: error: {e}", file=sys.stderr)
    sys.exit(1)


def console(main, module: str) -> None:
  """Runs an absl ``main`` as an installed command (setup.cfg ``console_scripts``).

  Under ``python -m`` absl keys a tool's flags to ``sys.argv[0]``; an installed command's
  ``sys.argv[0]`` is its wrapper, so the flags of ``module`` (the tool's module) are keyed to it
  too, and ``--helpshort`` lists them as it does under ``python -m``.
  """
  from absl import app, flags
  if module != "__main__":  # an installed command (under python -m absl keys them itself)
    sys.argv[0] = os.path.basename(sys.argv[0])  # "specst-style", not the wrapper's path
    for flag in flags.FLAGS.get_key_flags_for_module(module):
      flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
  app.run(main)
