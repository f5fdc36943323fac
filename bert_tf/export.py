"""Exports: SavedModel for TF Serving (text in), TF-Hub encoder + preprocessor, TFLite.

The command line is `bert-tf-export` (bert_tf/cli/export.py).

SavedModel layout: EXPORT/<version>/ (TF Serving's versioned layout) with
  serving_default: text_a (and text_b for pair tasks) [batch] string ->
      probabilities, label_ids, label_names (multi-label: labels, 0/1 per label;
      regression: score)
  serve_ids: input_word_ids, input_mask, input_type_ids [batch, seq] int32 -> same;
      it needs no tensorflow-text ops, so any TF runtime serves it.
A string-in SavedModel needs `import tensorflow_text` before loading (its ops).
Every export is written to a temporary directory and renamed into place.
"""

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from bert_tf import modeling
from bert_tf import pretrained
from bert_tf import run_dir
from bert_tf.errors import (UsageError, atomic_path, remove_temporaries,
                            temporary_directory_for, write_text_atomic)
from bert_tf.preprocessing import Preprocessor
from bert_tf.predictor import MAX_BATCH_TEXTS, MAX_TEXT_CHARS, load_trained_model, version_dirs
from bert_tf.text_graph import BertTextPreprocessor, fast_bert_tokenizer
from bert_tf.tokenization import load_vocab

ID_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


def _ids_signature(seq_length=None, batch=None):
  return {name: tf.TensorSpec([batch, seq_length], tf.int32, name=name) for name in ID_INPUTS}


class ClassifierServingModule(tf.Module):
  """The fine-tuned classifier with text-in and ids-in serving functions."""

  def __init__(self, trained, max_batch_texts=MAX_BATCH_TEXTS, max_text_chars=MAX_TEXT_CHARS):
    super().__init__(name="bert_tf_classifier")
    self.model = trained.model
    self.task = trained.task
    self.preprocessor = trained.preprocessor.in_graph(pad_to_longest=True)
    self.text_pair = bool(trained.info.text_pair)
    self.max_batch_texts, self.max_text_chars = max_batch_texts, max_text_chars

  def _outputs(self, features):
    return self.task.serving_outputs(self.model(features, training=False))

  def serve_ids(self, input_word_ids, input_mask, input_type_ids):
    return self._outputs(dict(input_word_ids=input_word_ids, input_mask=input_mask,
                              input_type_ids=input_type_ids))

  def serve_text(self, text_a, text_b=None):
    for text in [text_a] + ([text_b] if text_b is not None else []):
      self._check_limits(text)
    return self._outputs(self.preprocessor(text_a, text_b))

  def _check_limits(self, text):
    """A request past the serving limits fails with a clear error, not an OOM."""
    tf.debugging.assert_less_equal(
        tf.size(text), self.max_batch_texts,
        message="too many texts in one request; the limit is %d" % self.max_batch_texts)
    longest = tf.reduce_max(tf.concat([tf.strings.length(text, unit="UTF8_CHAR"), [0]], 0))
    tf.debugging.assert_less_equal(
        longest, self.max_text_chars,
        message="a text is longer than the limit of %d characters" % self.max_text_chars)

  def signatures(self):
    ids_fn = tf.function(self.serve_ids).get_concrete_function(**_ids_signature())
    text = tf.TensorSpec([None], tf.string, name="text_a")
    if self.text_pair:
      text_fn = tf.function(lambda text_a, text_b: self.serve_text(text_a, text_b))
      text_fn = text_fn.get_concrete_function(text, tf.TensorSpec([None], tf.string,
                                                                  name="text_b"))
    else:
      text_fn = tf.function(lambda text_a: self.serve_text(text_a)).get_concrete_function(text)
    return {"serving_default": text_fn, "serve_ids": ids_fn}


def _next_version(export_dir):
  return max(map(int, version_dirs(export_dir)), default=0) + 1


def _save_atomic(module, path, signatures=None, extra_files=None):
  """tf.saved_model.save to a temporary sibling directory, renamed onto `path`."""
  with atomic_path(path) as tmp:
    tf.saved_model.save(module, tmp, signatures=signatures)
    for name, content in (extra_files or {}).items():
      os.makedirs(os.path.join(tmp, "assets.extra"), exist_ok=True)
      with open(os.path.join(tmp, "assets.extra", name), "w") as f:
        f.write(content)
  return path


def _served_info(trained):
  """model_info.json's content for an export: the run's, with the task's decided thresholds."""
  return dataclasses.replace(trained.info, task=trained.task.to_dict(), identity=None).to_dict()


def check_export_dir(export_dir):
  if os.path.exists(export_dir) and not os.path.isdir(export_dir):
    raise UsageError("--export_dir %s is a file, not a directory: pass a directory path." %
                     export_dir)
  if run_dir.RunDir(export_dir).holds_a_run():
    raise UsageError("--export_dir %s holds a training run: export into another directory "
                     "(e.g. %s)." % (export_dir, os.path.join(export_dir, "export")))


# Written into encoder/ by a hub export: an encoder/ without it is not ours to replace.
_HUB_EXPORT_MARK = os.path.join("assets.extra", "bert_tf_hub_export")


def _check_new_hub_dir(export_dir):
  """Refuses a folder holding a finished TF-Hub export, or an encoder/ or preprocessor/
  this export did not write (an interrupted export, its encoder/ alone, is replaced)."""
  encoder, preprocessor = (os.path.join(export_dir, name) for name in ("encoder", "preprocessor"))
  ours = os.path.exists(os.path.join(encoder, _HUB_EXPORT_MARK))
  if ours and os.path.exists(preprocessor):
    raise UsageError("--export_dir %s already holds a TF-Hub export (encoder/): pass a new "
                     "--export_dir, or remove that one first." % export_dir)
  for path in [preprocessor] + ([] if ours else [encoder]):  # ours alone: interrupted, redone
    if os.path.lexists(path):
      raise UsageError("--export_dir %s holds its own %s/, which a TF-Hub export would "
                       "replace: pass a new --export_dir, or move it away first." % (
                           export_dir, os.path.basename(path)))


def _labels_text(task):
  """labels.txt beside a .tflite: one label per line, in output order."""
  return "".join("%s\n" % label for label in task.label_list)


def _check_tflite_companions(path, trained):
  """A .tflite shares its folder's vocab.txt and labels.txt only with models that have the
  same ones (they would be overwritten, and the other model misread)."""
  directory = os.path.dirname(os.path.abspath(path))
  def read(file_path):
    try:
      with open(file_path, encoding="utf-8") as f:
        return f.read()
    except (OSError, UnicodeDecodeError):  # a folder, or not text: not this model's either
      return None
  ours = {"vocab.txt": read(trained.vocab_file), "labels.txt": _labels_text(trained.task)}
  for name, text in ours.items():
    there = os.path.join(directory, name)
    if os.path.exists(there) and read(there) != text:
      raise UsageError("%s holds another model's %s: export this run into another "
                       "--export_dir." % (directory, name))
  # The same labels and vocab, yet another run's model of this name: replaced unseen.
  try:
    with open(os.path.splitext(path)[0] + ".json", encoding="utf-8") as f:
      other = json.load(f).get("run")
  except (OSError, ValueError, AttributeError):  # none, or not one of our descriptions
    other = None
  run = _run_fingerprint(trained)
  if other and run and other != run:
    raise UsageError("%s holds %s, exported from another run: export this run into another "
                     "--export_dir." % (directory, os.path.basename(path)))


def _run_fingerprint(trained):
  """Which training a model comes from (its identity in model_info.json), or None."""
  identity = trained.info.identity
  return hashlib.sha1(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16] if (
      identity) else None


def _exportable(trained):
  if trained.preprocessor.doc_stride:
    raise UsageError("This run reads long texts as windows (--doc_stride=%d); its exports (which "
                     "take one window of ids or text) are not built yet: predict with the run "
                     "directory (bert-tf-predict, Predictor) instead." %
                     trained.preprocessor.doc_stride)
  return trained


def export_saved_model(output_dir, export_dir, checkpoint=None, version=None,
                       max_batch_texts=MAX_BATCH_TEXTS, max_text_chars=MAX_TEXT_CHARS,
                       dtype="float32"):
  """Exports a trained output_dir to export_dir/<version>/; returns that path.

  The string-in signature refuses requests past `max_batch_texts` texts or a text past
  `max_text_chars` characters (InvalidArgumentError naming the limit). `dtype` (one of
  config.INFERENCE_DTYPES) is what the served model computes in; its model_info.json says."""
  check_export_dir(export_dir)
  if version is not None and (isinstance(version, bool) or not isinstance(version, int) or
                              version < 1):
    raise UsageError("--version must be a positive integer (TF Serving loads numbered "
                     "versions), got %r." % (version,))
  remove_temporaries(export_dir)  # of an export that was killed
  # Padding skipped, as the Predictor does: requests are padded to their longest text.
  trained = _exportable(load_trained_model(output_dir, checkpoint, skip_padding=True,
                                           dtype=dtype or "float32"))
  module = ClassifierServingModule(trained, max_batch_texts, max_text_chars)
  version = version or _next_version(export_dir)
  path = os.path.join(export_dir, str(version))
  if os.path.exists(path):
    raise UsageError("%s already exists: pass another --version (or leave it out for the next "
                     "one)." % path)
  info = dict(_served_info(trained), dtype=dtype or "float32")
  _check_same_interface(export_dir, info)
  return _save_atomic(module, path, signatures=module.signatures(),
                      extra_files={run_dir.MODEL_INFO: json.dumps(info, indent=1)})


def _served_interface(info):
  """What a served model's clients depend on: the kind of task, its labels, pairs or not."""
  return dict(kind=info["task"].get("kind"), labels=info["task"].get("label_list"),
              text_pair=bool(info.get("text_pair")))


def _check_same_interface(export_dir, info):
  """A new version replaces the served one under TF Serving: refused when its outputs
  differ (other labels, another kind of task, pairs), which would break its clients."""
  versions = sorted(map(int, version_dirs(export_dir)))
  if not versions:
    return
  newest = os.path.join(export_dir, str(versions[-1]))
  try:
    with open(os.path.join(newest, "assets.extra", run_dir.MODEL_INFO), encoding="utf-8") as f:
      served = _served_interface(json.load(f))
  except (OSError, ValueError, KeyError, AttributeError):
    return  # not one of ours: nothing to compare
  new = _served_interface(info)
  changed = ["%s: %s -> %s" % (k, served[k], new[k]) for k in new if served[k] != new[k]]
  if changed:
    raise UsageError("%s serves another model (%s): as its next version, TF Serving would "
                     "switch its clients to other outputs; export into a new --export_dir." % (
                         newest, "; ".join(changed)))


# ============================================================================
# TF-Hub format
# ============================================================================
class _HubPreprocessor(tf.Module):
  """TF-Hub style preprocessor: __call__(strings) -> encoder inputs; tokenize()."""

  def __init__(self, preprocessor):
    super().__init__(name="bert_preprocessor")
    self.preprocessor = preprocessor
    self.vocab_file = preprocessor.vocab_file
    self.do_lower_case = preprocessor.do_lower_case

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def __call__(self, text):
    return self.preprocessor(text)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def tokenize(self, text):
    return self.preprocessor.tokenize(text)


def export_hub_encoder(encoder, vocab_file, do_lower_case, export_dir, max_seq_length=128,
                       text_preprocessor=None):
  """Writes export_dir/encoder (hub BERT encoder) and export_dir/preprocessor
  (`text_preprocessor`, a BertTextPreprocessor: a run's own recipe, with its truncation and
  --clean_text; by default Google's)."""
  # Attributes that hub consumers (and our hub.module_vocab) read.
  encoder.vocab_file = tf.saved_model.Asset(vocab_file)
  encoder.do_lower_case = tf.Variable(do_lower_case, trainable=False)
  with atomic_path(os.path.join(export_dir, "encoder")) as tmp:
    encoder.save(tmp, include_optimizer=False, save_format="tf")
    os.makedirs(os.path.dirname(os.path.join(tmp, _HUB_EXPORT_MARK)), exist_ok=True)
    with open(os.path.join(tmp, _HUB_EXPORT_MARK), "w", encoding="utf-8") as f:
      f.write("the encoder of a bert_tf TF-Hub export; its preprocessor is ../preprocessor\n")
  preprocessor = _HubPreprocessor(text_preprocessor or BertTextPreprocessor(
      vocab_file, do_lower_case, max_seq_length))
  _save_atomic(preprocessor, os.path.join(export_dir, "preprocessor"))
  return os.path.join(export_dir, "encoder"), os.path.join(export_dir, "preprocessor")


def export_pretrained_to_hub(model_dir, export_dir, max_seq_length=128):
  """A Google-format model directory (or named model) -> TF-Hub encoder + preprocessor."""
  check_export_dir(export_dir)
  _check_new_hub_dir(export_dir)
  files = pretrained.model_files(pretrained.check_model_dir(model_dir))
  Preprocessor.from_vocab(files.vocab_file, files.do_lower_case, max_seq_length).check_model(
      modeling.BertConfig.from_json_file(files.bert_config_file), files.bert_config_file)
  with modeling.dtype_policy("float32"):  # a TF-Hub encoder is float32, whatever the caller's
    encoder = modeling.load_encoder(os.path.dirname(files.init_checkpoint))
  return export_hub_encoder(encoder, files.vocab_file, files.do_lower_case, export_dir,
                            max_seq_length)


# ============================================================================
# TFLite
# ============================================================================
QUANTIZATIONS = ("float32", "float16", "int8")


def tflite_path(export_dir, quantization="float32", text_input=False):
  """Where a .tflite export goes: `export_dir` itself if it names a .tflite file, else
  export_dir/model_<ids|text>_<quantization>.tflite."""
  export_dir = os.fspath(export_dir)
  if export_dir.endswith(".tflite"):
    return export_dir
  return os.path.join(export_dir, "model_%s_%s.tflite" % ("text" if text_input else "ids",
                                                         quantization))


def export_tflite(output_dir, path, quantization="float32", checkpoint=None, batch_size=1,
                  text_input=False):
  """The classifier as a TFLite model, probabilities out.

  ids in ([batch, max_seq_length] int32, builtin ops only) by default; with
  `text_input`, one raw string in ([1]), tokenized inside by tf-text's
  FastBertTokenizer, which needs tf-text's TFLite custom ops at run time (see
  `tflite_interpreter`) and normalises text slightly differently from Google's
  tokenizer (NFKC-style case folding); single-text tasks only. int8 is
  dynamic-range quantization (int8 weights).
  """
  if quantization not in QUANTIZATIONS:
    raise UsageError("--quantization must be one of %s." % ", ".join(QUANTIZATIONS))
  if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
    raise UsageError("batch_size must be a positive integer, got %r." % (batch_size,))
  path = os.fspath(path)
  check_export_dir(os.path.dirname(os.path.abspath(path)))  # vocab.txt etc. go beside it
  # What a killed export left beside it (an hour old: not a concurrent export's, at work).
  remove_temporaries(os.path.dirname(os.path.abspath(path)), older_than=3600)
  trained = _exportable(load_trained_model(output_dir, checkpoint, dtype="float32"))
  _check_tflite_companions(path, trained)
  model, task = trained.model, trained.task
  length = trained.preprocessor.max_seq_length

  def probabilities(word_ids, mask, type_ids):
    logits = model(dict(input_word_ids=word_ids, input_mask=mask, input_type_ids=type_ids),
                   training=False)
    return {"probabilities": task.probabilities(logits)}

  if text_input:
    if trained.info.text_pair:
      raise UsageError("String-in TFLite takes one text; export pair tasks with ids in.")
    if trained.preprocessor.clean_text:
      raise UsageError("String-in TFLite has no text cleaning, but this run cleans its texts "
                       "(--clean_text): export it with --tflite_input=ids.")
    if trained.preprocessor.truncation != "head":
      raise UsageError("String-in TFLite keeps the head of long texts, but this run truncates "
                       "with %r: export it with --tflite_input=ids." %
                       trained.preprocessor.truncation)
    tokenizer = fast_bert_tokenizer(trained.vocab_file, trained.preprocessor.do_lower_case)
    vocab = load_vocab(trained.vocab_file)

    @tf.function(input_signature=[tf.TensorSpec([1], tf.string, name="text")])
    def serve(text):
      # Plain tensor ops only (ragged ops have no TFLite kernels): one text, head-truncated.
      ids = tf.cast(tokenizer.tokenize(text).flat_values[:length - 2], tf.int32)
      ids = tf.concat([[vocab["[CLS]"]], ids, [vocab["[SEP]"]]], axis=0)
      word_ids = tf.reshape(tf.pad(ids, [[0, length - tf.shape(ids)[0]]]), [1, length])
      return probabilities(word_ids, tf.cast(word_ids > 0, tf.int32), tf.zeros_like(word_ids))
    concrete = serve.get_concrete_function()
  else:
    concrete = tf.function(lambda input_word_ids, input_mask, input_type_ids: probabilities(
        input_word_ids, input_mask, input_type_ids)).get_concrete_function(
            **_ids_signature(length, batch_size))
  converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
  converter.allow_custom_ops = text_input
  if quantization == "float16":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
  elif quantization == "int8":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  with _tf_temporaries_beside(path):
    flatbuffer = converter.convert()
  with atomic_path(path) as tmp:
    with open(tmp, "wb") as f:
      f.write(flatbuffer)
  _write_tflite_companions(trained, path, quantization, text_input, batch_size)
  return path


@contextlib.contextmanager
def _tf_temporaries_beside(path):
  """The converter saves the model into a temporary folder of tempfile's (/tmp, ~90 MB for
  MiniLM): made beside `path` instead, where a killed export's is found and removed."""
  folder, default = temporary_directory_for(path), tempfile.tempdir
  tempfile.tempdir = folder
  try:
    yield
  finally:
    tempfile.tempdir = default
    shutil.rmtree(folder, ignore_errors=True)


def _write_tflite_companions(trained, path, quantization, text_input, batch_size):
  """What a mobile developer needs beside the .tflite: vocab.txt, labels.txt and
  <model>.json (inputs, outputs, casing, max_seq_length, labels, thresholds)."""
  directory = os.path.dirname(os.path.abspath(path))
  with atomic_path(os.path.join(directory, "vocab.txt")) as tmp:
    shutil.copyfile(trained.vocab_file, tmp)
  task, length = trained.task, trained.preprocessor.max_seq_length
  write_text_atomic(os.path.join(directory, "labels.txt"), _labels_text(task))
  inputs = ([dict(name="text", dtype="string", shape=[1])] if text_input else
            [dict(name=name, dtype="int32", shape=[batch_size, length]) for name in ID_INPUTS])
  description = dict(
      model=os.path.basename(path), run=_run_fingerprint(trained), quantization=quantization,
      inputs=inputs,
      outputs=[dict(name="probabilities", dtype="float32",
                    shape=[batch_size if not text_input else 1, task.num_outputs])],
      task=task.to_dict(), vocab="vocab.txt", labels="labels.txt",
      preprocessing=dict(trained.preprocessor.settings(), packing="[CLS] text [SEP], zero "
                         "padding to max_seq_length; input_mask 1 on tokens; input_type_ids 0"))
  write_text_atomic(os.path.splitext(path)[0] + ".json", json.dumps(description, indent=1) + "\n")


def tflite_interpreter(path, text_input=False, num_threads=None):
  """A TFLite interpreter: ai-edge-litert's when installed (with tf-text's custom ops
  for string-in models), else TF's own (builtin ops only).

  It runs on `num_threads` threads, by default every CPU this process may use:
  TFLite's own default is one thread, half the speed on two cores.
  """
  if num_threads is None:
    num_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
  try:
    from ai_edge_litert import interpreter as litert  # pylint: disable=g-import-not-at-top
  except ImportError:
    if text_input:
      raise UsageError("String-in TFLite models need ai-edge-litert: "
                       "pip install ai-edge-litert") from None
    litert = None
  if text_input:
    import tensorflow_text  # pylint: disable=g-import-not-at-top
    interpreter = litert.InterpreterWithCustomOps(
        custom_op_registerers=tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS,
        model_path=path, num_threads=num_threads)
  else:
    interpreter = (litert.Interpreter if litert else tf.lite.Interpreter)(
        model_path=path, num_threads=num_threads)
  interpreter.allocate_tensors()
  return interpreter


def run_tflite_text(interpreter, text):
  """Runs a string-in TFLite model on one text; returns its probabilities [1, labels]."""
  interpreter.set_tensor(interpreter.get_input_details()[0]["index"],
                         np.array([text], dtype=object))
  interpreter.invoke()
  return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def run_tflite(interpreter, features):
  """Feeds dict(input_word_ids, input_mask, input_type_ids) and returns the output array."""
  for detail in interpreter.get_input_details():
    name = next(n for n in ID_INPUTS if n in detail["name"])
    interpreter.set_tensor(detail["index"], np.asarray(features[name], detail["dtype"]))
  interpreter.invoke()
  return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def encoder_of(model):
  """The encoder inside a classifier built by classifier.build_classifier (ours computes
  [CLS] alone in its last layer: modeling.with_all_positions gives every position)."""
  for name in ("bert_encoder", "hub_encoder"):
    try:
      return model.get_layer(name)
    except ValueError:
      pass
  raise UsageError("No encoder layer found in the classifier.")


def export_run_to_hub(output_dir, export_dir, checkpoint=None):
  """A trained run's fine-tuned encoder (and its preprocessor) in TF-Hub format."""
  check_export_dir(export_dir)
  _check_new_hub_dir(export_dir)
  trained = _exportable(load_trained_model(output_dir, checkpoint, dtype="float32"))
  encoder = encoder_of(trained.model)
  if trained.bert_config is not None:  # the classifier's computes [CLS] alone in its last layer
    with modeling.dtype_policy("float32"):
      encoder = modeling.with_all_positions(encoder, trained.bert_config)
  return export_hub_encoder(encoder, trained.vocab_file,
                            trained.preprocessor.do_lower_case, export_dir,
                            trained.preprocessor.max_seq_length,
                            text_preprocessor=trained.preprocessor.in_graph())
