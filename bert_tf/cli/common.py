"""Flags from option dataclasses, and the absl entry point every tool shares.

Every tool: `--help` lists its own flags with their help and exits 0; a bad flag
or a UsageError prints one line and exits 2, without a traceback (Ctrl-C: one line, exit 130).
"""

import contextlib
import dataclasses
import os
import re
import sys
import tempfile
import textwrap
import typing

from absl import app
from absl import flags

from bert_tf.errors import UsageError

# TensorFlow's C++ start-up lines bury the one line a user needs; TF_CPP_MIN_LOG_LEVEL=0
# brings them back.
DEFAULT_TF_LOG_LEVEL = "2"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", DEFAULT_TF_LOG_LEVEL)
_LEVELS = "IWEF"  # absl/glog's severities, in TF_CPP_MIN_LOG_LEVEL's order
_LOG_LINE = re.compile(r"^([%s])\d{4} " % _LEVELS)  # I1130 18:19:46.108868 ...
FLAGS = flags.FLAGS
_HELP_ARGS = ("-h", "-?", "--help", "-help", "--helpshort", "--helpfull", "-helpfull")


def flag_type(field):
  """The type of a field's flag (X of Optional[X])."""
  kind = field.type
  if typing.get_origin(kind) is typing.Union:  # Optional[X]
    kind = next(t for t in typing.get_args(kind) if t is not type(None))
  return kind


def _fields(options_class, names=None):
  return [f for f in dataclasses.fields(options_class) if names is None or f.name in names]


def define_flags(options_class, names=None):
  """Defines one absl flag per field of `options_class` (or those in `names`; safe to
  call twice)."""
  for field in _fields(options_class, names):
    if field.name in FLAGS:
      continue
    meta = field.metadata
    default = field.default if field.default is not dataclasses.MISSING else None
    if meta.get("flag_default") is not None:
      default = meta["flag_default"]
    kind, help_text = flag_type(field), meta.get("help", "")
    if meta.get("choices"):
      flags.DEFINE_enum(field.name, default, list(meta["choices"]), help_text)
    elif kind is bool:
      flags.DEFINE_bool(field.name, default, help_text)
    elif kind is int:
      flags.DEFINE_integer(field.name, default, help_text)
    elif kind is float:
      flags.DEFINE_float(field.name, default, help_text)
    else:
      flags.DEFINE_string(field.name, default, help_text)


def options_from_flags(options_class, fallback=None, **fixed):
  """The options from parsed flags: a flag left out takes `fallback`'s value where it has
  one, else keeps the field's own default (None for settings a trained run fixes); `fixed`
  values are the door's own."""
  values = dict(fallback or {})
  for field in dataclasses.fields(options_class):
    if field.name in FLAGS and FLAGS[field.name].present:
      values[field.name] = FLAGS[field.name].value
  return options_class(**dict(values, **fixed))


def help_text(options_class, usage, names=None):
  lines = [usage.strip(), "", "flags:"]
  for field in _fields(options_class, names):
    default = FLAGS[field.name].default if field.name in FLAGS else field.default
    meta = field.metadata
    shown = "" if default is None else " (default: %s)" % (
        str(default).lower() if isinstance(default, bool) else default)
    choices = " One of: %s." % ", ".join(meta["choices"]) if meta.get("choices") else ""
    lines.append("  --%s" % field.name)
    lines += textwrap.wrap(meta.get("help", "") + choices + shown, 90,
                           initial_indent="      ", subsequent_indent="      ")
  return "\n".join(lines) + "\n"


def run(main, options_class, usage, names=None, check=None):
  """absl.app.run(main) with our help, and exit 2 for every usage error. `names`: only
  these fields of `options_class` become flags. `check()`, the door's checks of its flags
  (by default: that they make valid options), runs before TensorFlow loads."""
  define_flags(options_class, names)

  def parse(argv):
    if any(arg in _HELP_ARGS for arg in argv[1:]):
      sys.stdout.write(help_text(options_class, usage, names))
      sys.exit(0)
    try:
      rest = FLAGS(argv)
    except flags.Error as e:
      _fail(_flag_error(e) + " (see --help)")
    if len(rest) > 1:
      _fail("unexpected argument %r: flags are written --name=value (see --help)." % rest[1])
    return rest

  def guarded(argv):
    from bert_tf.config import warnings_said_once  # pylint: disable=g-import-not-at-top
    with interruptible(), warnings_said_once():  # the options are made twice: warn once
      try:
        (check or (lambda: options_from_flags(options_class)))()  # in 0.1 s, not 4
        with quiet_native_startup():
          import tensorflow  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
        return main(argv)
      except UsageError as e:
        _fail(str(e))
      except BrokenPipeError:
        # The reader of our output left (`| head`): stop quietly, as a Unix tool killed by
        # SIGPIPE does (exit 141), and keep Python's flush at exit off the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)

  app.run(guarded, flags_parser=parse)


@contextlib.contextmanager
def quiet_native_startup():
  """TensorFlow's C++ logs its start-up before it reads TF_CPP_MIN_LOG_LEVEL (absl writes
  everything before InitializeLog to stderr): seven lines, an error among them, before the
  one line a user needs. Inside, stderr goes to a file; the lines below the level are
  dropped and the rest (Python warnings, real errors) written out after. Once TensorFlow
  is loaded, the GPUs are asked for inside too: CUDA says there that it has no driver (the
  lines are read together), and TensorFlow's absl init callback would ask later, unquieted."""
  level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")
  level = int(level) if level.isdigit() else 0
  if level == 0:
    yield
    return
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      yield
      if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].config.list_physical_devices("GPU")
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      lines = captured.read().decode("utf-8", "replace").splitlines(True)
      no_driver = any("Could not find cuda drivers" in line for line in lines)
      sys.stderr.write("".join(_kept_lines(lines, level, no_driver)))
      sys.stderr.flush()


def _kept_lines(lines, level, no_driver):
  for line in lines:
    match = _LOG_LINE.match(line)
    if match and _LEVELS.index(match.group(1)) < level:
      continue
    if match and no_driver and "failed call to cuInit" in line:
      continue  # no CUDA driver at all: the CPU is expected, not an error
    if line.startswith(("WARNING: All log messages before absl::InitializeLog()",
                        "To enable the following instructions:")):
      continue  # the banner, and the rest of the CPU-instructions info line
    yield line


@contextlib.contextmanager
def interruptible():
  """Ctrl-C inside: one line and exit 130, not a traceback through TensorFlow."""
  try:
    yield
  except KeyboardInterrupt:
    print("interrupted: finished work is kept (checkpoints, cached features, results); "
          "the same command resumes or redoes the rest.", file=sys.stderr)
    sys.exit(130)


def _flag_error(error):
  """absl's message, first line; its boolean parser's is a tuple ('Non-boolean ...', value)."""
  message = str(error).splitlines()[0]
  return re.sub(r"\('Non-boolean argument to boolean flag', '(.*)'\)",
                r"\1 is not true or false", message)


def _fail(message):
  print("error: %s" % message, file=sys.stderr)
  sys.exit(2)
