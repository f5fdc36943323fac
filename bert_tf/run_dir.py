"""The output directory of a run: the one module that knows its layout.

  model_info.json        what the run is: task (kind, labels), preprocessor settings, head,
                         encoder source, and its identity (model, data, hyperparameters)
  run_config.json        the options of the last command (status "running"/"finished")
  label_list.txt, vocab.txt, bert_config.json, thresholds.json (multi-label)
  label_values.json      (the Python API's) labels as the user's data held them: 1, True
  model.ckpt-N.*, checkpoint, best/     Google-layout checkpoints and their index
  train.tf_record, eval.tf_record, predict.tf_record (+ .meta.json: the feature cache)
  eval_results.txt/.json, test_results.tsv, predictions.csv, report.html
  train_history.jsonl, eval_history.jsonl, training_state.json, train/ eval/ (TensorBoard)

A pretraining's directory (pretraining.py) holds pretraining_info.json instead of
model_info.json, its model.ckpt-N, eval_results, histories, and when finished a
Google-format model: bert_config.json, vocab.txt, tokenizer_config.json, bert_model.ckpt.

Rules it enforces: one writer at a time (a lock naming its holder; a dead holder's
lock is taken over), a different run never resumes or overwrites a finished one,
unreadable bookkeeping is an error rather than a silent fresh start, and the
temporaries of an interrupted write are removed by the next run.
"""

import contextlib
import csv
import dataclasses
import errno
import fcntl
import glob
import io
import json
import math
import os
import re
import shutil
import socket
import time
from typing import Optional

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import tasks
from bert_tf.errors import (TMP_PREFIX, UsageError, atomic_path, remove_temporaries,
                            reported_write, write_text_atomic)

MODEL_INFO = "model_info.json"
RUN_CONFIG = "run_config.json"
LABEL_LIST = "label_list.txt"
VOCAB = "vocab.txt"
BERT_CONFIG = "bert_config.json"
THRESHOLDS = "thresholds.json"
LABEL_VALUES = "label_values.json"  # the API's: labels as the user's data held them
CHECKPOINT_INDEX = "checkpoint"
BEST_DIR = "best"
TRAINING_STATE = "training_state.json"  # {"by_checkpoint_step": {"N": state of model.ckpt-N}}
_STATES_BY_STEP = "by_checkpoint_step"
TRAIN_HISTORY = "train_history.jsonl"
EVAL_HISTORY = "eval_history.jsonl"
EVAL_RESULTS = "eval_results"        # .txt (Google's key = value) and .json
TEST_RESULTS = "test_results.tsv"
TEST_METRICS = "test_results.json"  # metrics of a labelled test file
PREDICTIONS = "predictions.csv"
EVAL_PREDICTIONS = "eval_predictions.csv"  # the dev set's, in the same columns (the report's)
REPORT = "report.html"
LOCK = ".lock"
TFRECORDS = {"train": "train.tf_record", "dev": "eval.tf_record", "test": "predict.tf_record"}
GRID_RUNS = "grid_runs.jsonl"  # a grid directory's (grid.py): its runs are sub-directories
PRETRAINING_INFO = "pretraining_info.json"
PRETRAINED_CHECKPOINT = "bert_model.ckpt"   # Google's name: --init_checkpoint=dir/bert_model.ckpt
TOKENIZER_CONFIG = "tokenizer_config.json"  # casing, as our model conversions write it
# How a damaged run starts over, said by every door (eval, predict and export cannot).
RETRAIN = "train it again (--do_train with --overwrite_output_dir starts over)"
# What --overwrite_output_dir removes: only files a run writes, never the user's own
# (exact names: eval_results.xlsx or model.ckpt-notes.txt are a user's).
_CHECKPOINT_FILES = r"model\.ckpt-\d+(\.index|\.data-\d+-of-\d+|_temp.*)"  # _temp: TF's, killed
_names = lambda exact, patterns: re.compile("^(%s)$" % "|".join(
    [re.escape(n) for n in exact] + [_CHECKPOINT_FILES, re.escape(TMP_PREFIX) + ".*"] + patterns))
_RUN_FILES = _names(
    (MODEL_INFO, RUN_CONFIG, LABEL_LIST, LABEL_VALUES, VOCAB, BERT_CONFIG, THRESHOLDS,
     CHECKPOINT_INDEX,
     TRAINING_STATE, TRAIN_HISTORY, EVAL_HISTORY, EVAL_RESULTS + ".txt", EVAL_RESULTS + ".json",
     TEST_RESULTS, TEST_METRICS, PREDICTIONS, EVAL_PREDICTIONS, REPORT, BEST_DIR),
    [re.escape(n) + r"(-\d{5}-of-\d{5})?(\.meta\.json)?" for n in TFRECORDS.values()])
_PRETRAINING_FILES = _names(
    (PRETRAINING_INFO, TOKENIZER_CONFIG, VOCAB, BERT_CONFIG, CHECKPOINT_INDEX, TRAIN_HISTORY,
     EVAL_HISTORY, EVAL_RESULTS + ".txt", EVAL_RESULTS + ".json"),
    [re.escape(PRETRAINED_CHECKPOINT) + r"\.(index|data-\d+-of-\d+)"])
# What a run writes only after model_info.json: in a directory holding no run, files of
# these names are a user's. (Its description files come before: see check_no_foreign_files.)
_AFTER_MODEL_INFO = (RUN_CONFIG, THRESHOLDS, LABEL_VALUES, TRAINING_STATE, BEST_DIR,
                     EVAL_RESULTS + ".txt", EVAL_RESULTS + ".json", TEST_RESULTS, TEST_METRICS,
                     PREDICTIONS, EVAL_PREDICTIONS, REPORT, TRAIN_HISTORY, EVAL_HISTORY)
_TENSORBOARD_DIRS = ("train", "eval")
# A training identity's fingerprints, said in words where a rerun differs in them.
_IDENTITY_NAMES = dict(data="data (the training examples)",
                       data_examples="data (how many training examples)",
                       selection_data="selection_data (the dev examples that pick checkpoints)",
                       selection_examples="selection_data (how many dev examples)")
FORMAT_VERSION = 2


@dataclasses.dataclass
class ModelInfo:
  """model_info.json: what a trained run is, enough to rebuild and serve it."""
  task: dict                        # tasks.Task.to_dict()
  preprocessor: dict                # preprocessing.Preprocessor.settings()
  head_hidden_size: int = 0
  hub_module_handle: Optional[str] = None
  text_pair: bool = False
  task_name: Optional[str] = None
  identity: Optional[dict] = None   # what makes a training the same run
  label_ids: Optional[list] = None  # the --labels_file names that integer labels indexed

  @classmethod
  def from_dict(cls, data, source):
    if "task" not in data and "task_type" in data:  # written by bert_tf 0.1
      data = dict(task=dict(kind=data["task_type"], label_list=data["label_list"]),
                  preprocessor={k: data.get(k, d) for k, d in (
                      ("do_lower_case", True), ("max_seq_length", 128), ("truncation", "head"),
                      ("head_tokens", 128))},
                  head_hidden_size=data.get("head_hidden_size", 0),
                  hub_module_handle=data.get("bert_hub_module_handle"),
                  text_pair=data.get("text_pair", False), task_name=data.get("task_name"))
    names = {f.name for f in dataclasses.fields(cls)}
    missing = [n for n in ("task", "preprocessor") if not isinstance(data.get(n), dict)]
    if missing:
      raise DamagedRunError("%s lacks a valid %s" % (source, " and ".join(missing)))
    return cls(**{k: v for k, v in data.items() if k in names})

  def to_dict(self):
    return dict(dataclasses.asdict(self), format=FORMAT_VERSION)


def checkpoint_step(path):
  """N of a model.ckpt-N path (the name training writes), or None."""
  found = re.fullmatch(r"model\.ckpt-(\d+)", os.path.basename(path))
  return int(found.group(1)) if found else None


class DifferentRunError(UsageError):
  """A trained run is in the directory, with another identity (data, model or settings)."""

  def __init__(self, directory, differences):
    self.directory, self.differences = directory, differences
    super().__init__(
        "--output_dir %s holds a different run (%s): pass --overwrite_output_dir to delete it "
        "and start over, or choose another --output_dir." % (directory,
                                                            "; ".join(differences[:6])))

  def __reduce__(self):  # rebuilt from its parts, not its message (multiprocessing)
    return type(self), (self.directory, self.differences)


class DamagedRunError(UsageError):
  """One of a run's own files cannot be read (`problem` says which and how)."""

  def __init__(self, problem, fix="restore it, or " + RETRAIN):
    self.problem, self.fix = problem, fix
    super().__init__("%s: %s." % (problem, fix))

  def __reduce__(self):
    return type(self), (self.problem, self.fix)


class RunDir:
  """An output directory; `path(name)` for files, methods for what they hold."""

  def __init__(self, directory):
    self.directory = directory

  def path(self, *names):
    return os.path.join(self.directory, *names)

  def checkpoint_prefix(self, step):
    return self.path("model.ckpt-%d" % step)

  def tensorboard_dir(self, name):
    """train/ and eval/: TensorBoard event files."""
    return self.path(name)

  def exists(self, name):
    return os.path.exists(self.path(name))

  # ---- creation, lock, temporaries ----
  def create(self):
    """Makes the directory; a file in its place or no write access is a UsageError."""
    if os.path.exists(self.directory) and not os.path.isdir(self.directory):
      raise UsageError("--output_dir %s is a file, not a directory: pass a directory path." %
                       self.directory)
    try:
      os.makedirs(self.directory, exist_ok=True)
    except OSError as e:
      raise UsageError("--output_dir %s cannot be created (%s)." % (self.directory,
                                                                   e.strerror)) from None
    if not os.access(self.directory, os.W_OK | os.X_OK):
      raise UsageError("--output_dir %s is not writable: pass a directory you can write to." %
                       self.directory)

  @contextlib.contextmanager
  def lock(self, kind="run"):
    """Holds the directory's lock while a run, a grid or a pretraining (`kind`) writes into
    it (see module docstring); a directory of another kind is refused."""
    if kind != "grid" and self.exists(GRID_RUNS):
      raise UsageError("--output_dir %s is a grid's directory: its runs are its sub-directories "
                       "(%s/best is the best one)." % (self.directory, self.directory))
    if kind != "pretraining" and self.exists(PRETRAINING_INFO):
      raise UsageError("--output_dir %s holds a pretraining: fine-tune from it with --model=%s "
                       "into another --output_dir." % (self.directory, self.directory))
    created = not os.path.isdir(self.directory)
    self.create()
    handle = _acquire_lock(self.path(LOCK), self.directory)
    try:
      self.remove_temporaries()
      yield self
    finally:
      with contextlib.suppress(FileNotFoundError):
        os.unlink(self.path(LOCK))
      handle.close()  # closing releases the flock
      if created:  # a run that stopped before writing does not leave its directory behind
        with contextlib.suppress(OSError):
          os.rmdir(self.directory)  # only ever removes an empty directory

  @contextlib.contextmanager
  def removed_on_error(self):
    """Files and folders that appear here while the block runs are removed if it fails, so
    a failed step leaves no half-written new files; what was here before stays."""
    before = set(os.listdir(self.directory))
    try:
      yield
    except BaseException:
      for name in set(os.listdir(self.directory)) - before - {LOCK}:
        path = self.path(name)
        with contextlib.suppress(OSError):  # the error that stopped the step is the one to show
          if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
          else:
            os.unlink(path)
      raise

  def remove_temporaries(self):
    """Removes what an interrupted atomic write left behind (we hold the lock)."""
    for directory in (self.directory, self.path(BEST_DIR)):
      for path in remove_temporaries(directory):
        logging.info("Removed %s (left by an interrupted run).", path)

  def holds_a_run(self):
    """Whether a run's description or checkpoints are here (whether or not they read)."""
    return any(os.path.exists(self.path(name)) for name in (MODEL_INFO, CHECKPOINT_INDEX))

  def check_no_foreign_files(self, description):
    """A new run here would replace files of a run's names that no run wrote. `description`:
    {name: bytes} of the files a run writes before model_info.json (label list, vocab,
    config); an interrupted start leaves those as they are about to be written again."""
    if self.holds_a_run():
      return
    foreign = [n for n in _AFTER_MODEL_INFO if os.path.exists(self.path(n))]
    for name, content in description.items():
      if os.path.isfile(self.path(name)):
        with open(self.path(name), "rb") as f:
          foreign += [name] if f.read() != content else []
      elif os.path.exists(self.path(name)):
        foreign.append(name)
    if foreign:
      raise UsageError("--output_dir %s holds %s but no run: a run would replace them; move "
                       "them, or write the run into another directory." % (
                           self.directory, ", ".join(foreign)))

  def clear(self, pretraining=False):
    """--overwrite_output_dir: removes every file a run (or a pretraining) writes, and only
    those (TensorBoard's event files in train/ and eval/, and the folder if nothing else is
    left in it)."""
    ours = _PRETRAINING_FILES if pretraining else _RUN_FILES
    for name in os.listdir(self.directory) if os.path.isdir(self.directory) else []:
      if ours.match(name):
        path = self.path(name)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    for name in _TENSORBOARD_DIRS:  # the old run's curves, not a user's files beside them
      folder = self.path(name)
      events = [f for f in os.listdir(folder) if f.startswith("events.out.tfevents")
                ] if os.path.isdir(folder) else []
      for event_file in events:
        os.remove(os.path.join(folder, event_file))
      if events and not os.listdir(folder):
        os.rmdir(folder)

  # ---- model_info.json: what the run is ----
  def read_model_info(self):
    """The stored ModelInfo, None if absent; unreadable is a UsageError."""
    data = self._read_json(MODEL_INFO)
    if data is None:
      return None
    if not isinstance(data, dict):
      raise DamagedRunError("%s does not hold a JSON object" % self.path(MODEL_INFO))
    return ModelInfo.from_dict(data, self.path(MODEL_INFO))

  def require_model_info(self):
    info = self.read_model_info()
    if info is None and not os.path.isdir(self.directory):
      raise UsageError("%s %s: pass the output_dir of a training run." % (
          self.directory, "is a file" if os.path.exists(self.directory) else "does not exist"))
    elif info is None:
      raise UsageError("%s has no %s: is it the output_dir of a training run?" %
                       (self.directory, MODEL_INFO))
    return info

  def write_model_info(self, info):
    write_text_atomic(self.path(MODEL_INFO),
                      json.dumps(info.to_dict(), indent=1, sort_keys=True) + "\n")

  def _read_json(self, name):
    path = self.path(name)
    if not os.path.exists(path):
      return None
    try:
      with open(path, encoding="utf-8") as f:
        return json.load(f)
    except (OSError, ValueError) as e:
      raise DamagedRunError("%s cannot be read (%s)" % (path, str(e).splitlines()[0][:120])
                            ) from None

  def check_same_run(self, identity):
    """Stops a different run from resuming in (and overwriting) this directory."""
    stored = getattr(self.read_model_info(), "identity", None)
    has_checkpoint = self.latest_checkpoint() is not None
    if stored is None:
      if has_checkpoint:
        raise DamagedRunError(
            "%s holds checkpoints but no training identity in %s (written by another tool or "
            "version, or damaged)" % (self.directory, MODEL_INFO),
            "pass --overwrite_output_dir to start over, or use another --output_dir")
      return
    # Only what both record: an older version's run resumes, and a part recorded only
    # when it applies (the dev set that selects checkpoints) is compared when both have it.
    stored = _current_identity(stored)
    common = set(stored) & set(identity)
    shown = lambda parts: {_IDENTITY_NAMES.get(k, k): parts[k] for k in common}
    differences = describe_differences(shown(stored), shown(identity))
    if differences and not has_checkpoint:
      # Nothing was trained yet (e.g. the first attempt ran out of memory): a new setting
      # loses nothing.
      logging.info("%s: no checkpoint yet, so the new settings replace the old (%s).",
                   self.directory, "; ".join(differences[:6]))
      return
    if differences:
      raise DifferentRunError(self.directory, differences)

  # ---- a pretraining's directory ----
  def start_pretraining(self, identity, overwrite):
    """Checks that a pretraining may write here (like check_same_run) and records it."""
    if self.read_model_info() is not None:
      raise UsageError("--output_dir %s holds a fine-tuning run: pretrain into another "
                       "directory." % self.directory)
    if overwrite:
      self.clear(pretraining=True)
    stored = self._read_json(PRETRAINING_INFO)
    has_checkpoint = self.latest_checkpoint() is not None or self.has_pretrained_model()
    if not isinstance(stored, dict) and has_checkpoint:
      raise UsageError("%s holds checkpoints but no readable %s: pass --overwrite_output_dir "
                       "to start over, or use another --output_dir." % (self.directory,
                                                                       PRETRAINING_INFO))
    differences = describe_differences(stored.get("identity", {}), identity) if isinstance(
        stored, dict) else []
    if differences and has_checkpoint:
      raise UsageError(
          "--output_dir %s holds a different pretraining (%s): pass --overwrite_output_dir to "
          "delete it and start over, or choose another --output_dir." % (
              self.directory, "; ".join(differences[:6])))
    write_text_atomic(self.path(PRETRAINING_INFO), json.dumps(
        dict(identity=identity, format=FORMAT_VERSION), indent=1, sort_keys=True) + "\n")

  def has_pretrained_model(self):
    return os.path.exists(self.path(PRETRAINED_CHECKPOINT + ".index"))

  def write_pretrained_model(self, write_checkpoint, bert_config_json, vocab_file,
                             do_lower_case):
    """The directory as a Google-format model; the checkpoint last, since its presence
    is what marks the model complete (pretrained.model_files)."""
    write_text_atomic(self.path(BERT_CONFIG), bert_config_json)
    if os.path.abspath(vocab_file) != os.path.abspath(self.path(VOCAB)):
      with atomic_path(self.path(VOCAB)) as tmp:
        shutil.copyfile(vocab_file, tmp)
    write_text_atomic(self.path(TOKENIZER_CONFIG),
                      json.dumps(dict(do_lower_case=bool(do_lower_case))) + "\n")
    write_checkpoint(self.path(PRETRAINED_CHECKPOINT))
    return self.path(PRETRAINED_CHECKPOINT)

  def load_task(self, info):
    """The run's task object, with the thresholds the run chose."""
    task = tasks.task_from_dict(info.task)
    thresholds = self.read_thresholds(task.label_list)
    return task.with_thresholds(thresholds) if thresholds is not None else task

  def write_files(self, files):
    """{name: bytes}, each written to a temporary name and renamed."""
    for name, content in files.items():
      with atomic_path(self.path(name)) as tmp:
        with open(tmp, "wb") as f:
          f.write(content)

  # ---- labels and thresholds ----
  def save_label_list(self, labels):
    write_text_atomic(self.path(LABEL_LIST), label_list_text(labels))

  def save_label_values(self, values):
    """label_values.json: {label name: the Python value (1, True, 2.5) the API's data held
    for it}, where it is not the name itself; none, no file."""
    if values:
      write_text_atomic(self.path(LABEL_VALUES), json.dumps(values, indent=1, sort_keys=True))
    elif os.path.exists(self.path(LABEL_VALUES)):
      os.remove(self.path(LABEL_VALUES))

  def read_label_values(self):
    return self._read_json_object(LABEL_VALUES)

  def version(self):
    """What changes when the run's model or answers do (trained further, thresholds tuned
    again, or replaced by another run): the file stamps of its description, checkpoint index,
    thresholds, best checkpoint and label values (atomic writes make new files)."""
    stamps = []
    for name in (MODEL_INFO, CHECKPOINT_INDEX, THRESHOLDS, BEST_DIR, LABEL_VALUES):
      try:
        found = os.stat(self.path(name))
        stamps.append((found.st_ino, found.st_mtime_ns, found.st_size))
      except OSError:
        stamps.append(None)
    return tuple(stamps)

  def read_thresholds(self, label_list):
    saved = self._read_json(THRESHOLDS)
    if saved is None:
      return None
    try:
      values = [saved[label] for label in label_list]
      return [float(v["threshold"] if isinstance(v, dict) else v) for v in values]
    except (KeyError, TypeError, ValueError) as e:
      raise UsageError("%s does not hold a threshold for every label (%s): restore it, or rerun "
                       "with --do_eval --retune_thresholds." % (self.path(THRESHOLDS), e)
                       ) from None

  def save_thresholds(self, label_list, thresholds, how):
    entries = {label: {"threshold": t, "chosen_by": h}
               for label, t, h in zip(label_list, thresholds, how)}
    write_text_atomic(self.path(THRESHOLDS), json.dumps(entries, indent=1) + "\n")

  # ---- run_config.json and training state ----
  def write_run_config(self, config_json, status):
    data = json.loads(config_json)
    data["status"] = status
    write_text_atomic(self.path(RUN_CONFIG), json.dumps(data, indent=2, sort_keys=True) + "\n")

  def read_training_state(self, checkpoint=None):
    """The training state (best evaluation, early stopping) saved with `checkpoint`, a
    model.ckpt-N prefix (default: the latest checkpoint); {} when none was."""
    saved = self._read_json_object(TRAINING_STATE)
    if not isinstance(saved.get(_STATES_BY_STEP), dict):
      return saved  # one state, saved after its checkpoint (runs before 2026-12-02)
    checkpoint = checkpoint or self.latest_checkpoint()
    step = checkpoint_step(checkpoint) if checkpoint else None
    return dict(saved[_STATES_BY_STEP].get(str(step), {}))

  def _read_json_object(self, name):
    """A bookkeeping file's JSON object, {} when absent."""
    value = self._read_json(name) or {}
    if not isinstance(value, dict):
      raise DamagedRunError("%s does not hold a JSON object" % self.path(name))
    return value

  def read_run_config(self):
    """The options of the last command in this directory (a dict), or None."""
    return self._read_json(RUN_CONFIG)

  def save_training_state(self, state, step, kept_steps):
    """Saves `state` as checkpoint `step`'s, beside those of the `kept_steps` checkpoints
    (the others' go). Saved before the checkpoint index names the checkpoint: a run stopped
    in between resumes from the checkpoint before, with that one's state."""
    saved = self._read_json_object(TRAINING_STATE)
    by_step = saved.get(_STATES_BY_STEP)
    if not isinstance(by_step, dict):  # an older run's one state: its latest checkpoint's
      latest = self.latest_checkpoint()
      by_step = {str(checkpoint_step(latest)): saved} if latest and saved else {}
    kept = {str(s) for s in kept_steps}
    by_step = {k: v for k, v in by_step.items() if k in kept}
    by_step[str(step)] = state
    write_text_atomic(self.path(TRAINING_STATE),
                      json.dumps({_STATES_BY_STEP: by_step}, indent=1))

  def append_history(self, name, record):
    """Appends a step's record (one JSON line; non-finite numbers -> null)."""
    line = json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                       for k, v in record.items()})
    with reported_write(self.path(name)), open(self.path(name), "a", encoding="utf-8") as f:
      f.write(line + "\n")

  def truncate_histories(self, after_step):
    """A resumed run repeats the steps after its checkpoint: their old records go, so that
    every step is in a history once."""
    for name in (TRAIN_HISTORY, EVAL_HISTORY):
      records = read_jsonl(self.path(name))
      kept = [r for r in records if isinstance(r.get("step"), int) and r["step"] <= after_step]
      if len(kept) != len(records):
        write_text_atomic(self.path(name), "".join(json.dumps(r) + "\n" for r in kept))

  def history(self, name):
    return read_jsonl(self.path(name))

  # ---- results ----
  def write_eval_results(self, results):
    """eval_results.txt (Google's `key = value`, scalars, sorted) and .json (everything)."""
    lines = ["%s = %s\n" % (k, v) for k, v in sorted(results.items())
             if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)]
    write_text_atomic(self.path(EVAL_RESULTS + ".txt"), "".join(lines))
    write_text_atomic(self.path(EVAL_RESULTS + ".json"),
                      json.dumps(results, indent=2, sort_keys=True, default=float) + "\n")

  def read_eval_results(self):
    return self._read_json(EVAL_RESULTS + ".json")

  def write_test_results(self, probs):
    """test_results.tsv exactly as Google writes it: one line per real test example."""
    write_text_atomic(self.path(TEST_RESULTS), "".join(
        "\t".join(str(p) for p in np.atleast_1d(row).astype(np.float32)) + "\n"
        for row in probs))

  def write_test_metrics(self, metrics):
    write_text_atomic(self.path(TEST_METRICS),
                      json.dumps(metrics, indent=2, sort_keys=True, default=float) + "\n")

  def read_test_metrics(self):
    return self._read_json(TEST_METRICS)

  def remove_test_metrics(self):
    if os.path.exists(self.path(TEST_METRICS)):
      os.remove(self.path(TEST_METRICS))

  def write_predictions(self, examples, task, probs, name=PREDICTIONS):
    """predictions.csv (or eval_predictions.csv): guid, [source: the file and line, or the
    file, each text came from], text_a, [text_b], then the task's prediction and score
    columns; with true labels also `label` and the task's `error`."""
    has_source = any(e.where for e in examples)
    has_b = any(e.text_b is not None for e in examples)
    has_label = bool(examples) and all(e.label is not None for e in examples)
    errors = task.errors(task.label_array(examples), np.asarray(probs)) if has_label else None
    header = ["guid"] + (["source"] if has_source else []) + ["text_a"] + (
        ["text_b"] if has_b else []) + (["label"] if has_label else []) + (
            task.prediction_columns()) + (["error"] if has_label else [])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for i, (example, p, decision) in enumerate(zip(examples, probs, task.decide(probs))):
      row = [example.guid] + ([example.where or ""] if has_source else []) + [example.text_a] + (
          [example.text_b or ""] if has_b else [])
      if has_label:
        row.append(";".join(example.label) if isinstance(example.label, list) else example.label)
      row += task.prediction_cells(decision, p)
      writer.writerow(row + (["%.6f" % errors[i]] if has_label else []))
    write_text_atomic(self.path(name), buffer.getvalue())

  def read_predictions(self, name=PREDICTIONS):
    """Rows of predictions.csv / eval_predictions.csv as dicts ([] if absent)."""
    if not os.path.exists(self.path(name)):
      return []
    with open(self.path(name), encoding="utf-8", newline="") as f:
      return list(csv.DictReader(f))

  def read_threshold_choices(self):
    """thresholds.json as stored: {label: {"threshold": t, "chosen_by": how}}."""
    return self._read_json(THRESHOLDS)

  # ---- checkpoints ----
  def checkpoint_paths(self, directory=None):
    """model.ckpt-N prefixes listed in the `checkpoint` index (oldest first)."""
    directory = directory or self.directory
    index = os.path.join(directory, CHECKPOINT_INDEX)
    if not os.path.exists(index):
      return []
    try:
      state = tf.train.get_checkpoint_state(directory)
    except Exception as e:  # pylint: disable=broad-except  (text_format.ParseError, OpError)
      state, error = None, str(e).splitlines()[0][:120] if str(e) else type(e).__name__
    else:
      error = "no model_checkpoint_path in it"
    if state is None or not state.model_checkpoint_path:
      raise DamagedRunError("%s cannot be read (%s)" % (index, error))
    paths = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
    found = [p for p in paths if tf.io.gfile.exists(p + ".index")]
    if not found:
      raise DamagedRunError("%s names %s but its files are missing" % (
          index, os.path.basename(state.model_checkpoint_path)), "restore them, or " + RETRAIN)
    return found

  def latest_checkpoint(self):
    found = self.checkpoint_paths()
    return found[-1] if found else None

  def best_checkpoint(self):
    best = self.path(BEST_DIR)
    found = self.checkpoint_paths(best) if os.path.isdir(best) else []
    return found[-1] if found else None

  def eval_checkpoint(self, requested=None):
    """The checkpoint eval/predict/export use: the requested one, else best, else latest."""
    if requested:
      path = requested
      if not tf.io.gfile.exists(path + ".index") and not os.path.isabs(path):
        inside = self.path(requested)  # a bare model.ckpt-N (or best/model.ckpt-N): this run's
        if tf.io.gfile.exists(inside + ".index"):
          path = inside
      if not tf.io.gfile.exists(path + ".index"):
        raise UsageError("Checkpoint %s does not exist (no %s.index): pass a model.ckpt-N of "
                         "%s (--eval_checkpoint; --checkpoint in predict and export)." %
                         (requested, requested, self.directory))
      # A trained run's labels answer: only its own weights may (a fresh directory reads
      # any checkpoint, e.g. one of Google's run_classifier.py, with --label_list).
      if self.holds_a_run() and os.path.realpath(os.path.dirname(os.path.abspath(path))) not in (
          os.path.realpath(self.directory), os.path.realpath(self.path(BEST_DIR))):
        raise UsageError("Checkpoint %s is not one of %s's (a model.ckpt-N there or in best/): "
                         "another run's weights would answer with this run's labels; pass one "
                         "of its own, or that checkpoint's run directory." % (
                             requested, self.directory))
      return path
    found = self.best_checkpoint() or self.latest_checkpoint()
    if not found:
      raise UsageError("No model.ckpt-N in %s: run with --do_train first, or pass a "
                       "checkpoint (--eval_checkpoint; --checkpoint in predict and export)." %
                       self.directory)
    if self.training_unfinished():
      logging.warning("The training in %s did not finish (stopped or still running): this "
                      "uses %s. Rerun the training command to finish it.", self.directory,
                      os.path.relpath(found, self.directory))
    return found

  def check_checkpoint_to_come(self, requested, last_step=None):
    """Before training: --eval_checkpoint names a model.ckpt-N here or in best/, which the
    training may write (N <= last_step, once that is known), or a checkpoint that exists;
    else it stops now, not after the training."""
    where = os.path.dirname(os.path.abspath(requested))
    ours = where in (os.path.abspath(self.directory), os.path.abspath(self.path(BEST_DIR)))
    step = checkpoint_step(requested)
    if not (ours and step is not None and (last_step is None or step <= last_step)):
      self.eval_checkpoint(requested)

  def training_unfinished(self):
    """Whether the last training here stopped before its end (run_config.json still says
    "running"; an unreadable one says nothing)."""
    try:
      data = self.read_run_config()
    except UsageError:
      return False
    return isinstance(data, dict) and data.get("status") == "running"

  def remove_checkpoint(self, prefix):
    """Deletes a model.ckpt-N: its .index first, so that a half-deleted one is never read."""
    paths = glob.glob(glob.escape(prefix) + ".*")
    for path in sorted(paths, key=lambda p: not p.endswith(".index")):
      os.remove(path)

  def write_checkpoint_index(self, latest, all_paths, directory=None):
    """Writes the `checkpoint` file (CheckpointState text proto) that
    tf.train.latest_checkpoint and Google's tools read; paths are relative."""
    lines = ['model_checkpoint_path: "%s"\n' % os.path.basename(latest)]
    lines += ['all_model_checkpoint_paths: "%s"\n' % os.path.basename(p) for p in all_paths]
    write_text_atomic(os.path.join(directory or self.directory, CHECKPOINT_INDEX),
                      "".join(lines))

  def save_best(self, step, write_checkpoint):
    """best/model.ckpt-<step> (with its own index), atomically; `write_checkpoint(prefix)`
    writes the checkpoint (the model's weights: eval, predict and export need no more)."""
    name = os.path.basename(self.checkpoint_prefix(step))
    with atomic_path(self.path(BEST_DIR)) as tmp:
      os.makedirs(tmp)
      write_checkpoint(os.path.join(tmp, name))
      self.write_checkpoint_index(name, [name], directory=tmp)


def label_list_text(labels):
  """label_list.txt's text: a label per line, in the task's order."""
  return "".join("%s\n" % label for label in labels)


def read_jsonl(path):
  """Records of a history file; a damaged line is skipped with a warning (histories are
  for reports, never for deciding anything)."""
  if not os.path.exists(path):
    return []
  records = []
  with open(path, encoding="utf-8") as f:
    for number, line in enumerate(f, start=1):
      try:
        record = json.loads(line) if line.strip() else None
      except ValueError:
        record = None
        logging.warning("%s line %d is not valid JSON; skipped.", path, number)
      if isinstance(record, dict):
        records.append(record)
  return records


def _current_identity(stored):
  """A training identity as this version records it: runs before it wrote
  --mixed_precision=float32 as given, now recorded as unset (the same training)."""
  training = stored.get("training")
  if isinstance(training, dict) and training.get("mixed_precision") == "float32":
    stored = dict(stored, training=dict(training, mixed_precision=None))
  return stored


def describe_differences(stored, new, prefix=""):
  """['max_seq_length: 32 -> 64', ...] between two nested dicts."""
  out = []
  for key in sorted(set(stored) | set(new)):
    a, b = stored.get(key), new.get(key)
    if isinstance(a, dict) and isinstance(b, dict):
      out += describe_differences(a, b, prefix + key + ".")
    elif a != b:
      show = lambda v: (str(v)[:12] + "..." if isinstance(v, str) and len(v) > 40 else repr(v))
      out.append("%s%s: %s -> %s" % (prefix, key, show(a), show(b)))
  return out


def _acquire_lock(path, directory):
  """flock on `path`; the file names its holder. The kernel drops a dead process's
  flock, so content in a file we could lock is a stale holder's: taken over."""
  while True:
    try:
      handle = open(path, "a+", encoding="utf-8")
    except FileNotFoundError:  # a run that wrote nothing just removed the directory
      os.makedirs(directory, exist_ok=True)
      continue
    try:
      fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
        handle.close()
        raise UsageError("--output_dir %s cannot be locked (%s): use a local directory." % (
            directory, e.strerror)) from None
      handle.seek(0)
      holder = handle.read().strip() or "unknown process"
      handle.close()
      raise UsageError("--output_dir %s is in use by another run (%s): wait for it to finish, or "
                       "use another --output_dir." % (directory, holder)) from None
    # The holder may have unlinked the file between our open and flock: retry on the new one.
    if os.path.exists(path) and os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
      break
    handle.close()
  handle.seek(0)
  stale = handle.read().strip()
  if stale:
    logging.warning("Taking over the lock of %s from a run that is no longer alive (%s).",
                    directory, stale)
  handle.seek(0)
  handle.truncate()
  handle.write("pid %d on %s since %s" % (os.getpid(), socket.gethostname(),
                                          time.strftime("%Y-%m-%d %H:%M:%S")))
  handle.flush()
  return handle
