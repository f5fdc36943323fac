"""Runs a command-line tool as a user does, in a fresh process, without TensorFlow's import.

Importing TensorFlow costs 4-5 s of the 5 s a failing command takes here, and the suite runs
dozens of them. A zygote process imports TensorFlow and bert_tf once, at the first call, and
then forks one child per command: the child gets the command's argv, environment, working
directory and its own stdout/stderr, runs the tool's `__main__` and exits with its status. The
zygote never runs TensorFlow (no thread pools exist when it forks). TensorFlow reads
TF_CPP_MIN_LOG_LEVEL once, at import: there is one zygote per value. Tests of what happens
before TensorFlow loads, of a bare Python, or of limits that would also cap the captured
output keep a real subprocess.
"""

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import types

from bert_tf.cli.common import DEFAULT_TF_LOG_LEVEL

_ZYGOTES = {}  # TF_CPP_MIN_LOG_LEVEL -> the zygote process
_LOCK = threading.Lock()
# What the tools import, but not the tools' own modules: `-m` runs those afresh.
_IMPORTS = ("tensorflow", "tf_keras", "bert_tf.cli.common", "bert_tf.runner", "bert_tf.export",
            "bert_tf.predictor")


def run_tool(args, env=None, cwd=None, timeout=300):
  """`subprocess.run([sys.executable] + args, capture_output=True, text=True, ...)`, where
  `args` starts with a script's path, `-m module` or `-c code`."""
  env = dict(os.environ if env is None else env)
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", DEFAULT_TF_LOG_LEVEL)  # as the tools set it
  with _LOCK, tempfile.TemporaryDirectory() as tmp:
    zygote = _zygote(env["TF_CPP_MIN_LOG_LEVEL"])
    out, err = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
    request = dict(args=list(args), env=env, cwd=cwd or os.getcwd(), stdout=out, stderr=err)
    try:
      zygote.stdin.write((json.dumps(request) + "\n").encode())
      zygote.stdin.flush()
      pid = int(_reply(zygote))
      if not select.select([zygote.stdout], [], [], timeout)[0]:
        os.kill(pid, signal.SIGKILL)
        _reply(zygote)
        raise subprocess.TimeoutExpired([sys.executable] + list(args), timeout)
      returncode = int(_reply(zygote))
    except BaseException:
      zygote.kill()  # its replies may be out of step with the requests now: start afresh
      zygote.wait()
      raise
    read = lambda path: open(path, encoding="utf-8", errors="replace").read()
    return subprocess.CompletedProcess([sys.executable] + list(args), returncode, read(out),
                                       read(err))


def _zygote(log_level):
  zygote = _ZYGOTES.get(log_level)
  if zygote is None or zygote.poll() is not None:
    # bufsize=0: a reply read early must not sit in a buffer that select() cannot see.
    zygote = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0,
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL=log_level))
    atexit.register(zygote.stdin.close)
    _ZYGOTES[log_level] = zygote
  return zygote


def _reply(zygote):
  line = zygote.stdout.readline()
  if not line:
    raise RuntimeError("the zygote of tests/tool_runner.py died: run it by hand to see why")
  return line


def _child(request, replies):
  """In the forked child: become the command, run it, exit as Python would."""
  import runpy  # pylint: disable=g-import-not-at-top
  replies.close()
  os.chdir(request["cwd"])
  os.environ.clear()
  os.environ.update(request["env"])
  for fd, path, mode in ((0, os.devnull, os.O_RDONLY),
                         (1, request["stdout"], os.O_WRONLY | os.O_CREAT),
                         (2, request["stderr"], os.O_WRONLY | os.O_CREAT)):
    os.dup2(os.open(path, mode, 0o644), fd)
  args = request["args"]
  code = 0
  try:
    if args[0] == "-c":
      sys.argv = ["-c"] + args[2:]
      sys.path[0] = ""  # as `python -c` has it
      main = types.ModuleType("__main__")
      sys.modules["__main__"] = main
      exec(compile(args[1], "<string>", "exec"), main.__dict__)  # pylint: disable=exec-used
    elif args[0] == "-m":
      sys.argv = [args[1]] + args[2:]
      sys.path[0] = os.getcwd()  # as `python -m` has it
      runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
      sys.argv = list(args)
      sys.path[0] = os.path.dirname(os.path.abspath(args[0]))
      runpy.run_path(args[0], run_name="__main__")
  except SystemExit as e:
    if e.code is None or isinstance(e.code, int):
      code = e.code or 0
    else:
      print(e.code, file=sys.stderr)
      code = 1
  except BaseException:  # pylint: disable=broad-except
    import traceback  # pylint: disable=g-import-not-at-top
    traceback.print_exc()
    code = 1
  atexit._run_exitfuncs()  # pylint: disable=protected-access
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code)  # pylint: disable=protected-access


def _serve():
  """The zygote: import once, then fork a child per request line on stdin."""
  import importlib  # pylint: disable=g-import-not-at-top
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  replies = os.fdopen(os.dup(1), "w")
  os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # stray prints must not reach the replies
  for module in _IMPORTS:
    importlib.import_module(module)
  for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
      try:
        _child(request, replies)
      finally:
        os._exit(70)  # the child failed before the command ran: never back into this loop
    replies.write("%d\n" % pid)
    replies.flush()
    _, status = os.waitpid(pid, 0)
    replies.write("%d\n" % (os.waitstatus_to_exitcode(status)))
    replies.flush()


if __name__ == "__main__":
  _serve()
