"""Fast prediction from a trained output_dir or an exported SavedModel.

  python -m bert_tf.predictor --model_dir=OUTPUT_DIR --text="a gripping film"
  python -m bert_tf.predictor --model_dir=EXPORT_DIR/1 --input_file=texts.txt

`Predictor` loads the model once (a model.ckpt-N with its bert_config.json, vocab
and label list; or a string-in SavedModel) and then classifies texts in batches:
the answer to "how do I predict one sentence quickly".
"""

import json
import os
import sys
import time

import numpy as np
import tensorflow as tf
from absl import flags

from bert_tf import checkpoints
from bert_tf import classifier
from bert_tf import tokenization
from bert_tf.config import BertConfig
from bert_tf.errors import UsageError, run_main
from bert_tf.features import featurize
from bert_tf.processors import InputExample

MODEL_INFO_FILE = "model_info.json"
THRESHOLDS_FILE = "thresholds.json"


def load_model_info(output_dir, required=True):
  """model_info.json of a training output_dir (None if absent and not required)."""
  path = os.path.join(output_dir, MODEL_INFO_FILE)
  if not os.path.exists(path):
    if not required:
      return None
    raise UsageError("%s has no %s: is it the output_dir of a training run?" %
                     (output_dir, MODEL_INFO_FILE))
  with open(path) as f:
    return json.load(f)


def load_thresholds(output_dir, label_list):
  """Multi-label decision thresholds tuned at eval time (thresholds.json), or None."""
  path = os.path.join(output_dir, THRESHOLDS_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    saved = json.load(f)
  return [saved.get(label, 0.5) for label in label_list]


def latest_checkpoint(output_dir):
  best = tf.train.latest_checkpoint(os.path.join(output_dir, "best"))
  latest = best or tf.train.latest_checkpoint(output_dir)
  if not latest:
    raise UsageError("No model.ckpt-N in %s." % output_dir)
  return latest


def load_trained_classifier(output_dir, checkpoint=None):
  """(model, info) rebuilt from a training output_dir and restored from a checkpoint."""
  info = load_model_info(output_dir)
  checkpoint = checkpoint or latest_checkpoint(output_dir)
  bert_config = None
  if not info.get("bert_hub_module_handle"):
    bert_config = BertConfig.from_json_file(os.path.join(output_dir, "bert_config.json"))
  num_labels = 1 if info["task_type"] == "regression" else len(info["label_list"])
  model, _, variables = classifier.create_classifier(
      num_labels, bert_config, info.get("bert_hub_module_handle"),
      head_hidden_size=info.get("head_hidden_size", 0))
  checkpoints.restore_variables(variables, checkpoint, allow_unused=True)
  info["checkpoint"] = checkpoint
  info["thresholds"] = load_thresholds(output_dir, info["label_list"])
  return model, info


def decide(probs, task_type, label_list, thresholds=None):
  """Probabilities -> the predicted label (str), labels (list) or score (float)."""
  if task_type == "regression":
    return [float(np.atleast_1d(p)[0]) for p in probs]
  if task_type == "multi_label":
    cut = np.full(len(label_list), 0.5) if thresholds is None else np.asarray(thresholds)
    return [[label_list[j] for j in np.flatnonzero(p >= cut)] for p in probs]
  return [label_list[int(np.argmax(p))] for p in probs]


class Predictor:
  """Loads once, predicts many: `Predictor(output_dir).predict(["text", ...])`."""

  def __init__(self, model_dir, checkpoint=None, batch_size=32):
    self.batch_size = batch_size
    if os.path.exists(os.path.join(model_dir, "saved_model.pb")):
      self._init_saved_model(model_dir)
    else:
      self._init_checkpoint(model_dir, checkpoint)

  def _init_checkpoint(self, output_dir, checkpoint):
    self.model, info = load_trained_classifier(output_dir, checkpoint)
    self.info = info
    self.tokenizer = tokenization.FullTokenizer(os.path.join(output_dir, "vocab.txt"),
                                                info["do_lower_case"])
    task_type = info["task_type"]

    @tf.function(reduce_retracing=True)
    def forward(features):
      return classifier.probabilities(self.model(features, training=False), task_type)
    self._forward = forward
    self._saved = None

  def _init_saved_model(self, export_dir):
    import tensorflow_text  # noqa: F401  pylint: disable=unused-import,g-import-not-at-top
    self._saved = tf.saved_model.load(export_dir)
    with open(os.path.join(export_dir, "assets.extra", MODEL_INFO_FILE)) as f:
      self.info = json.load(f)

  @property
  def label_list(self):
    return self.info["label_list"]

  def predict_proba(self, texts, texts_b=None):
    """[n, num_labels] probabilities (or [n, 1] scores for regression)."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    if texts_b is not None:
      texts_b = [texts_b] if isinstance(texts_b, str) else list(texts_b)
    out = []
    for i in range(0, len(texts), self.batch_size):
      chunk = texts[i:i + self.batch_size]
      chunk_b = texts_b[i:i + self.batch_size] if texts_b is not None else None
      if self._saved is not None:
        signature = self._saved.signatures["serving_default"]
        kwargs = dict(text_a=tf.constant(chunk))
        if self.info.get("text_pair"):
          kwargs["text_b"] = tf.constant(chunk_b if chunk_b is not None else [""] * len(chunk))
        out.append(signature(**kwargs)["probabilities"].numpy())
        continue
      examples = [InputExample(str(j), a, None if chunk_b is None else chunk_b[j])
                  for j, a in enumerate(chunk)]
      arrays = featurize(examples, self.label_list, self.info["max_seq_length"],
                         self.tokenizer, task_type=self.info["task_type"],
                         truncation=self.info.get("truncation", "head"),
                         head_tokens=self.info.get("head_tokens", 128), num_workers=1,
                         show_progress=False)
      length = max(int(arrays.input_mask.sum(axis=1).max()), 1)
      features = dict(input_word_ids=arrays.input_ids[:, :length],
                      input_mask=arrays.input_mask[:, :length],
                      input_type_ids=arrays.segment_ids[:, :length])
      out.append(self._forward(features).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(self.label_list)))

  def predict(self, texts, texts_b=None):
    """A list of {"label": ..., "probabilities": {label: p}} (or {"score": x})."""
    probs = self.predict_proba(texts, texts_b)
    task_type = self.info["task_type"]
    decisions = decide(probs, task_type, self.label_list, self.info.get("thresholds"))
    results = []
    for p, decision in zip(probs, decisions):
      if task_type == "regression":
        results.append({"score": decision})
      else:
        results.append({"labels" if task_type == "multi_label" else "label": decision,
                        "probabilities": {l: float(x) for l, x in zip(self.label_list, p)}})
    return results


def main(argv):
  del argv
  f = flags.FLAGS
  if bool(f.text) == bool(f.input_file):
    raise UsageError("Pass exactly one of --text or --input_file.")
  start = time.perf_counter()
  predictor = Predictor(f.model_dir, checkpoint=f.checkpoint, batch_size=f.batch_size)
  loaded = time.perf_counter()
  if f.text:
    texts = [f.text]
  else:
    try:
      with open(f.input_file, encoding="utf-8") as handle:
        texts = [line.rstrip("\n") for line in handle if line.strip()]
    except FileNotFoundError:
      raise UsageError("--input_file %s does not exist." % f.input_file) from None
  texts_b = [f.text_b] * len(texts) if f.text_b else None
  results = predictor.predict(texts, texts_b)
  done = time.perf_counter()
  for text, result in zip(texts, results):
    print(json.dumps(dict(text=text, **result), ensure_ascii=False))
  print("loaded in %.2f s; %d text(s) in %.1f ms (%.1f ms/text)" %
        (loaded - start, len(texts), 1000 * (done - loaded), 1000 * (done - loaded) / len(texts)),
        file=sys.stderr)


if __name__ == "__main__":
  flags.DEFINE_string("model_dir", None, "A training output_dir or an exported SavedModel "
                      "directory (export_dir/<version>).")
  flags.DEFINE_string("checkpoint", None, "model.ckpt-N to use (default: best, else latest).")
  flags.DEFINE_string("text", None, "One text to classify.")
  flags.DEFINE_string("text_b", None, "Second text, for sentence-pair models.")
  flags.DEFINE_string("input_file", None, "A file with one text per line.")
  flags.DEFINE_integer("batch_size", 32, "Texts per forward pass.")
  flags.mark_flag_as_required("model_dir")
  run_main(main)
