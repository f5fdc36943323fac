"""The BERT paper's fine-tuning grid as one job: batch size x learning rate x epochs (x
restarts), each run a normal run directory, the best one on dev chosen.

A grid directory holds:

  features/           the TFRecords every run shares (written by the first run)
  bs32-lr2e-05-ep3-seed0/ ...   one run directory per point (resumes like any run)
  grid_runs.jsonl     one line per run that finished training: its dev metric and time
  grid_settings.json  the options every run shares (a grid with others is refused)
  grid_results.csv    the table, best run marked (rewritten after every run)
  report.html         the table and a chart of dev metric against learning rate
  best -> <run>       the best run's directory, ready for predict and export

A killed grid, started again with the same command, skips nothing it has not finished:
finished runs only re-evaluate (their identity is checked as in any run), the
interrupted one resumes from its checkpoint, the rest follow.
"""

import csv
import dataclasses
import io
import json
import os
import time

import tensorflow as tf
import tf_keras as keras
from absl import logging

from bert_tf import distribute
from bert_tf import report
from bert_tf import run_dir
from bert_tf import runner
from bert_tf.config import RunConfig, options_where, warnings_said_once
from bert_tf.errors import UsageError, atomic_path, remove_temporaries, write_text_atomic
from bert_tf.metrics import better_first_key, dev_metric_name

FEATURES = "features"
RUNS = run_dir.GRID_RUNS  # its presence makes a directory a grid's (not a run's)
RESULTS = "grid_results.csv"
SETTINGS = "grid_settings.json"
# What a grid's points may differ in, on a rerun of the grid: what each point sets, and
# what never changes what a run learns. The shared rest may not differ: the grid's table
# would mix unlike runs.
_POINT_OPTIONS = ("train_batch_size", "learning_rate", "num_train_epochs", "seed")
_PER_RUN_OPTIONS = _POINT_OPTIONS + options_where(RunConfig, role="operational")
BEST = "best"


def run_grid(config, spec):
  """Runs every point of `spec` on the run options `config` (config.output_dir is the grid
  directory); returns the table rows and the best row."""
  grid_dir = config.output_dir
  if config.overwrite_output_dir:
    raise UsageError("--overwrite_output_dir would retrain every finished run of the grid: "
                     "delete %s to start the grid over." % grid_dir)
  if config.strategy == "multi_worker" or not distribute.is_chief_process():
    raise UsageError("A grid runs its trainings one after another in one process: run it "
                     "without TF_CONFIG / --strategy=multi_worker (train a chosen setting on "
                     "several workers with run_classifier.py).")
  if os.path.exists(os.path.join(grid_dir, run_dir.MODEL_INFO)):
    raise UsageError("--output_dir %s holds a single run: give the grid a directory of its own."
                     % grid_dir)
  points = spec.points(config.seed)
  if not any(isinstance(f, _SameFunctionsRetraced) for f in tf.get_logger().filters):
    tf.get_logger().addFilter(_SameFunctionsRetraced())  # once per process
  with run_dir.RunDir(grid_dir).lock(kind="grid"):
    remove_temporaries(os.path.join(grid_dir, FEATURES))  # a killed grid's half-written records
    finished = _read_finished(grid_dir)
    _check_same_settings(grid_dir, config, finished)
    rows = []
    with warnings_said_once():  # the config's, about settings every run shares
      for number, point in enumerate(points, 1):
        logging.info("Grid run %d of %d: %s", number, len(points), point.name)
        rows.append(_run_point(config, grid_dir, point, finished.get(point.name)))
        _write_table(grid_dir, rows)
    best = _write_table(grid_dir, rows)
    if config.do_predict:
      runner.run_classifier(dataclasses.replace(
          _point_config(config, grid_dir, best["point"]), do_train=False, do_eval=False,
          do_predict=True), records_dir=os.path.join(grid_dir, FEATURES))
  return rows, best


def _check_same_settings(grid_dir, config, finished):
  """Records the grid's shared options; once a run has finished, a rerun with others stops
  (its table would mix runs that are not comparable)."""
  shared = _shared_options(config)
  path = os.path.join(grid_dir, SETTINGS)
  stored = None
  if finished:
    try:
      with open(path, encoding="utf-8") as f:
        stored = json.load(f)
    except FileNotFoundError:
      pass  # a grid from before this file: it starts now
    except (OSError, ValueError) as e:
      raise UsageError("%s cannot be read (%s): restore it, or start the grid in another "
                       "directory." % (path, e)) from None
  if stored is None:
    write_text_atomic(path, json.dumps(shared, indent=1, sort_keys=True) + "\n")
    return
  # An option newer than the file counts only when it is not at its default.
  defaults = {f.name: f.default for f in dataclasses.fields(config)}
  differences = run_dir.describe_differences(
      {k: v for k, v in stored.items() if k in shared},
      {k: v for k, v in shared.items() if k in stored or v != defaults.get(k)})
  if differences:
    raise UsageError("--output_dir %s holds a grid with other settings (%s): give this grid a "
                     "directory of its own." % (grid_dir, "; ".join(differences[:6])))


def _shared_options(config):
  """The options every run of a grid shares, paths made absolute."""
  shared = {}
  for field in dataclasses.fields(config):
    if field.name not in _PER_RUN_OPTIONS:
      value = getattr(config, field.name)
      shared[field.name] = (os.path.abspath(value) if field.metadata["path"] and value
                            else value)
  return shared


def _point_config(config, grid_dir, point):
  # Restarts change the seed, never the dev split: every run is scored on the same dev set.
  return dataclasses.replace(
      config, output_dir=os.path.join(grid_dir, point.name), do_train=True, do_eval=True,
      do_predict=False, train_batch_size=point.train_batch_size,
      learning_rate=point.learning_rate, num_train_epochs=point.num_train_epochs,
      seed=point.seed, split_seed=config.split_seed if config.split_seed is not None
      else config.seed)


def _run_point(config, grid_dir, point, finished):
  """One run (a finished one only re-evaluates); its table row."""
  keras.backend.clear_session()  # the previous run's model and graphs
  started = time.time()
  try:
    result = runner.run_classifier(_point_config(config, grid_dir, point),
                                   records_dir=os.path.join(grid_dir, FEATURES))
  except run_dir.DifferentRunError as e:  # the data changed under the same paths
    raise UsageError("--output_dir %s holds a grid whose run %s was trained otherwise (%s): "
                     "delete %s to start the grid over, or give this grid a directory of its "
                     "own." % (grid_dir, point.name, "; ".join(e.differences[:6]), grid_dir)
                     ) from None
  except run_dir.DamagedRunError as e:  # --overwrite_output_dir is refused here
    raise UsageError("Grid run %s: %s: delete %s to train that run again." % (
        point.name, e.problem, os.path.join(grid_dir, point.name))) from None
  train, evaluation = result["train"], result["eval"]
  trained = train["global_step"] > train["resumed_from"]
  seconds = (finished or {}).get("seconds", 0.0) + (time.time() - started if trained else 0.0)
  metric = dev_metric_name(evaluation["main_metric"])
  row = dict(run=point.name, train_batch_size=point.train_batch_size,
             learning_rate=point.learning_rate, num_train_epochs=point.num_train_epochs,
             seed=point.seed, metric=metric, value=evaluation["eval_" + metric],
             eval_loss=evaluation["eval_loss"], steps=train["global_step"], seconds=seconds)
  if trained or finished is None:
    with open(os.path.join(grid_dir, RUNS), "a", encoding="utf-8") as f:
      f.write(json.dumps(row) + "\n")
  return dict(row, point=point)


def _read_finished(grid_dir):
  try:
    lines = run_dir.read_jsonl(os.path.join(grid_dir, RUNS))
  except FileNotFoundError:
    return {}
  return {line["run"]: line for line in lines}  # the last line of a run wins


def _best(rows):
  """The best dev value (ties: the first, i.e. the cheaper run; NaN never wins)."""
  key = better_first_key(rows[0]["metric"])
  return min(rows, key=lambda r: (key(r["value"]), rows.index(r)))


COLUMNS = ("run", "train_batch_size", "learning_rate", "num_train_epochs", "seed", "dev_metric",
           "dev_value", "eval_loss", "steps", "seconds", "best")


def _write_table(grid_dir, rows):
  """grid_results.csv, report.html and the `best` link, from the rows so far."""
  best = _best(rows)
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow(COLUMNS)
  for r in rows:
    writer.writerow([r["run"], r["train_batch_size"], r["learning_rate"], r["num_train_epochs"],
                     r["seed"], r["metric"], "%.6g" % r["value"], "%.6g" % r["eval_loss"],
                     r["steps"], "%.1f" % r["seconds"], "*" if r is best else ""])
  write_text_atomic(os.path.join(grid_dir, RESULTS), buffer.getvalue())
  report.write_grid_report(os.path.join(grid_dir, run_dir.REPORT), rows, best)
  with atomic_path(os.path.join(grid_dir, BEST)) as tmp:
    os.symlink(best["run"], tmp)
  logging.info("Grid so far: best %s = %.4f (%s).", best["metric"], best["value"], best["run"])
  return best


class _SameFunctionsRetraced:  # pylint: disable=too-few-public-methods
  """Hides TensorFlow's retracing warning: each run of a grid traces its own model's
  functions once, which is expected, not the repeated retracing it warns about."""

  def filter(self, record):
    return "triggered tf.function retracing" not in record.getMessage()
