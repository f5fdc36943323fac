"""Fast prediction from a trained output_dir or an exported SavedModel.

`Predictor` loads the model once (a model.ckpt-N with the run's bert_config.json,
vocab, preprocessor, task and thresholds; or a string-in SavedModel) and then
classifies texts in batches: the answer to "how do I predict one sentence quickly".
The command line is `bert-tf-predict` (bert_tf/cli/predict.py).
"""

import collections.abc
import dataclasses
import json
import os

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import checkpoints
from bert_tf import classifier
from bert_tf import hardware
from bert_tf import modeling
from bert_tf import run_dir
from bert_tf.config import INFERENCE_DTYPES, BertConfig
from bert_tf.dataset import model_inputs
from bert_tf.errors import UsageError
from bert_tf.features import featurize
from bert_tf.preprocessing import Preprocessor
from bert_tf.processors import InputExample, is_blank

# Serving limits: a request past these is refused with a clear error instead of
# running the process out of memory.
MAX_BATCH_TEXTS = 100_000
MAX_TEXT_CHARS = 1_000_000


@dataclasses.dataclass
class TrainedModel:
  """A trained run rebuilt from its directory: Keras model, task, preprocessor."""
  model: object
  task: object
  preprocessor: Preprocessor
  info: run_dir.ModelInfo
  checkpoint: str
  vocab_file: str
  bert_config: object = None  # BertConfig of our encoder; None for a TF-Hub encoder


def load_trained_model(output_dir, checkpoint=None, skip_padding=False, dtype=None):
  """Rebuilds a training output_dir's classifier and restores its checkpoint
  (--eval_checkpoint, else best, else latest). `skip_padding` computes on real tokens
  alone (modeling.build_encoder's): for the Predictor and the SavedModel, not for TFLite's
  fixed shapes.
  `dtype`: one of INFERENCE_DTYPES, or None for Keras's global policy (a run's own)."""
  check_inference_dtype(dtype)
  run = run_dir.RunDir(output_dir)
  info = run.require_model_info()
  if dtype == "bfloat16" and info.hub_module_handle:
    raise UsageError("--dtype=bfloat16: %s was trained on a TF-Hub encoder, which computes in "
                     "its SavedModel's own dtype: leave --dtype out (float32)." % output_dir)
  task = run.load_task(info)
  checkpoint = run.eval_checkpoint(checkpoint)
  vocab_file = run.path(run_dir.VOCAB)
  preprocessor = Preprocessor.from_vocab(vocab_file, **info.preprocessor)
  bert_config = None
  if not info.hub_module_handle:
    bert_config = BertConfig.from_json_file(run.path(run_dir.BERT_CONFIG))
  with modeling.dtype_policy(dtype):  # layers keep the policy they were built under
    model, _, variables = classifier.create_classifier(
        task.num_outputs, bert_config, info.hub_module_handle,
        head_hidden_size=info.head_hidden_size,
        window_pooling=preprocessor.pooling, skip_padding=skip_padding)
  checkpoints.restore_variables(variables, checkpoint, allow_unused=True)  # cast to theirs
  return TrainedModel(model, task, preprocessor, info, checkpoint, vocab_file, bert_config)


def check_inference_dtype(dtype):
  """A one-line UsageError for a dtype not in INFERENCE_DTYPES (None: the global policy)."""
  if dtype is not None and dtype not in INFERENCE_DTYPES:
    raise UsageError("--dtype=%s: a model predicts in %s." % (dtype,
                                                             " or ".join(INFERENCE_DTYPES)))


def check_request(texts, texts_b=None):
  """Lists of strings within the serving limits (one line naming what is wrong)."""
  texts = _as_list(texts, "texts")
  if texts_b is not None:
    texts_b = _as_list(texts_b, "second texts (text_b)")
    if len(texts_b) != len(texts):
      raise UsageError("%d texts but %d second texts (text_b): they must pair up." %
                       (len(texts), len(texts_b)))
  if len(texts) > MAX_BATCH_TEXTS:
    raise UsageError("%d texts in one request; the limit is %d: send them in smaller batches." %
                     (len(texts), MAX_BATCH_TEXTS))
  for i, text in enumerate(texts + (texts_b or [])):
    if not isinstance(text, str):
      raise UsageError("Text %d is a %s, not a string." % (i % len(texts), type(text).__name__))
    if len(text) > MAX_TEXT_CHARS:
      raise UsageError("Text %d has %d characters; the limit is %d." % (
          i % len(texts), len(text), MAX_TEXT_CHARS))
  return texts, texts_b


def _as_list(texts, what):
  if isinstance(texts, str):
    return [texts]
  if isinstance(texts, collections.abc.Mapping) or hasattr(texts, "columns"):
    # Iterating a DataFrame or a dict gives its column names or keys, not texts.
    raise UsageError("The %s must be a list of strings or one column (e.g. df[\"text\"]), "
                     "not a %s." % (what, type(texts).__name__))
  if isinstance(texts, collections.abc.Set):  # answers would come back in no known order
    raise UsageError("The %s are unordered (a %s): pass a list, so that each answer lines up "
                     "with its text." % (what, type(texts).__name__))
  try:
    return list(texts)
  except TypeError:
    raise UsageError("The %s must be a string or a list of strings, not %s." % (
        what, type(texts).__name__)) from None


def version_dirs(export_dir):
  """The numbered folders of an export_dir (TF Serving's layout), oldest first."""
  if not os.path.isdir(export_dir):
    return []
  return sorted((name for name in os.listdir(export_dir) if name.isdigit()), key=int)


class Predictor:
  """Loads once, predicts many: `Predictor(output_dir).predict(["text", ...])`."""

  def __init__(self, model_dir, checkpoint=None, batch_size=32, dtype=None):
    """`dtype`: what a run directory's model computes in (INFERENCE_DTYPES; None: Keras's
    global policy, float32 unless set). A SavedModel computes in the one it was exported in."""
    self.batch_size = batch_size
    check_inference_dtype(dtype)
    if os.path.exists(os.path.join(model_dir, "saved_model.pb")):
      self._init_saved_model(model_dir, dtype)
      return
    versions = [v for v in version_dirs(model_dir)
                if os.path.exists(os.path.join(model_dir, v, "saved_model.pb"))]
    if versions:
      raise UsageError("%s holds SavedModel versions (%s): pass one of them, e.g. %s." % (
          model_dir, ", ".join(versions), os.path.join(model_dir, versions[-1])))
    self._init_checkpoint(model_dir, checkpoint, dtype)
    if dtype == "bfloat16":  # once the run loaded: a bad directory is one line, no warning
      hardware.warn_if_bf16_is_slow("--dtype=bfloat16", "prediction",
                                    "Leave --dtype out to predict in float32.")

  def _init_checkpoint(self, output_dir, checkpoint, dtype):
    trained = load_trained_model(output_dir, checkpoint, skip_padding=True, dtype=dtype)
    self.model, self.task, self.info = trained.model, trained.task, trained.info
    self.preprocessor, self.checkpoint = trained.preprocessor, trained.checkpoint
    logging.info("Predictor: %s", self.checkpoint)

    @tf.function(reduce_retracing=True)
    def forward(features):
      return self.task.probabilities(self.model(features, training=False))
    self._forward = forward
    self._saved = None

  def _init_saved_model(self, export_dir, dtype):
    import tensorflow_text  # noqa: F401  pylint: disable=unused-import,g-import-not-at-top
    from bert_tf import tasks  # pylint: disable=g-import-not-at-top
    path = os.path.join(export_dir, "assets.extra", run_dir.MODEL_INFO)
    if not os.path.exists(path):
      raise UsageError("%s is a SavedModel without %s: only classifiers exported by bert_tf "
                       "(export_dir/<version>) can be loaded here." % (export_dir, path))
    with open(path, encoding="utf-8") as f:
      served = json.load(f)
    exported_dtype = served.get("dtype", "float32")  # exports before dtype were float32
    if dtype is not None and dtype != exported_dtype:
      raise UsageError("--dtype=%s: %s was exported in %s and computes in it: leave --dtype out "
                       "(or export the run again with --dtype=%s)." % (
                           dtype, export_dir, exported_dtype, dtype))
    self._saved = tf.saved_model.load(export_dir)
    self.info = run_dir.ModelInfo.from_dict(served, path)
    if exported_dtype == "bfloat16":
      hardware.warn_if_bf16_is_slow("This bfloat16 SavedModel", "prediction",
                                    "Export the run with --dtype=float32 for this CPU.")
    self.task, self.checkpoint = tasks.task_from_dict(self.info.task), export_dir

  @property
  def label_list(self):
    return self.task.label_list

  def predict_proba(self, texts, texts_b=None):
    """[n, outputs] probabilities (or [n, 1] scores for regression). Blank texts get the
    model's answer to no text, with a warning."""
    texts, texts_b = check_request(texts, texts_b)
    blank = [i for i, text in enumerate(texts) if is_blank(text)]
    if blank:
      logging.warning("%d of %d texts are blank (the first at index %d): what is predicted for "
                      "them is the model's answer to no text.", len(blank), len(texts), blank[0])
    if (texts_b is not None) != bool(self.info.text_pair):
      raise UsageError("This model was trained on %s: %s." % (
          ("sentence pairs", "pass the second texts (text_b) too") if self.info.text_pair else
          ("single texts", "pass no second texts (text_b)")))
    out = []
    for i in range(0, len(texts), self.batch_size):
      chunk = texts[i:i + self.batch_size]
      chunk_b = texts_b[i:i + self.batch_size] if texts_b is not None else None
      if self._saved is not None:
        signature = self._saved.signatures["serving_default"]
        kwargs = dict(text_a=tf.constant(chunk))
        if chunk_b is not None:
          kwargs["text_b"] = tf.constant(chunk_b)
        out.append(self.task.serving_probabilities(signature(**kwargs)).numpy())
        continue
      examples = [InputExample(str(j), a, None if chunk_b is None else chunk_b[j])
                  for j, a in enumerate(chunk)]
      arrays = featurize(examples, self.task, self.preprocessor, num_workers=1,
                         show_progress=False)
      out.append(self._forward(model_inputs(arrays)).numpy())
    return np.concatenate(out) if out else np.zeros((0, self.task.num_outputs), np.float32)

  def predict(self, texts, texts_b=None):
    """A list of {"label": ..., "probabilities": {label: p}} ({"labels": [...], ...} for
    multi-label, {"score": x} for regression)."""
    probs = self.predict_proba(texts, texts_b)
    return [self.task.decision_record(d, p) for d, p in zip(self.task.decide(probs), probs)]
