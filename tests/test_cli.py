"""The command-line doors: Google's 25 flags (names and defaults), help, exit codes;
code style rules that keep flags at the doors."""

import ast
import dataclasses
import importlib.util
import json
import logging
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from absl import flags
from absl import logging as absl_logging

from bert_tf.cli import common
from bert_tf.config import RunConfig
from bert_tf.errors import UsageError
from tool_runner import run_tool

REPO = pathlib.Path(__file__).resolve().parent.parent
TOOLS = ["bert_tf.cli.train", "bert_tf.cli.features", "bert_tf.cli.predict", "bert_tf.cli.export",
         "bert_tf.cli.convert", "bert_tf.cli.pretrain"]


def _google_flag_defaults():
  """{flag: default} from Google's run_classifier.py source (PyPI bert-tensorflow)."""
  pytest.importorskip("bert.tokenization")
  spec = importlib.util.find_spec("bert")
  source = open(os.path.join(os.path.dirname(spec.origin), "run_classifier.py")).read()
  defaults = {}
  for node in ast.walk(ast.parse(source)):
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and
        node.func.attr.startswith("DEFINE_")):
      defaults[node.args[0].value] = ast.literal_eval(node.args[1])
  return defaults


def test_all_google_flags_with_their_defaults():
  common.define_flags(RunConfig)
  google = _google_flag_defaults()
  # The 25 of google-research/bert, plus tpu_job_name in the PyPI release.
  assert len(google) == 26 and "tpu_job_name" in google
  for name, default in google.items():
    assert name in flags.FLAGS, name
    ours = flags.FLAGS[name].default
    if name == "do_lower_case":
      # None means "the model's own casing", which is True for Google's checkpoints.
      assert ours is None and default is True
    else:
      assert ours == default, (name, ours, default)
  # Every RunConfig field is a flag: declared once, generated.
  assert all(f.name in flags.FLAGS for f in dataclasses.fields(RunConfig))
  assert all(f.metadata.get("help") for f in dataclasses.fields(RunConfig))


@pytest.mark.parametrize("kwargs,message", [
    (dict(), "At least one of --do_train"),
    (dict(do_train=True, max_seq_length=1024), "--max_seq_length"),
    (dict(do_train=True, use_tpu=True), "--use_tpu needs --tpu_name"),
    (dict(do_train=True, init_checkpoint="a", bert_hub_module_handle="b"), "either"),
    (dict(do_train=True, warmup_proportion=1.5), "--warmup_proportion"),
    (dict(do_train=True, regression=True, label_delimiter=","), "--regression"),
    (dict(do_train=True, label_column="a,b", label_delimiter=","), "--label_delimiter splits "
     "the cells of one label column; --label_column=a,b names one 0/1 column per label"),
    (dict(do_train=True, learning_rate=float("nan")), "--learning_rate must be a finite number"),
    (dict(do_train=True, num_train_epochs=float("inf")), "--num_train_epochs must be a finite"),
    (dict(do_train=True, class_weights="1,x"), "--class_weights must be 'balanced'"),
    (dict(do_train=True, strategy="gpu"), "--strategy must be one of"),
    (dict(do_train=True, seed=-1), r"--seed must be between 0 and 2\*\*32 - 1, got -1"),
    (dict(do_train=True, split_seed=2 ** 32), "--split_seed must be between"),
    (dict(do_train=True, learning_rate="fast"), "--learning_rate must be a number, got 'fast'"),
    (dict(do_train=True, train_batch_size=8.5), "--train_batch_size must be an integer"),
    (dict(do_train=True, learning_rate=0), r"--learning_rate must be positive, got 0"),
    (dict(do_train=True, num_train_epochs=-1), r"--num_train_epochs must be positive, got -1"),
    (dict(do_train=True, dev_split=1.5), r"--dev_split must be in \[0, 1\), got 1.5"),
    (dict(do_train=True, test_split=-0.1), r"--test_split must be in \[0, 1\), got -0.1"),
    (dict(do_train=True, data_dir=__file__), r"--data_dir .*test_cli.py is a file: pass it as "
     "--train_file"),
])
def test_bad_flag_combinations(kwargs, message):
  with pytest.raises(UsageError, match=message):
    RunConfig(output_dir="/tmp/x", task_name="cola", **kwargs)


def test_numpy_numbers_become_python_numbers():  # from the API; JSON cannot write numpy's
  config = RunConfig(output_dir="/tmp/x", task_name="cola", do_train=True,
                     train_batch_size=np.int64(16), learning_rate=np.float32(3e-5))
  assert type(config.train_batch_size) is int and type(config.learning_rate) is float
  assert json.loads(config.to_json_string())["train_batch_size"] == 16
  with pytest.raises(UsageError, match="--learning_rate must be a finite number"):
    RunConfig(output_dir="/tmp/x", task_name="cola", do_train=True,
              learning_rate=np.float32("nan"))


def test_a_grid_says_each_config_warning_once(caplog):  # it copies its config per run
  from bert_tf.config import warnings_said_once  # pylint: disable=g-import-not-at-top
  config = RunConfig(output_dir="/tmp/x", task_name="cola", do_train=True, learning_rate=0.0375)
  with warnings_said_once():
    for seed in (2, 3):
      dataclasses.replace(config, seed=seed)
    dataclasses.replace(config, learning_rate=0.0625)
  dataclasses.replace(config, seed=4)  # outside a grid: said each time
  said = [r.getMessage() for r in caplog.records if "far above" in r.getMessage()]
  assert [m.split(" is ")[0] for m in said] == ["--learning_rate=0.0375"] * 2 + [
      "--learning_rate=0.0625", "--learning_rate=0.0375"]


def test_eval_and_predict_read_data_with_the_trainings_flags_unless_told(tmp_path, caplog):
  from bert_tf.cli import train  # pylint: disable=g-import-not-at-top
  caplog.set_level(logging.INFO)
  labels = tmp_path / "labels.txt"
  labels.write_text("neg\npos\n")
  trained = dict(json.loads(RunConfig(output_dir=str(tmp_path), do_train=True,
                                      train_file="t.csv").to_json_string()),
                 text_column="review", label_column="stars", labels_file=str(labels),
                 text_b_column="other", dev_split=0.2, seed=7, encoding="latin-1")
  (tmp_path / "run_config.json").write_text(json.dumps(trained))
  common.define_flags(RunConfig)
  level = absl_logging.get_verbosity()
  def config(*argv):
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["run_classifier.py", "--output_dir=%s" % tmp_path, "--verbosity=0"] +
                list(argv))
    try:
      return train.config_from_flags()
    finally:
      flags.FLAGS.unparse_flags()
      absl_logging.set_verbosity(level)
  read = lambda c: (c.text_column, c.label_column, c.labels_file, c.text_b_column, c.dev_split,
                    c.split_seed, c.encoding)
  # How the files were read (columns, labels, encoding) and the split come from training.
  assert read(config("--do_eval", "--train_file=t.csv")) == (
      "review", "stars", str(labels), "other", 0.2, 7, "latin-1")
  assert ("As in the run's training: --dev_split=0.2 --encoding=latin-1 --label_column=stars "
          "--labels_file=%s --split_seed=7 --text_b_column=other --text_column=review." % labels
          ) in caplog.text
  # A group given in part is the user's own: none of it is taken (the labels file is apart).
  assert read(config("--do_predict", "--test_file=t.csv", "--label_delimiter=,", "--seed=3")
              )[1:6] == ("label", str(labels), "other", 0.1, None)
  labels.unlink()  # a file that is gone is named, and left out
  assert config("--do_eval", "--dev_file=d.csv").labels_file is None
  assert "The run's --labels_file %s (from its training) is not found" % labels in caplog.text
  assert read(config("--do_train", "--train_file=t.csv"))[1:] == (
      "label", None, None, 0.1, None, "utf-8")


def _tool(module, *args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  return run_tool(["-m", module] + list(args), env=env, cwd=str(REPO), timeout=120)


@pytest.mark.parametrize("module", TOOLS)
def test_help_lists_the_tools_own_flags_and_exits_0(module):
  proc = _tool(module, "--help")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "flags:" in proc.stdout and "absl" not in proc.stdout
  expected = {"bert_tf.cli.train": "--do_train", "bert_tf.cli.features": "--max_seq_length",
              "bert_tf.cli.predict": "--model_dir", "bert_tf.cli.export": "--quantization",
              "bert_tf.cli.convert": "--hf_dir", "bert_tf.cli.pretrain": "--masked_lm_prob"}[module]
  assert expected in proc.stdout


@pytest.mark.parametrize("module", TOOLS)
def test_flag_errors_are_one_line_and_exit_2(module):
  proc = _tool(module, "--no_such_flag=1")
  assert proc.returncode == 2
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith("error: ") and "no_such_flag" in last and "Traceback" not in proc.stderr


def test_features_without_do_flags_writes_every_set_that_has_data(tmp_path):
  train = tmp_path / "train.csv"
  train.write_text("text,label\n" + "".join("text %d,%s\n" % (i, "ab"[i % 2]) for i in range(20)))
  proc = _tool("bert_tf.cli.features", "--train_file=%s" % train, "--max_seq_length=16",
               "--output_dir=%s" % (tmp_path / "out"))
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert [line.split()[:2] for line in proc.stdout.splitlines()] == [["train", "18"],
                                                                     ["dev", "2"]]


def test_bad_flag_value_and_stray_argument_exit_2():
  proc = _tool("bert_tf.cli.train", "--max_seq_length=abc")
  assert proc.returncode == 2 and "max_seq_length" in proc.stderr.strip().splitlines()[-1]
  proc = _tool("bert_tf.cli.predict", "model_dir")
  assert proc.returncode == 2 and "unexpected argument 'model_dir'" in proc.stderr



@pytest.mark.parametrize("door", ["bert_tf.cli.train", "bert_tf.cli.grid",
                                  "bert_tf.cli.pretrain"])
def test_a_usage_error_is_the_one_line_on_stderr_at_the_default_log_level(door):
  # grid and pretrain load TensorFlow at import, where absl's init callbacks would ask for
  # the GPUs again after the quiet start-up (TensorFlow's cuInit error on CPU machines).
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  proc = subprocess.run([sys.executable, "-m", door, "--do_lower_case"],
                        capture_output=True, text=True, timeout=120, env=env, cwd=str(REPO))
  assert proc.returncode == 2
  assert proc.stderr.splitlines() == ["error: --output_dir is required."], proc.stderr


# TensorFlow 2.21's start-up on a CPU machine, as absl writes it before InitializeLog.
_STARTUP = """WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796062846.297771   22844 port.cc:153] oneDNN custom operations are on.
I0000 00:00:1796062846.298097   22844 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796062875.193148   23106 cpu_feature_guard.cc:227] This TensorFlow binary is optimized
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow.
W0000 00:00:1796062847.177374   22844 some_op.cc:1] a warning
E0000 00:00:1796062847.177374   22844 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error
E0000 00:00:1796062847.177374   22844 loader.cc:9] could not load libfoo.so
/x/tensorflow_hub/__init__.py:61: UserWarning: pkg_resources is deprecated
""".splitlines(True)


def test_quiet_start_up_keeps_what_the_level_lets_through():
  kept = lambda lines, level, no_driver=True: [  # no driver: the CPU is expected
      l.split("]")[-1].strip() for l in common._kept_lines(lines, level, no_driver)]  # pylint: disable=protected-access
  assert kept(_STARTUP, 2) == ["could not load libfoo.so",
                               "/x/tensorflow_hub/__init__.py:61: UserWarning: pkg_resources is "
                               "deprecated"]
  assert kept(_STARTUP, 1) == ["a warning", "could not load libfoo.so",
                               "/x/tensorflow_hub/__init__.py:61: UserWarning: pkg_resources is "
                               "deprecated"]
  # With a CUDA driver, cuInit failing is a real error.
  assert "failed call to cuInit: INTERNAL: CUDA error" in kept(_STARTUP, 2, no_driver=False)
  assert kept(_STARTUP, 3) == ["/x/tensorflow_hub/__init__.py:61: UserWarning: pkg_resources is "
                               "deprecated"]


def test_a_closed_pipe_stops_quietly():  # bert-tf-predict ... | head -3
  script = ("from bert_tf.cli import common\n"
            "from bert_tf.cli.convert import ConvertOptions\n"
            "def main(_):\n"
            "  for i in range(10 ** 6):\n"
            "    print('line %d' % i)\n"
            "common.run(main, ConvertOptions, 'usage')\n")
  proc = subprocess.run(["bash", "-c", 'set -o pipefail; "$0" -c "$1" | head -3', sys.executable,
                         script], capture_output=True, text=True, timeout=120, cwd=str(REPO))
  assert proc.stdout.splitlines() == ["line 0", "line 1", "line 2"]
  assert proc.returncode == 141 and proc.stderr == "", proc.stderr[-2000:]

def test_ctrl_c_is_one_line_and_exit_130():
  script = ("import os, signal, time\n"
            "from bert_tf.cli import common\n"
            "from bert_tf.cli.convert import ConvertOptions\n"
            "def main(_):\n"
            "  os.kill(os.getpid(), signal.SIGINT)\n"
            "  time.sleep(30)\n"
            "common.run(main, ConvertOptions, 'usage')\n")
  proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                        timeout=120, cwd=str(REPO))
  assert proc.returncode == 130, proc.stderr[-2000:]
  assert proc.stderr.strip().splitlines()[-1].startswith("interrupted: finished work is kept")
  assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("door", TOOLS + ["bert_tf.cli.grid"])
def test_doors_check_flags_before_tensorflow_loads_and_ctrl_c_there_is_one_line(door):
  """Importing a door loads no TensorFlow (its flag errors come in 0.1 s, not 5); Ctrl-C
  while TensorFlow then loads is one line and exit 130."""
  script = ("import dataclasses, sys\n"
            "import %s\n"
            "assert 'tensorflow' not in sys.modules, 'the door imported TensorFlow'\n"
            "from bert_tf.cli import common\n"
            "class Interrupt:  # Ctrl-C arrives while TensorFlow loads\n"
            "  def find_spec(self, name, path, target=None):\n"
            "    if name == 'tensorflow': raise KeyboardInterrupt\n"
            "sys.meta_path.insert(0, Interrupt())\n"
            "common.run(lambda _: None, dataclasses.make_dataclass('NoOptions', []), 'usage',\n"
            "           check=lambda: None)\n" % door)
  proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                        timeout=120, cwd=str(REPO))
  assert proc.returncode == 130, proc.stderr[-2000:]
  assert proc.stderr.strip().splitlines() == [
      "interrupted: finished work is kept (checkpoints, cached features, results); the same "
      "command resumes or redoes the rest."]


def _library_modules():
  return [p for p in (REPO / "bert_tf").rglob("*.py") if "cli" not in p.parts]


def test_no_keras3_imports_in_the_package():
  """One Keras everywhere: tf_keras (Keras 2 API), which tensorflow_hub needs."""
  for path in (REPO / "bert_tf").rglob("*.py"):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
      if isinstance(node, ast.Import):
        assert all(a.name != "keras" and not a.name.startswith("keras.") for a in node.names), path
      if isinstance(node, ast.ImportFrom):
        assert node.module != "keras" and not (node.module or "").startswith("keras."), path
        assert not (node.module == "tensorflow" and any(a.name == "keras" for a in node.names)), path
    assert "tf.keras" not in path.read_text(), path


def test_library_never_reads_flags():
  """Flags live only at the doors (bert_tf/cli): no absl.flags, no FLAGS, no CLI import."""
  for path in _library_modules():
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
      if isinstance(node, ast.ImportFrom):
        assert not (node.module == "absl" and any(a.name == "flags" for a in node.names)), path
        assert not (node.module or "").startswith("bert_tf.cli"), path
      if isinstance(node, ast.Import):
        assert all(a.name not in ("absl.flags",) for a in node.names), path
    assert "FLAGS" not in path.read_text(), path


def test_only_the_task_module_branches_on_the_kind_of_task():
  pattern = re.compile(r"task_type *[!=]=|[!=]= *[\"'](classification|multi[_-]label|regression)"
                       r"[\"']")
  for path in _library_modules():
    if path.name == "tasks.py":
      continue
    assert not pattern.search(path.read_text()), path


def test_predict_input_file_that_looks_like_a_table():
  from bert_tf.cli.predict import _looks_like_a_table  # pylint: disable=g-import-not-at-top
  assert _looks_like_a_table("dev.csv", "a fine film")
  assert _looks_like_a_table("texts.txt", "text,label")
  assert _looks_like_a_table("texts.txt", "id\tsentence\tlabel")
  assert not _looks_like_a_table("texts.txt", "good, bad and ugly")
  assert not _looks_like_a_table("texts.txt", "text")  # one field: a text like any other


def test_predict_input_file_that_is_not_a_regular_file(tmp_path):
  from bert_tf.cli.predict import _read_lines  # pylint: disable=g-import-not-at-top
  with pytest.raises(UsageError, match=r"^--input_file %s is not a regular file \(a device, pipe "
                     r"or folder\?\): pass a file with one text per line, or --text\.$" % tmp_path):
    _read_lines(str(tmp_path), "utf-8")
