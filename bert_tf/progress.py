"""Progress bars for long loops on a terminal."""

import sys

import tf_keras as keras


def progress_bar(total, unit_name="step", min_total=5000):
  """A keras Progbar for `total` items on a terminal; None when the loop is short or the
  output goes to a log (which gets periodic logging.info lines instead)."""
  if total < min_total or not sys.stdout.isatty():
    return None
  return keras.utils.Progbar(total, unit_name=unit_name)
