"""specst_jax.cli.quiet: what every experiments/ main does first (checked in a child process)."""

import contextlib
import io
import subprocess
import sys
import textwrap
from pathlib import Path

from absl.testing import absltest

from specst_jax import audio, cli, files

ROOT = Path(__file__).resolve().parents[1]

_MAIN = textwrap.dedent("""
    import sys, warnings
    from absl import app
    import jax
    from specst_jax import audio, cli

    def main(argv):
      if sys.argv[-1] == "quiet":
        cli.quiet()
        cli.quiet()  # idempotent: still one line per warning
      jax.devices()  # the backend probe logs "Unable to initialize backend 'tpu'" (INFO)
      warnings.warn("x.wav: a warning", audio.AudioWarning)
      print("error: done", file=sys.stderr)
      return 1

    app.run(main, argv=sys.argv[:1])
""")


class QuietTest(absltest.TestCase):

  def _stderr(self, mode):
    r = subprocess.run([sys.executable, "-c", _MAIN, mode], capture_output=True, text=True,
                       timeout=120, cwd=ROOT)
    self.assertEqual(r.returncode, 1, r.stderr[-2000:])
    return r.stderr.strip().splitlines()

  def test_quiet_leaves_only_our_lines(self):
    self.assertEqual(self._stderr("quiet"), ["warning: x.wav: a warning", "error: done"])

  def test_without_it_the_warning_has_a_source_line(self):
    lines = self._stderr("loud")
    self.assertIn("AudioWarning: x.wav: a warning", "\n".join(lines))
    self.assertNotIn("warning: x.wav: a warning", lines)


class OneLineErrorsTest(absltest.TestCase):

  def _exit(self, error):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as e:
      with cli.one_line_errors("tool"):
        raise error
    return e.exception.code, err.getvalue()

  def test_user_errors_become_one_line_and_exit_1(self):
    for error in (audio.AudioError("a.wav: too long"), files.OutputError("/x: is a file"),
                  ValueError("--n_iter must be >= 1"), FileNotFoundError("w.msgpack: missing"),
                  FloatingPointError("nan loss")):
      self.assertEqual(self._exit(error), (1, f"tool: error: {error}\n"))

  def test_other_errors_pass_through(self):
    with self.assertRaises(KeyError), cli.one_line_errors("tool"):
      raise KeyError("a bug")
    with cli.one_line_errors("tool"):  # no error: nothing happens
      pass


if __name__ == "__main__":
  absltest.main()
