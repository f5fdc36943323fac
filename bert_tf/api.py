"""The Python API: a text classifier you can hold in five lines.

    from bert_tf import TextClassifier
    clf = TextClassifier("all-MiniLM-L6-v2", output_dir="out/reviews")
    clf.fit(train_df, validation_data=dev_df, text="review", label="sentiment", epochs=3)
    clf.evaluate(test_df)                 # the task's metrics
    clf.predict(["great film"])           # labels (lists for multi-label, floats for regression)

It drives the same engine and writes the same run directory as run_classifier.py:
a run trained on the command line loads here (`TextClassifier.load(dir)`) and the
other way round. Bad input raises ValueError (`UsageError`) with the one-line
message the command line prints, naming this API's parameters where it names flags.
"""

import contextlib
import dataclasses
import difflib
import functools
import inspect
import logging as std_logging
import os
import re
import shutil
import tempfile
import threading

import numpy as np
import pandas as pd
from absl import logging

from bert_tf import progress
from bert_tf import run_dir
from bert_tf.config import RunConfig, options_where, settings_from_training
from bert_tf.errors import EmptySplitError, UsageError


# RunConfig fields that fit() takes under other names.
_FIT_RENAMES = dict(text_column="text", text_b_column="text_pair", label_column="label",
                    num_train_epochs="epochs", train_batch_size="batch_size")


def _api_names(**renames):
  """Speaks this API's parameters where the engine names flags, in the UsageError it raises
  and in the warnings it logs: fit's `--text_column` is `text`; options are RunConfig
  fields, named as the flags are."""
  renames = dict(_FIT_RENAMES, **renames)

  def rename(message):
    message = re.sub(r"(?<![\w-])--([A-Za-z]\w*)",
                     lambda m: renames.get(m.group(1), m.group(1)), message)
    for flag, name in renames.items():  # "dev DataFrame row 3" is validation_data's row 3
      if flag.endswith("_file"):
        message = message.replace("%s DataFrame" % flag[:-len("_file")], name)
    # Bare option names in lists of differences ("training.num_train_epochs: 1 -> 2").
    return re.sub(r"\b(%s)(?=: )" % "|".join(_FIT_RENAMES),
                  lambda m: _FIT_RENAMES[m.group(1)], message)

  def decorate(method):
    @functools.wraps(method)
    def wrapped(*args, **kwargs):
      renamer = _RenamedMessages(rename)
      logging.get_absl_logger().addFilter(renamer)
      try:
        return method(*args, **kwargs)
      except UsageError as e:
        message = rename(str(e))
        if message == str(e):
          raise
        raise UsageError(message) from None
      finally:
        logging.get_absl_logger().removeFilter(renamer)
    return wrapped
  return decorate


class _RenamedMessages(std_logging.Filter):
  """A logging filter that renames the flags in each record's format string; its arguments
  (paths, values) are left as they are. Only the calling thread's records: another
  thread's code, in the same process, speaks its own flags."""

  def __init__(self, rename):
    super().__init__()
    self.rename = rename
    self.thread = threading.get_ident()

  def filter(self, record):
    if record.thread == self.thread and isinstance(record.msg, str):
      record.msg = self.rename(record.msg)
    return True


class TextClassifier:
  """Fine-tune, evaluate, predict and export a BERT text classifier."""

  def __init__(self, model="all-MiniLM-L6-v2", output_dir=None, **options):
    """`model`: a named model, a Google-format directory or a TF-Hub encoder (a local
    SavedModel directory or URL). `options`: any RunConfig field (max_seq_length,
    head_hidden_size, class_weights, pos_weight, mixed_precision, ...)."""
    _refuse_api_owned(options)
    self.model = os.fspath(model) if isinstance(model, os.PathLike) else model
    self.options = _engine_names(options)
    self.history = None
    self.output_dir = output_dir  # None: a temporary directory, made when fit() needs it

  @property
  def output_dir(self):
    """The run directory: the one given, or (once fit() has run) a temporary one."""
    return self._output_dir

  @output_dir.setter
  def output_dir(self, value):
    """Another run directory: what this object knew of the last one is dropped."""
    value = None if value is None else os.fspath(value)
    self._output_dir, self._predictor, self._loaded_info, self.history = value, None, None, None
    self._label_values = {}  # read with the Predictor (label_values.json)
    self._made_output_dir = False  # True: a temporary directory this object made
    # How fit read its data, to read evaluation data the same way.
    self._columns = _stored_columns(run_dir.RunDir(value)) if value else None

  @classmethod
  @_api_names()
  def load(cls, output_dir):
    """A trained run directory (from the API or the command line)."""
    if not isinstance(output_dir, (str, os.PathLike)):
      raise UsageError("load() takes the output_dir of a trained run (a path), not %s." %
                       type(output_dir).__name__)
    run = run_dir.RunDir(output_dir)
    run.require_model_info()
    run.eval_checkpoint()  # a run without a checkpoint fails here, in one line
    clf = cls(model=None, output_dir=os.fspath(output_dir))
    clf.options = _options_of_run(run)  # fit() again: the same model and settings
    return clf

  # ---- training ----
  @_api_names(train_file="data", dev_file="validation_data")
  def fit(self, data, validation_data=None, *, text=None, text_pair=None, label=None,
          label_delimiter=None, regression=None, epochs=None, batch_size=None,
          learning_rate=None, verbose=1, **options):
    """Fine-tunes on `data` (a DataFrame, a CSV/TSV/JSON path, or (texts, labels) /
    (texts, texts_pair, labels)); `label` may be a list of 0/1 columns (multi-label).
    Without `validation_data`, the dev_split (10%) held out of `data` is evaluated.
    What fit() is given wins over the constructor's options, which win over the defaults
    (text="text", label="label", epochs=3, batch_size=32, learning_rate=5e-5).
    Rerunning the same fit in the same output_dir resumes it."""
    _refuse_api_owned(options)
    _refuse_renamed(options)
    given = dict(text_column=text, text_b_column=text_pair, label_column=label,
                 label_delimiter=label_delimiter, regression=regression,
                 num_train_epochs=epochs, train_batch_size=batch_size,
                 learning_rate=learning_rate, **options)
    values = dict(self.options, **{k: v for k, v in given.items() if v is not None})
    text, label = values.get("text_column", "text"), values.get("label_column", "label")
    if isinstance(data, tuple) and len(data) == 3:
      values.setdefault("text_b_column", "text_b")
    frames, files = {}, {}
    for name, value in (("train", data), ("dev", validation_data)):
      if value is not None:
        _place(name, value, frames, files, (text, values.get("text_b_column"), label))
    labels_are_lists = any(_holds_lists(f, label) for f in frames.values())
    name = lambda column: None if column is None else str(column)  # 0: the first column
    values.update(text_column=name(text), text_b_column=name(values.get("text_b_column")),
                  label_column=",".join(map(str, label)) if isinstance(label, (list, tuple))
                  else name(label))
    if labels_are_lists:
      values.setdefault("label_delimiter", "|")
    from bert_tf import processors  # pylint: disable=g-import-not-at-top
    processors.check_no_columns_for_folders(files.values(), [  # the user's, not the defaults
        k for k in processors.COLUMN_OPTIONS if given.get(k) is not None or k in self.options])
    values.update(files)
    values.setdefault("progress", _progress_mode(verbose))
    label_values = _label_values_in(frames, label)
    # Without validation data, the part held out of `data` (dev_split) is evaluated: it picks
    # multi-label thresholds and fills history["eval"], rather than being left out for nothing.
    held_out = values.get("dev_split", _DEFAULTS["dev_split"])
    implicit_dev = validation_data is None and isinstance(held_out, (int, float)) and held_out > 0
    with self._temporary_run_dir():
      config = self._config(do_train=True, do_eval=validation_data is not None or implicit_dev,
                            **values)
      result = self._train(config, frames, verbose,
                           dev_optional=implicit_dev and "dev_split" not in values)
    run = run_dir.RunDir(self.output_dir)
    run.save_label_values(label_values)
    self._columns, self._predictor = _stored_columns(run), None
    self.history = result
    return self

  # ---- evaluation and prediction ----
  @_api_names(dev_file="data")
  def evaluate(self, data, verbose=1):
    """The task's metrics on labelled `data` (read like fit's), with the run's thresholds."""
    from bert_tf import processors  # pylint: disable=g-import-not-at-top
    self._require_run()
    predictor = self._loaded()  # first: a run replaced since reads its own columns
    if self._columns is None:
      raise UsageError("evaluate() needs the column names fit() used: call fit() first, or "
                       "load a run trained with run_classifier.py.")
    frames, files = {}, {}
    _place("dev", data, frames, files, tuple(self._columns.get(k) for k in (
        "text_column", "text_b_column", "label_column")))
    config = self._config(do_eval=True, **dict(self._columns, **files))
    processor = processors.get_processor(None, processors.FileDataConfig.from_run_config(config),
                                         data_frames=_named(frames, dev="data"))
    from bert_tf.runner import check_declared_labels  # pylint: disable=g-import-not-at-top
    check_declared_labels(predictor.info, processor, run_dir.RunDir(self.output_dir))
    examples = processor.get_dev_examples(None)
    with _verbosity(verbose):
      probs = predictor.predict_proba([e.text_a for e in examples],
                                      [e.text_b or "" for e in examples]
                                      if predictor.info.text_pair else None)
    return predictor.task.metrics(predictor.task.label_array(examples), probs)

  @_api_names()
  def predict_proba(self, texts, text_pair=None):
    """[n, labels] probabilities ([n, 1] scores for regression)."""
    return self._loaded().predict_proba(texts, text_pair)

  @_api_names()
  def predict(self, texts, text_pair=None):
    """One decision per text: a label, a list of labels (multi-label) or a score. Labels
    are the values `labels` lists: as fit()'s DataFrame or tuple held them."""
    predictor = self._loaded()
    decisions = predictor.task.decide(predictor.predict_proba(texts, text_pair))
    if not predictor.label_list:  # regression: scores
      return decisions
    value = self._label_values
    return [[value.get(l, l) for l in d] if isinstance(d, list) else value.get(d, d)
            for d in decisions]

  @property
  def labels(self):
    """The run's labels, in the order of predict_proba's columns ([] for regression), as
    fit()'s DataFrames or tuples held them (1, True, 2.5); labels read from files are the
    names of label_list.txt."""
    names = self._loaded().label_list
    return [self._label_values.get(n, n) for n in names]

  @_api_names()
  def export(self, export_dir, format="saved_model", **options):  # pylint: disable=redefined-builtin
    """Writes a SavedModel (export_dir/<version>), a .tflite file or a TF-Hub encoder."""
    from bert_tf import export  # pylint: disable=g-import-not-at-top
    self._require_run()
    writers = dict(saved_model=export.export_saved_model, tflite=export.export_tflite,
                   hub=export.export_run_to_hub)
    if format not in writers:
      raise UsageError("format must be saved_model, tflite or hub, got %r." % format)
    takes = [name for name in inspect.signature(writers[format]).parameters
             if name not in ("output_dir", "export_dir", "path")]
    unknown = sorted(set(options) - set(takes))
    if unknown:
      raise UsageError("export(format=%r) has no option %s; it takes %s." % (
          format, unknown[0], ", ".join(takes)))
    if format == "tflite":
      export_dir = export.tflite_path(export_dir, options.get("quantization", "float32"),
                                      options.get("text_input", False))
    return writers[format](self.output_dir, export_dir, **options)

  # ---- plumbing ----
  def _config(self, **values):
    values = {k: v for k, v in values.items() if v is not None}
    values.setdefault("task_name", "file")  # DataFrames and files of the user's own
    if self.model is not None and not any(values.get(k) for k in _MODEL_OPTIONS):
      is_hub = (str(self.model).startswith(("http://", "https://", "gs://")) or
                os.path.exists(os.path.join(str(self.model), "saved_model.pb")))
      values["bert_hub_module_handle" if is_hub else "model"] = self.model
    known = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
      names = (known - set(_FIT_RENAMES)) | set(_FIT_RENAMES.values())  # as fit() takes them
      close = difflib.get_close_matches(unknown[0], sorted(names), n=1)
      raise UsageError("Unknown option(s): %s%s; see bert_tf.config.RunConfig for the options." %
                       (", ".join(unknown), " (did you mean %s?)" % close[0] if close else ""))
    return RunConfig(output_dir=self.output_dir, **values)

  def _run(self, config, frames, verbose):
    from bert_tf.runner import run_classifier  # pylint: disable=g-import-not-at-top
    with _verbosity(verbose):
      return run_classifier(config, data_frames=_named(frames, train="data", dev="validation_data"))

  def _train(self, config, frames, verbose, dev_optional):
    """Runs a fit; a dev set fit() chose to hold out, which the data is too small for, is
    left out with a warning rather than an error."""
    try:
      return self._run_in_own_directory(config, frames, verbose)
    except EmptySplitError:
      if not dev_optional:
        raise
    logging.warning("The data is too small to hold out a dev set (dev_split=%g): training on all "
                    "of it, without an evaluation.", config.dev_split)
    return self._run_in_own_directory(dataclasses.replace(config, do_eval=False, dev_split=0.0),
                                      frames, verbose)

  def _run_in_own_directory(self, config, frames, verbose):
    """Runs `config`. In a temporary directory this object made, which the user never chose,
    another run (fit again with other data or settings) is a new run in a new directory; if
    that one fails, the object keeps the earlier run."""
    try:
      return self._run(config, frames, verbose)
    except run_dir.DifferentRunError as e:
      if not self._made_output_dir:
        raise
      differences = "; ".join(e.differences[:6])
    earlier, self._output_dir = self._output_dir, tempfile.mkdtemp(prefix="bert_tf-")
    logging.warning("Training a new run into %s (it differs from the earlier one: %s; that one "
                    "stays in %s).", self._output_dir, differences, earlier)
    try:
      return self._run(dataclasses.replace(config, output_dir=self._output_dir), frames, verbose)
    except BaseException:
      self._keep_only_a_resumable_run()
      if self._output_dir is None:  # nothing to resume there: back to the earlier run
        self._output_dir, self._made_output_dir = earlier, True
      raise

  @contextlib.contextmanager
  def _temporary_run_dir(self):
    """Without an output_dir, fit() trains in a temporary directory, made here; when fit
    fails before a checkpoint, nothing to resume from is left behind."""
    if self._output_dir is not None:
      yield
      return
    self._output_dir, self._made_output_dir = tempfile.mkdtemp(prefix="bert_tf-"), True
    logging.info("Training into %s (pass output_dir= to keep the run elsewhere).",
                 self._output_dir)
    try:
      yield
    except BaseException:
      self._keep_only_a_resumable_run()
      raise  # fit's own error

  def _keep_only_a_resumable_run(self):
    try:
      resumable = run_dir.RunDir(self._output_dir).latest_checkpoint() is not None
    except UsageError as e:  # damaged: kept for a look
      logging.warning("The run is kept in %s for a look: %s", self._output_dir, e)
      return
    if resumable:
      logging.warning("The run is in %s: fit() again resumes it.", self._output_dir)
    else:
      shutil.rmtree(self._output_dir, ignore_errors=True)
      self._output_dir, self._made_output_dir = None, False

  def _require_run(self):
    if self._output_dir is None:
      raise UsageError("This TextClassifier has no trained run yet: call fit() first, or "
                       "TextClassifier.load(output_dir) for a trained one.")

  def _loaded(self):
    """The run's Predictor, loaded again when the run changed since (trained further, or
    replaced by another run)."""
    self._require_run()
    run = run_dir.RunDir(self.output_dir)
    info = run.version()
    if self._predictor is not None and info != self._loaded_info:
      logging.warning("The run in %s changed since this TextClassifier loaded it: it now "
                      "predicts with the run there.", self.output_dir)
      self._predictor = None
      self._columns = _stored_columns(run)
    if self._predictor is None:
      from bert_tf.predictor import Predictor  # pylint: disable=g-import-not-at-top
      self._predictor, self._loaded_info = Predictor(self.output_dir), info
      self._label_values = run.read_label_values()
    return self._predictor


def _label_values_in(frames, label):
  """{label name: the Python value fit's DataFrames (or tuples) hold for it}, so that
  predict() answers in the user's own values (1, not "1"). Names whose cells differ (1 and
  "1", both read as "1") and labels from files or 0/1 columns stay names."""
  from bert_tf import processors  # pylint: disable=g-import-not-at-top
  if isinstance(label, (list, tuple)):
    return {}
  seen = {}
  for frame in frames.values():
    if label not in frame.columns:
      continue
    column = frame[label]
    # Each value once; not in an object column, where unique() takes True and 1 as one.
    cells = column if column.dtype == object else pd.unique(column)
    for cell in cells:
      for value in (cell if isinstance(cell, (list, tuple, np.ndarray)) else [cell]):
        name = processors.frame_label_name(value)
        value = value.item() if isinstance(value, np.generic) else value
        if name is not None and isinstance(value, (str, bool, int, float)):
          seen.setdefault(name, {})[(type(value), value)] = value
  values = {}
  for name, kinds in seen.items():
    if len(kinds) > 1:
      logging.warning("The labels %s are all read as the label %r; predict() answers %r.",
                      " and ".join(sorted(repr(v) for v in kinds.values())), name, name)
    elif next(iter(kinds.values())) != name:
      values[name] = next(iter(kinds.values()))
  return values


def _stored_columns(run):
  """How a trained run read its data (config.settings_from_training), to read evaluation
  data alike; None for a run without its settings."""
  stored = run.read_run_config()
  return settings_from_training(stored) if stored else None


# Options the API sets itself, and where a user says them instead.
_API_OWNED = dict(output_dir="TextClassifier(output_dir=...)", do_train="fit()",
                  do_eval="fit(validation_data=...) or evaluate()", do_predict="predict()",
                  train_file="fit(data)", dev_file="fit(validation_data=...)",
                  test_file="predict()", data_dir="fit(data)")


def _refuse_api_owned(options):
  owned = sorted(set(options) & set(_API_OWNED))
  if owned:
    raise UsageError("%s is not an option here: use %s." % (owned[0], _API_OWNED[owned[0]]))


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(RunConfig)}


def _refuse_renamed(options):
  """fit() names some options itself (epochs for num_train_epochs): one name for each."""
  renamed = sorted(set(options) & set(_FIT_RENAMES))
  if renamed:
    raise UsageError("%s is fit()'s %s: pass %s=%r." % (
        renamed[0], _FIT_RENAMES[renamed[0]], _FIT_RENAMES[renamed[0]], options[renamed[0]]))


def _engine_names(options):
  """The constructor's options under RunConfig's names (fit()'s names accepted too)."""
  engine = {v: k for k, v in _FIT_RENAMES.items()}
  out = {}
  for key, value in options.items():
    name = engine.get(key, key)
    if name in out:
      raise UsageError("%s and %s are one option: pass one of them." % (_FIT_RENAMES[name], name))
    out[name] = ",".join(map(str, value)) if (
        name == "label_column" and isinstance(value, (list, tuple))) else value
  return out


# What a trained run's settings say that fit() again, on a loaded run, keeps: not its data,
# its task name (fit() reads the user's own data) or the operational options of a command.
_NOT_KEPT = ("data_dir", "train_file", "dev_file", "task_name")


def _options_of_run(run):
  stored = run.read_run_config() or {}
  operational = options_where(RunConfig, role="operational")
  return {k: v for k, v in stored.items() if k in _DEFAULTS and k not in _NOT_KEPT + operational
          and v != _DEFAULTS[k]}


_MODEL_OPTIONS = ("init_checkpoint", "bert_config_file", "vocab_file", "model",
                  "bert_hub_module_handle")


def _named(frames, **argument_of_set):
  """{set: DataFrame} -> {set: (the argument it came in, DataFrame)}: the engine's messages
  and the predictions' source column say "validation_data row 3"."""
  return {name: (argument_of_set[name], frame) for name, frame in frames.items()}


def _place(name, value, frames, files, columns):
  """A data argument -> a DataFrame (frames[name]) or a file path (files[name_file]).
  A (texts, labels) or (texts, texts_pair, labels) tuple's DataFrame names its columns
  as the data is read: `columns` is (text, text pair, label), None for the defaults."""
  if isinstance(value, (str, os.PathLike)):
    files["%s_file" % name] = os.fspath(value)
  elif isinstance(value, pd.DataFrame):
    frames[name] = value
  elif isinstance(value, tuple) and len(value) in (2, 3):
    text, text_pair, label = columns
    if isinstance(label, (list, tuple)) or "," in str(label):
      raise UsageError("The %s data is a tuple, but the labels are read from several 0/1 "
                       "columns (%s): pass a DataFrame with those columns." % (name, label))
    if len(value) == 3 and text_pair is None:
      raise UsageError("The %s data has second texts, but the model reads single texts." % name)
    if len(value) == 2 and text_pair is not None:
      raise UsageError("The %s data has no second texts, but the model reads sentence pairs: "
                       "pass (texts, texts_pair, labels)." % name)
    names = [default if given is None else str(given) for given, default in
             zip((text, text_pair, label), ("text", "text_b", "label"))]
    if any(n.lstrip("-").isdigit() for n in names):
      raise UsageError("The %s data is a tuple, but columns are given by position (%s): pass a "
                       "DataFrame, or name the columns." % (name, ", ".join(names)))
    columns = [names[0], names[2]] if len(value) == 2 else names
    value = tuple(_sequence(part, name, what) for part, what in zip(
        value, ("texts", "labels") if len(value) == 2 else ("texts", "texts_pair", "labels")))
    lengths = {len(v) for v in value}
    if len(lengths) != 1:
      raise UsageError("%s DataFrame: its texts and labels differ in length (%s)." % (
          name, ", ".join(str(len(v)) for v in value)))  # named as the caller's argument
    frames[name] = pd.DataFrame(dict(zip(columns, value)))
  else:
    raise UsageError("%s DataFrame: must be a DataFrame, a file path, or a (texts, labels) "
                     "tuple; got %s." % (name, type(value).__name__))


def _sequence(values, name, what):
  """A tuple's texts or labels as a list (from a list, array, Series or generator)."""
  if values is None:
    wrong = "None"
  elif isinstance(values, (str, bytes)):
    wrong = "one string"
  elif isinstance(values, (set, frozenset, dict)):
    wrong = "unordered (a %s)" % type(values).__name__
  else:
    wrong = None
  if wrong:
    raise UsageError("The %s data's %s are %s: pass a list (or array, Series) with one per "
                     "example." % (name, what, wrong))
  try:
    return list(values)
  except TypeError:
    raise UsageError("The %s data's %s must be a list, array or Series; got %s." % (
        name, what, type(values).__name__)) from None


def _holds_lists(frame, label):
  if not isinstance(label, str) or label not in frame.columns or not len(frame):
    return False
  return bool(frame[label].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any())


_PROGRESS = {0: "off", 1: "bar", 2: "log", "auto": "bar"}  # verbose -> progress, as in Keras


def _progress_mode(verbose):
  if not isinstance(verbose, (int, str)) or verbose not in _PROGRESS:  # False, True: 0, 1
    raise UsageError("verbose must be 0 (silent), 1 (progress bars) or 2 (log lines), got %r."
                     % (verbose,))
  return _PROGRESS[verbose]


@contextlib.contextmanager
def _verbosity(verbose):
  """verbose=0: silent; 1: progress bars; 2: one log line per interval."""
  mode = _progress_mode(verbose)
  level = logging.get_verbosity()
  if verbose == 0:
    logging.set_verbosity(logging.WARNING)
  elif verbose == 2:  # the lines are INFO records, which absl drops unless told (no app.run)
    logging.set_verbosity(logging.INFO)
  try:
    with progress.mode(mode):
      yield
  finally:
    logging.set_verbosity(level)
