"""User-facing errors and atomic file writing.

A `UsageError` is a mistake in the user's input (a flag, a file, a label): the CLI
prints its one line and exits 2, without a traceback. Bugs keep their tracebacks.
"""

import contextlib
import os
import shutil
import sys
import tempfile

from absl import app


class UsageError(ValueError):
  """A one-line error about user input that names the file/line/flag and the fix."""


def _tmp_sibling(path):
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  base = os.path.basename(path)
  return tempfile.mkdtemp(prefix=".tmp-" + base + "-", dir=directory)


@contextlib.contextmanager
def atomic_path(path):
  """Yields a temporary path next to `path`; renames it onto `path` on success.

  Works for files and directories. A crash leaves the old `path` (if any) intact
  and at worst a `.tmp-*` directory behind, never a half-written artefact.
  """
  tmp_dir = _tmp_sibling(path)
  tmp_path = os.path.join(tmp_dir, os.path.basename(path))
  try:
    yield tmp_path
    if os.path.isdir(path) and not os.path.islink(path):
      old = path + ".old-" + os.path.basename(tmp_dir)
      os.replace(path, old)
      os.replace(tmp_path, path)
      shutil.rmtree(old, ignore_errors=True)
    else:
      os.replace(tmp_path, path)
  finally:
    shutil.rmtree(tmp_dir, ignore_errors=True)


def write_text_atomic(path, text):
  with atomic_path(path) as tmp:
    with open(tmp, "w", encoding="utf-8") as f:
      f.write(text)


def run_main(main):
  """absl.app.run(main), printing a UsageError as one line and exiting 2."""
  def guarded(argv):
    try:
      return main(argv)
    except UsageError as e:
      print("error: %s" % e, file=sys.stderr)
      sys.exit(2)

  app.run(guarded)
