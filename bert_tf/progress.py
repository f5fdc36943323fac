"""Progress bars for long loops: live on a terminal, one summary line in logs."""

import sys

import tf_keras as keras


def progress_bar(total, unit_name="step", min_total=5000):
  """A keras Progbar for `total` items, or None when the loop is too short to need one."""
  if total < min_total:
    return None
  return keras.utils.Progbar(total, unit_name=unit_name,
                             verbose=1 if sys.stdout.isatty() else 2)
