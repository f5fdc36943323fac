"""The fine-tuning grid: points, a killed grid that continues, the table and the best run."""

import csv
import dataclasses
import os
import signal
import subprocess
import sys
import time

import pytest

from bert_tf import grid
from bert_tf.config import GridSpec, RunConfig
from bert_tf.errors import UsageError
from test_training import REPO, tiny_setup  # noqa: F401 (fixture)
from tool_runner import run_tool


def test_points_are_the_product_cheapest_first():
  spec = GridSpec(batch_sizes="16,32", learning_rates="5e-5,2e-5", epochs="4,3", num_restarts=2)
  points = spec.points(base_seed=7)
  assert len(points) == 2 * 2 * 2 * 2 and len({p.name for p in points}) == 16
  assert [(p.num_train_epochs, p.train_batch_size) for p in points[:4]] == [(3, 32)] * 4
  assert points[0].name == "bs32-lr5e-05-ep3-seed7" and points[1].seed == 8
  for bad in (dict(batch_sizes="16,x"), dict(learning_rates="0"), dict(epochs="3,3"),
              dict(num_restarts=0), dict(batch_sizes="8,,16")):
    with pytest.raises(UsageError, match="--"):
      GridSpec(**bad)


def test_grid_settings_are_checked_once_a_run_has_finished(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  config = lambda **kw: RunConfig(output_dir="g", task_name="file", do_train=True,
                                  train_file="train.csv", **kw)
  os.makedirs("g")
  grid._check_same_settings("g", config(label_column="sentimnt"), finished={})
  # A first run that failed (a typo) finished nothing: the corrected grid starts over.
  grid._check_same_settings("g", config(label_column="sentiment"), finished={})
  done = {"bs32-lr2e-05-ep3-seed12345": {}}
  grid._check_same_settings("g", config(label_column="sentiment", learning_rate=1e-5,
                                        progress="off", use_xla=True), finished=done)
  absolute = dataclasses.replace(config(label_column="sentiment"),
                                 train_file=str(tmp_path / "train.csv"))
  grid._check_same_settings("g", absolute, finished=done)  # the same file, spelled otherwise
  with pytest.raises(UsageError, match=r"holds a grid with other settings \(max_seq_length: None "
                     r"-> 64\)"):
    grid._check_same_settings("g", config(label_column="sentiment", max_seq_length=64), done)


def test_a_run_trained_on_other_data_names_the_grids_fix(tmp_path, monkeypatch):
  """The grid refuses --overwrite_output_dir, so its runs' refusal must not advise it."""
  from bert_tf import run_dir, runner
  def changed_data(config, records_dir):
    raise run_dir.DifferentRunError(config.output_dir, ["data: 1f2e -> 9a0b"])
  monkeypatch.setattr(runner, "run_classifier", changed_data)
  point = GridSpec(batch_sizes="16").points(base_seed=1)[0]
  config = RunConfig(output_dir=str(tmp_path / "g"), task_name="file", do_train=True)
  with pytest.raises(UsageError) as refused:
    grid._run_point(config, config.output_dir, point, None)
  assert str(refused.value) == (
      "--output_dir %s holds a grid whose run %s was trained otherwise (data: 1f2e -> 9a0b): "
      "delete %s to start the grid over, or give this grid a directory of its own."
      % (config.output_dir, point.name, config.output_dir))


def test_a_damaged_run_of_the_grid_names_the_grids_fix(tmp_path, monkeypatch):
  from bert_tf import run_dir, runner
  monkeypatch.setattr(runner, "run_classifier", lambda config, records_dir: run_dir.RunDir(
      config.output_dir).read_model_info())
  point = GridSpec(batch_sizes="16").points(base_seed=1)[0]
  config = RunConfig(output_dir=str(tmp_path / "g"), task_name="file", do_train=True)
  os.makedirs(os.path.join(config.output_dir, point.name))
  info = os.path.join(config.output_dir, point.name, run_dir.MODEL_INFO)
  with open(info, "w") as f:
    f.write("[1, 2]")
  with pytest.raises(UsageError) as refused:
    grid._run_point(config, config.output_dir, point, None)
  assert str(refused.value) == (
      "Grid run %s: %s does not hold a JSON object: delete %s to train that run again."
      % (point.name, info, os.path.dirname(info)))


def _grid_command(setup, out):
  m = setup["model_dir"]
  return [sys.executable, "-m", "bert_tf.cli.grid", "--task_name=file",
          "--data_dir=" + setup["data_dir"], "--output_dir=" + out, "--do_predict=true",
          "--init_checkpoint=%s/bert_model.ckpt" % m, "--bert_config_file=%s/bert_config.json" % m,
          "--vocab_file=%s/vocab.txt" % m, "--max_seq_length=16", "--head_dropout=0",
          "--batch_sizes=16", "--learning_rates=2e-3,1e-5", "--epochs=2",
          "--save_checkpoints_steps=4", "--iterations_per_loop=1", "--progress=off"]



def test_a_flag_that_the_grid_varies_is_refused(tmp_path):
  proc = run_tool(["-m", "bert_tf.cli.grid", "--task_name=file", "--train_file=t.csv",
                   "--output_dir=%s" % (tmp_path / "g"), "--learning_rates=5e-5",
                   "--learning_rate=1e-3"], timeout=120)
  assert proc.returncode == 2 and proc.stderr.splitlines()[-1] == (
      "error: --learning_rate is what the grid varies: give its values as --learning_rates=0.001 "
      "(one value is a grid of one)."), proc.stderr[-2000:]
  assert not (tmp_path / "g").exists()

@pytest.mark.slow  # three processes, ~30 s: `make test-all`
def test_a_killed_grid_continues_and_marks_the_best_run(tiny_setup):
  out = str(tiny_setup["tmp"] / "grid")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
  proc = subprocess.Popen(_grid_command(tiny_setup, out), cwd=REPO, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  # Kill during the second run, once it has a checkpoint.
  second = os.path.join(out, "bs16-lr1e-05-ep2-seed12345", "checkpoint")
  deadline = time.time() + 300
  while not (os.path.exists(second) and "model.ckpt-" in open(second).read()):
    assert proc.poll() is None and time.time() < deadline, "the grid ended before the kill"
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()

  done = subprocess.run(_grid_command(tiny_setup, out), cwd=REPO, env=env, capture_output=True,
                        text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  assert "bs16-lr0.002-ep2-seed12345 already holds this training, finished at step 32: " \
      "nothing to train" in done.stderr  # the first run
  assert "Resuming from %s" % os.path.join(out, "bs16-lr1e-05-ep2-seed12345") in done.stderr
  assert done.stderr.count("Reusing") >= 4  # features built once, for every run
  rows = list(csv.DictReader(open(os.path.join(out, "grid_results.csv"))))
  assert [r["run"] for r in rows] == ["bs16-lr0.002-ep2-seed12345", "bs16-lr1e-05-ep2-seed12345"]
  best = max(rows, key=lambda r: float(r["dev_value"]))
  assert [r["best"] for r in rows].count("*") == 1 and best["best"] == "*"
  assert best["run"] == rows[0]["run"]  # lr 1e-5 hardly moves in 32 steps
  assert float(best["dev_value"]) > float(rows[1]["dev_value"]) and all(float(r["seconds"]) > 0 for r in rows)
  assert "* %s" % best["run"] in done.stdout
  assert os.readlink(os.path.join(out, "best")) == best["run"]
  assert len(open(os.path.join(out, "best", "test_results.tsv")).read().splitlines()) == 10
  page = open(os.path.join(out, "report.html")).read()
  assert best["run"] in page and "data:image/png;base64," in page
  # Another grid (other length, other rates) in the same directory would drop these rows.
  other = [a for a in _grid_command(tiny_setup, out) if not a.startswith(
      ("--max_seq_length", "--learning_rates"))] + ["--max_seq_length=12", "--learning_rates=3e-3"]
  refused = subprocess.run(other, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert refused.returncode == 2 and ("holds a grid with other settings (max_seq_length: 16 -> "
                                      "12): give this grid a directory of its own"
                                      ) in refused.stderr, refused.stderr[-2000:]
  assert len(list(csv.DictReader(open(os.path.join(out, "grid_results.csv"))))) == 2


def test_the_best_row_ignores_nan_and_the_eval_prefix(tmp_path):
  from bert_tf import grid, run_dir
  rows = [dict(run="a", metric="pearson", value=float("nan")),
          dict(run="b", metric="pearson", value=0.2), dict(run="c", metric="pearson", value=0.7),
          dict(run="d", metric="pearson", value=0.7)]
  assert grid._best(rows)["run"] == "c"  # pylint: disable=protected-access
  rows = [dict(run="a", metric="loss", value=0.5), dict(run="b", metric="loss", value=0.3)]
  assert grid._best(rows)["run"] == "b"  # pylint: disable=protected-access
  from bert_tf.metrics import dev_metric_name
  assert dev_metric_name("eval_f1") == "f1" == dev_metric_name("f1")
  # A single run cannot be started inside a grid's directory.
  (tmp_path / grid.RUNS).write_text("")
  with pytest.raises(UsageError, match="is a grid's directory"):
    with run_dir.RunDir(str(tmp_path)).lock():
      pass
