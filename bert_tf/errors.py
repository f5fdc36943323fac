"""User-facing errors, atomic file writing, and Ctrl-C held back where it would do harm.

A `UsageError` is a mistake in the user's input (a flag, a file, a label) or its
environment (a full disk, a read-only directory): the CLI prints its one line and
exits 2, without a traceback. Bugs keep their tracebacks.
"""

import contextlib
import errno
import os
import shutil
import signal
import tempfile
import threading
import time

# Temporaries are siblings named TMP_PREFIX...; run_dir removes those an
# interrupted write left behind.
TMP_PREFIX = ".tmp-"
_ENVIRONMENT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                       errno.EFBIG)


class UsageError(ValueError):
  """A one-line error about user input that names the file/line/flag and the fix."""


class EmptySplitError(UsageError):
  """No examples could be split off the training data for a set (too little data)."""


def _tmp_sibling(path):
  directory = os.path.dirname(os.path.abspath(path))
  try:
    os.makedirs(directory, exist_ok=True)
    base = os.path.basename(path)
    return tempfile.mkdtemp(prefix=TMP_PREFIX + base + "-", dir=directory)
  except OSError as e:
    raise UsageError("Cannot write %s: %s." % (path, e.strerror or e)) from None


def temporary_directory_for(path):
  """A new temporary directory next to `path` (removed by remove_temporaries if left)."""
  return _tmp_sibling(path)


@contextlib.contextmanager
def atomic_path(path):
  """Yields a temporary path next to `path`; renames it onto `path` on success.

  Works for files and directories. A crash leaves the old `path` (if any) intact
  and at worst a `.tmp-*` directory behind, never a half-written artefact.
  """
  made = _missing_directories(os.path.dirname(os.path.abspath(path)))
  tmp_dir = _tmp_sibling(path)
  tmp_path = os.path.join(tmp_dir, os.path.basename(path))
  try:
    with reported_write(path):
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
    for directory in made:  # made for it, left empty by a failure: removed, deepest first
      try:
        os.rmdir(directory)
      except OSError:
        break


def _missing_directories(directory):
  """`directory` and those of its ancestors that do not exist yet, deepest first."""
  missing = []
  while directory and not os.path.exists(directory):
    missing.append(directory)
    parent = os.path.dirname(directory)
    directory = parent if parent != directory else None
  return missing


@contextlib.contextmanager
def reported_write(path):
  """Turns a full disk, quota or read-only file system while writing `path` into a
  one-line UsageError (bugs keep their tracebacks)."""
  try:
    yield
  except Exception as e:  # pylint: disable=broad-except
    if is_disk_error(e):
      raise UsageError("Cannot write %s: %s; free some space (or fix the permissions) and "
                       "rerun: the run resumes." % (path, _reason(e))) from None
    raise


def is_disk_error(error):
  """A full disk, quota or read-only file system, from Python or TensorFlow's writers."""
  if isinstance(error, OSError):
    return error.errno in _ENVIRONMENT_ERRNOS
  return type(error).__module__.startswith("tensorflow") and _reason(error) in _TF_DISK_REASONS


_TF_DISK_REASONS = ("No space left on device", "Disk quota exceeded", "Read-only file system",
                    "File too large")


def _reason(error):
  if isinstance(error, OSError) and error.strerror:
    return error.strerror
  text = str(error)
  return next((r for r in _TF_DISK_REASONS if r in text), text.splitlines()[0][:160])


def remove_temporaries(directory, older_than=0.0):
  """Removes what interrupted atomic writes left in `directory`: call it while no other
  writer can be at work there (under the run directory's lock), or with `older_than`
  seconds, so that a write in progress elsewhere is left alone."""
  removed = []
  if not os.path.isdir(directory):
    return removed
  for name in os.listdir(directory):
    path = os.path.join(directory, name)
    if older_than and time.time() - os.path.getmtime(path) < older_than:
      continue
    if name.startswith(TMP_PREFIX) or (".old-" + TMP_PREFIX) in name:
      shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.remove(path)
      removed.append(path)
  return removed


def write_text_atomic(path, text):
  with atomic_path(path) as tmp:
    with open(tmp, "w", encoding="utf-8") as f:
      f.write(text)


@contextlib.contextmanager
def interrupts_deferred():
  """Ctrl-C (SIGINT) inside is handled on leaving: a checkpoint is written whole rather than
  dropped half-way; processes are forked without Python dropping a KeyboardInterrupt raised
  in an at-fork handler. A second Ctrl-C stops at once. Outside the main thread, signals
  never come."""
  previous = signal.getsignal(signal.SIGINT)
  if threading.current_thread() is not threading.main_thread() or previous is None:
    yield  # (None: a handler not set from Python, which could not be put back)
    return
  received = []

  def hold(number, frame):
    if received:  # pressed again: stop now
      raise KeyboardInterrupt
    received.append(frame)
  signal.signal(signal.SIGINT, hold)
  try:
    yield
  except BaseException:  # an error already on its way is what the user sees
    signal.signal(signal.SIGINT, previous)
    raise
  signal.signal(signal.SIGINT, previous)
  if received and callable(previous):  # Python's: raises KeyboardInterrupt
    previous(signal.SIGINT, received[0])
  elif received and previous == signal.SIG_DFL:
    os.kill(os.getpid(), signal.SIGINT)
