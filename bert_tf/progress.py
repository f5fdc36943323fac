"""Progress bars for long work: Keras-style on a terminal, log lines elsewhere.

The mode is a process-wide display setting (like the logging level): "auto" draws
bars on a terminal, "bar" always, "log" never (periodic log lines instead), "off"
neither (the Python API's verbose=0).
"""

import contextlib
import sys

import tf_keras as keras

MODES = ("auto", "bar", "log", "off")
_mode = {"value": "auto"}


def set_mode(mode):
  if mode not in MODES:
    raise ValueError("progress mode must be one of %s, got %r." % (", ".join(MODES), mode))
  _mode["value"] = mode


@contextlib.contextmanager
def mode(value):
  previous = _mode["value"]
  set_mode(value)
  try:
    yield
  finally:
    _mode["value"] = previous


def progress_bar(total, unit_name="step", min_total=5000, always=False):
  """A keras Progbar for `total` items, or None when no bar should be drawn (short loops
  unless `always`, output that is not a terminal in "auto" mode, "log"/"off" modes)."""
  value = _mode["value"]
  if value in ("log", "off") or (value == "auto" and not sys.stdout.isatty()):
    return None
  if total < min_total and not always:
    return None
  return keras.utils.Progbar(total, unit_name=unit_name)
