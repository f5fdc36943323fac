"""The kinds of task: single-label, multi-label and regression.

A task object owns everything that differs between them (Model Garden's
`SentencePredictionTask` idea, three small classes and no registry):

  labels      the label list and the encoding of a raw label (one-line error if unknown)
  records     the TFRecord `label_ids` feature (Google's int64, or floats)
  head        the number of logits and their initial bias
  loss        softmax / sigmoid cross-entropy (class weights, pos_weight) or squared error
  outputs     probabilities, decisions (argmax, per-label thresholds, score), metrics and
              the best-metric name, predictions.csv columns, serving outputs

No other module branches on the kind of task: they call these methods.
"""

import unicodedata
import warnings

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import metrics as metrics_lib
from bert_tf.errors import UsageError
from bert_tf.processors import as_number

KINDS = ("classification", "multi_label", "regression")


def _float_feature(values):
  return tf.train.Feature(float_list=tf.train.FloatList(value=values))


class Task:
  """What every kind of task answers; see the module docstring."""
  kind = None
  main_metric = None

  def __init__(self, label_list=(), main_metric=None):
    self.label_list = [str(label) for label in label_list]
    self._ids = {name: i for i, name in enumerate(self.label_list)}
    if len(self._ids) < len(self.label_list):
      twice = sorted({l for l in self.label_list if self.label_list.count(l) > 1})
      raise UsageError("The label list names %s more than once; each label must be listed "
                       "once." % ", ".join(repr(l) for l in twice))
    if main_metric:
      self.main_metric = main_metric

  # ---- labels ----
  @property
  def num_outputs(self):
    return len(self.label_list)

  def _label_id(self, label, where):
    try:
      return self._ids[label]
    except KeyError:
      alike = [l for l in self.label_list if _case_folded(l) == _case_folded(label)]
      raise UsageError("%s: label %r is not in the label list (%s)%s." % (
          where, label, ", ".join(self.label_list[:20]) + (" ..." if len(self.label_list) > 20
                                                           else ""),
          "; labels are case-sensitive: %r is %r written differently" % (label, alike[0])
          if alike else "")) from None

  def label_array(self, examples):
    """Labels of examples as the array the TFRecords hold (padding/unlabelled: zeros)."""
    raise NotImplementedError

  def log_target_warnings(self, examples, source):
    """Warnings about training targets that only this kind of task can judge."""

  def label_counts(self, examples):
    """{label: count}; a multi-label example counts once per label."""
    counts = {}
    for example in examples:
      for label in self._labels_of(example):
        counts[label] = counts.get(label, 0) + 1
    return counts

  def describe(self, name, examples):
    counts = self.label_counts(examples)
    return "%s: %d examples; label counts: %s" % (
        name, len(examples), ", ".join("%s=%d" % kv for kv in sorted(counts.items(), key=str))
        or "(unlabelled)")

  # ---- loss weights and decisions (only some kinds have them) ----
  def with_class_weights(self, spec, train_examples):
    if spec:
      raise UsageError("--class_weights applies to single-label classification; this task is "
                       "%s (multi-label tasks weight positives with --pos_weight)." % self.kind)
    return self

  def with_pos_weight(self, spec, train_examples):
    if spec:
      raise UsageError("--pos_weight applies to multi-label tasks; this task is %s." % self.kind)
    return self

  tunes_thresholds = False  # whether tuned() chooses decision thresholds

  def with_thresholds(self, thresholds):
    return self

  def tuned(self, labels, probs):
    """(task with decision thresholds tuned on these examples, how each was chosen);
    (self, None) for kinds without thresholds."""
    return self, None

  # ---- head and loss ----
  def initial_output_bias(self, train_labels):
    """Initial output_bias for a fresh head (None: Google's zeros)."""
    del train_labels
    return None

  def per_example_loss(self, labels, logits):
    raise NotImplementedError

  # ---- outputs ----
  def probabilities(self, logits):
    """Logits -> what test_results.tsv holds (a tf op, used in training and serving)."""
    raise NotImplementedError

  def decide(self, probs):
    """Probabilities [n, outputs] -> one decision per example (label, labels or score)."""
    raise NotImplementedError

  def metrics(self, labels, probs):
    raise NotImplementedError

  def errors(self, labels, probs):
    """How wrong each prediction is (0 when right): what the report ranks mistakes by."""
    raise NotImplementedError

  def metric_names(self):
    """The numbers an evaluation reports (for --best_metric), from metrics() on made-up
    examples where every label occurs and is absent, so that no metric is left out."""
    rows = max(self.num_outputs, 1) + 1
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      results = self.metrics(*self._made_up_sample(rows))
    return sorted(["loss"] + [k for k, v in results.items()
                              if isinstance(v, float) and not isinstance(v, bool)])

  def _made_up_sample(self, rows):
    """(labels, model outputs) of `rows` made-up examples in which every label occurs."""
    raise NotImplementedError

  def _random_outputs(self, rows):
    rng = np.random.default_rng(0)
    return rng.uniform(0.01, 0.99, (rows, max(self.num_outputs, 1))).astype(np.float32)

  def prediction_columns(self):
    """predictions.csv columns after the input's: prediction, then per-output scores."""
    return ["prediction"] + ["prob_%s" % label for label in self.label_list]

  def prediction_cells(self, decision, probs):
    return [decision] + ["%.6f" % p for p in np.atleast_1d(probs)]

  def decision_record(self, decision, probs):
    """One prediction as a JSON-able dict (the Predictor's and the API's answer)."""
    return {"label": decision,
            "probabilities": {l: float(p) for l, p in zip(self.label_list, probs)}}

  def serving_outputs(self, logits):
    """The SavedModel's outputs for a batch of logits (tf ops)."""
    raise NotImplementedError

  def serving_probabilities(self, outputs):
    """What `probabilities` gives, from the SavedModel's outputs."""
    return outputs["probabilities"]

  # ---- storage in model_info.json ----
  def to_dict(self):
    return dict(kind=self.kind, label_list=self.label_list, main_metric=self.main_metric)


class SingleLabel(Task):
  """One label per example: softmax over the label list (Google's run_classifier)."""
  kind = "classification"
  main_metric = "accuracy"

  def __init__(self, label_list, main_metric=None, class_weights=None):
    super().__init__(label_list, main_metric)
    if not self.label_list:
      raise UsageError("No labels found in the training data; pass --label_list.")
    self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
    if self.class_weights is not None and len(self.class_weights) != len(self.label_list):
      raise UsageError("--class_weights has %d values but there are %d labels (%s)." % (
          len(self.class_weights), len(self.label_list), ", ".join(self.label_list)))

  def _labels_of(self, example):
    return [] if example.label is None else [example.label]

  def label_array(self, examples):
    return np.array([0 if getattr(e, "label", None) is None else
                     self._label_id(e.label, e.where or e.guid) for e in examples], np.int64)

  def _made_up_sample(self, rows):
    probs = self._random_outputs(rows)
    return np.arange(rows) % len(self.label_list), probs / probs.sum(1, keepdims=True)

  def label_feature_spec(self):
    return tf.io.FixedLenFeature([], tf.int64)

  def label_feature(self, value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))

  def with_class_weights(self, spec, train_examples):
    """A copy weighting the loss per class: 'balanced' (n / (k * count)) or explicit."""
    if not spec:
      return self
    if spec == "balanced":
      counts = self.label_counts(train_examples)
      total = sum(counts.values())
      weights = [total / (len(self.label_list) * max(counts.get(l, 0), 1))
                 for l in self.label_list]
    else:
      weights = [float(w) for w in spec.split(",")]
    return SingleLabel(self.label_list, self.main_metric, weights)

  def per_example_loss(self, labels, logits):
    labels = tf.cast(labels, tf.int32)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, tf.cast(logits, tf.float32))
    if self.class_weights:
      loss *= tf.gather(tf.constant(self.class_weights, tf.float32), labels)
    return loss

  def probabilities(self, logits):
    return tf.nn.softmax(logits, axis=-1)

  def decide(self, probs):
    return [self.label_list[int(i)] for i in np.argmax(probs, axis=-1)]

  def metrics(self, labels, probs):
    return metrics_lib.classification_metrics(labels, probs, self.label_list)

  def errors(self, labels, probs):
    """The probability given to a wrong label; 0 when right."""
    predicted = np.argmax(probs, axis=-1)
    return np.where(predicted == labels, 0.0, np.max(probs, axis=-1))

  def serving_outputs(self, logits):
    probs = self.probabilities(logits)
    ids = tf.argmax(probs, axis=-1, output_type=tf.int32)
    return {"probabilities": probs, "label_ids": ids,
            "label_names": tf.gather(tf.constant(self.label_list), ids)}

  def to_dict(self):
    return dict(super().to_dict(), class_weights=self.class_weights)


class MultiLabel(Task):
  """Any number of labels per example: one sigmoid per label, per-label thresholds."""
  kind = "multi_label"
  main_metric = "f1_micro"
  tunes_thresholds = True

  def __init__(self, label_list, main_metric=None, thresholds=None, pos_weight=None):
    super().__init__(label_list, main_metric)
    if not self.label_list:
      raise UsageError("No labels found in the training data; pass --label_list.")
    self.thresholds = None if thresholds is None else [float(t) for t in thresholds]
    self.pos_weight = None if pos_weight is None else [float(w) for w in pos_weight]
    for name, values in (("thresholds", self.thresholds), ("--pos_weight", self.pos_weight)):
      if values is not None and len(values) != len(self.label_list):
        raise UsageError("%s has %d values but there are %d labels (%s)." % (
            name, len(values), len(self.label_list), ", ".join(self.label_list[:20])))

  def _labels_of(self, example):
    return list(example.label or [])

  def log_target_warnings(self, examples, source):
    sizes = {len(self._labels_of(e)) for e in examples if getattr(e, "label", None) is not None}
    if sizes == {1} and len(self.label_list) > 1:
      logging.warning("%s: every row has exactly one label, so the classes exclude each other: "
                      "unless a text may have several, train single-label (one label column, "
                      "no --label_delimiter), which predicts exactly one.", source)

  def label_array(self, examples):
    out = np.zeros((len(examples), len(self.label_list)), np.float32)
    for i, example in enumerate(examples):
      for label in getattr(example, "label", None) or ():
        out[i, self._label_id(label, example.where or example.guid)] = 1.0
    return out

  def _made_up_sample(self, rows):
    # Row i holds label i (the first rows), then none: each label both occurs and not.
    return np.eye(rows, len(self.label_list), dtype=np.float32), self._random_outputs(rows)

  def label_feature_spec(self):
    return tf.io.FixedLenFeature([len(self.label_list)], tf.float32)

  def label_feature(self, value):
    return _float_feature(np.asarray(value, np.float32).tolist())

  def with_pos_weight(self, spec, train_examples):
    """A copy weighting positives per label: 'balanced' (negatives / positives) or explicit."""
    if not spec:
      return self
    if spec == "balanced":
      labels = self.label_array(train_examples)
      positives = labels.sum(axis=0)
      weights = ((len(labels) - positives) / np.maximum(positives, 1)).tolist()
    else:
      weights = [float(w) for w in spec.split(",")]
    return MultiLabel(self.label_list, self.main_metric, self.thresholds, weights)

  def with_thresholds(self, thresholds):
    return MultiLabel(self.label_list, self.main_metric, thresholds, self.pos_weight)

  def initial_output_bias(self, train_labels):
    # log(p / (1 - p)) of each label's frequency: a rare label starts near its prior,
    # not at p = 0.5 (Karpathy's "init well"; clipped so unseen labels stay finite).
    prior = np.clip(np.asarray(train_labels, np.float64).mean(axis=0), 1e-4, 1 - 1e-4)
    return np.log(prior / (1 - prior)).astype(np.float32)

  def per_example_loss(self, labels, logits):
    labels, logits = tf.cast(labels, tf.float32), tf.cast(logits, tf.float32)
    if self.pos_weight:
      per_label = tf.nn.weighted_cross_entropy_with_logits(
          labels, logits, tf.constant(self.pos_weight, tf.float32))
    else:
      per_label = tf.nn.sigmoid_cross_entropy_with_logits(labels, logits)
    return tf.reduce_mean(per_label, axis=-1)

  def probabilities(self, logits):
    return tf.sigmoid(logits)

  def _cut(self):
    return np.full(len(self.label_list), 0.5) if self.thresholds is None else np.asarray(
        self.thresholds)

  def decide(self, probs):
    cut = self._cut()
    return [[self.label_list[j] for j in np.flatnonzero(p >= cut)] for p in probs]

  def metrics(self, labels, probs):
    return metrics_lib.multi_label_metrics(labels, probs, self.label_list, self.thresholds)

  def errors(self, labels, probs):
    """The largest |p - truth| over the labels; 0 when the decided label set is right."""
    wrong = ((probs >= self._cut()) != (labels > 0.5)).any(axis=-1)
    return np.where(wrong, np.abs(probs - labels).max(axis=-1), 0.0)

  def tuned(self, labels, probs):
    """A copy with thresholds tuned on these labelled examples, and how each was chosen."""
    thresholds, how = metrics_lib.tune_thresholds(labels, probs)
    return self.with_thresholds(thresholds), how

  def prediction_cells(self, decision, probs):
    return [";".join(decision)] + ["%.6f" % p for p in probs]

  def decision_record(self, decision, probs):
    return {"labels": decision,
            "probabilities": {l: float(p) for l, p in zip(self.label_list, probs)}}

  def serving_outputs(self, logits):
    probs = self.probabilities(logits)
    decided = tf.cast(probs >= tf.constant(self._cut(), probs.dtype), tf.int32)
    names = tf.strings.reduce_join(tf.where(decided > 0, tf.constant(self.label_list), ""),
                                   axis=-1, separator=",")
    names = tf.strings.regex_replace(tf.strings.regex_replace(names, ",+", ","), "^,|,$", "")
    return {"probabilities": probs, "label_ids": decided, "label_names": names}

  def to_dict(self):
    return dict(super().to_dict(), thresholds=self.thresholds, pos_weight=self.pos_weight)


class Regression(Task):
  """A real-valued score per example (STS-B): one linear output, squared error."""
  kind = "regression"
  main_metric = "pearson"

  def __init__(self, label_list=(), main_metric=None):
    super().__init__((), main_metric)

  @property
  def num_outputs(self):
    return 1

  def _labels_of(self, example):
    return []

  def log_target_warnings(self, examples, source):
    scores = self.label_array([e for e in examples if getattr(e, "label", None) is not None])
    if len(scores) > 1 and np.ptp(scores) == 0:
      logging.warning("%s: every score is %g; the model cannot learn from a constant target.",
                      source, scores[0])

  def describe(self, name, examples):
    scores = np.array([e.label for e in examples if e.label is not None], np.float64)
    if not len(scores):
      return "%s: %d examples (regression, unlabelled)." % (name, len(examples))
    return "%s: %d examples (regression; scores %.3g..%.3g, mean %.3g)." % (
        name, len(examples), scores.min(), scores.max(), scores.mean())

  def label_array(self, examples):
    return np.array([0.0 if getattr(e, "label", None) is None else float(e.label)
                     for e in examples], np.float32)

  def _made_up_sample(self, rows):
    return np.arange(rows, dtype=np.float32), self._random_outputs(rows)

  def label_feature_spec(self):
    return tf.io.FixedLenFeature([], tf.float32)

  def label_feature(self, value):
    return _float_feature([float(value)])

  def per_example_loss(self, labels, logits):
    return tf.square(tf.squeeze(tf.cast(logits, tf.float32), -1) - tf.cast(labels, tf.float32))

  def probabilities(self, logits):
    return logits

  def decide(self, probs):
    return [float(np.atleast_1d(p)[0]) for p in probs]

  def metrics(self, labels, probs):
    return metrics_lib.regression_metrics(labels, probs)

  def errors(self, labels, probs):
    return np.abs(np.asarray(probs).reshape(-1) - labels)

  def prediction_columns(self):
    return ["prediction", "score"]

  def prediction_cells(self, decision, probs):
    return ["%.6f" % decision, "%.6f" % decision]

  def decision_record(self, decision, probs):
    return {"score": decision}

  def serving_outputs(self, logits):
    return {"score": tf.squeeze(self.probabilities(logits), -1)}

  def serving_probabilities(self, outputs):
    return outputs["score"][:, None]


def make_task(kind, label_list=(), main_metric=None, **options):
  """The task object for a kind name (as stored in model_info.json)."""
  classes = {SingleLabel.kind: SingleLabel, MultiLabel.kind: MultiLabel,
             Regression.kind: Regression}
  if kind not in classes:
    raise UsageError("Unknown task kind %r; expected one of %s." % (kind, ", ".join(KINDS)))
  return classes[kind](label_list, main_metric, **{k: v for k, v in options.items()
                                                   if v is not None})


def task_from_dict(stored):
  """Rebuilds a task from `Task.to_dict()` (or an older model_info's flat keys)."""
  stored = dict(stored)
  kind = stored.pop("kind", None) or stored.pop("task_type", None)
  return make_task(kind, stored.pop("label_list", ()), stored.pop("main_metric", None),
                   **stored)


def log_label_warnings(task, examples, source, counts=None, rows=None):
  """Legal but suspicious training labels: the kind's own (a constant score), labels joined
  by a delimiter, a single class, labels on every row, labels seen once or written two ways.
  `counts` and `rows`: the label counts and number of rows, where `examples` only stand in
  for a file read as a stream."""
  task.log_target_warnings(examples, source)
  counts = task.label_counts(examples) if counts is None else counts
  if not counts:
    return
  _warn_labels_on_every_row(counts, len(examples) if rows is None else rows, source)
  joined = _joined_labels(counts)
  if joined:
    label, delimiter = joined
    logging.warning("%s: the label %r looks like several labels joined by %r; if it is, pass "
                    "--label_delimiter=%s.", source, label, delimiter, delimiter)
  fractions = _fractional_numbers(counts) if task.kind == "classification" else []
  if fractions:
    logging.warning("%s: the %d labels are all numbers, some with fractions (e.g. %s): if they "
                    "are scores, pass --regression to predict a number; read as they are, each "
                    "value is a class.", source, len(counts), fractions[0])
  if len(counts) == 1:
    logging.warning("%s: only the label %r occurs; the model cannot learn to tell classes "
                    "apart.", source, next(iter(counts)))
  never = [label for label in task.label_list if label not in counts]
  if never:
    logging.warning("%s: %d label(s) of the label list never occur (%s); the model will not "
                    "learn to predict them.", source, len(never), ", ".join(never[:10]))
  rare = sorted(label for label, n in counts.items() if n < 2)
  if rare:
    logging.warning("%s: %d label(s) occur only once (%s); they cannot be learnt reliably.%s",
                    source, len(rare), ", ".join(rare[:10]), _header_hint(examples, rare))
  said = set()
  for key, how, shown in ((as_number, "are one number written differently", repr),
                          (_case_folded, "differ only in case", repr),
                          (_visible, "look alike (invisible characters or another Unicode "
                           "normalization)", ascii)):
    for same in _alike(counts, key):
      if frozenset(same) in said:
        continue  # "pos" and "pos ": alike in case and in looks, said once
      said.add(frozenset(same))
      logging.warning("%s: the labels %s %s, so they are different classes; write them alike "
                      "if they are one class.", source, " and ".join(shown(l) for l in same), how)


def _warn_labels_on_every_row(counts, rows, source):
  """Several labels, some on every row: only multi-label rows can do that. All of them on
  every row is what 0/1 indicator rows ("1,0", [0, 1]) read as label names look like."""
  always = sorted((label for label, n in counts.items() if n == rows), key=str)
  if len(counts) < 2 or not always:
    return
  if len(always) < len(counts):
    logging.warning("%s: the label(s) %s are on in every example; the model will learn to "
                    "predict them always.", source, ", ".join(map(str, always[:10])))
    return
  indicators = {str(label).lower() for label in always} <= {"0", "1", "true", "false"}
  logging.warning("%s: every label (%s) is on in every example, so there is nothing to learn.%s",
                  source, ", ".join(map(str, always[:10])),
                  " If each cell is a row of 0/1 indicators, put one column per label and pass "
                  "--label_column=a,b,... instead." if indicators else "")


def _fractional_numbers(labels):
  """The labels with a fraction ("0.37"), where every label is a number; else []."""
  numbers = [(label, as_number(label)) for label in labels]
  if any(value is None for _, value in numbers):
    return []
  return sorted(label for label, value in numbers if value % 1)


def _joined_labels(labels):
  """(label, delimiter) for a label that is other labels joined by , ; or | ("a,b" beside "a"
  and "b", or beside "b,a"), else None. Decimal commas ("2,5") are numbers, not joins."""
  for delimiter in ",;|":
    seen = set()
    for label in sorted((l for l in labels if isinstance(l, str) and delimiter in l), key=str):
      parts = [p.strip() for p in label.split(delimiter)]
      if len(parts) < 2 or not all(parts) or as_number(label.replace(",", ".")) is not None:
        continue
      key = frozenset(parts)
      if key in seen or all(p in labels for p in parts):
        return label, delimiter
      seen.add(key)
  return None


def _header_hint(examples, rare):
  """A hint when a label seen once is on a file's line 1: only a file read without a
  header row has examples there, so that line may be a header read as data."""
  for example in examples:
    if (example.where or "").endswith(" line 1") and isinstance(example.label, str) and (
        example.label in rare):
      return (" %s holds %r: if that line is a header, read the file with its header (drop "
              "--header=false)." % (example.where, example.label))
  return ""


def _alike(labels, key):
  """Groups of two or more labels with the same key(label); labels keyed None are left out."""
  groups = {}
  for label in labels:
    value = key(label)
    if value is not None:
      groups.setdefault(value, []).append(label)
  return [sorted(group) for group in groups.values() if len(group) > 1]


def _case_folded(label):
  """A text label without case or surrounding spaces ("Pos" and "pos" alike), or None."""
  return label.strip().casefold() if isinstance(label, str) else None


def _visible(label):
  """A text label as it looks: NFKC-normalized, without format characters (zero-width
  spaces, BOMs) or surrounding spaces ("café" composed or not, "pos" and "pos\u200b"
  alike), or None."""
  if not isinstance(label, str):
    return None
  return "".join(c for c in unicodedata.normalize("NFKC", label)
                 if unicodedata.category(c) != "Cf").strip()
