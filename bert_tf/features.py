"""InputExamples -> InputFeatures -> TFRecord files with Google's feature names.

`convert_single_example` is Google's: [CLS] A [SEP] (B [SEP]), segment ids 0/1,
longest-first pair truncation, zero padding. For long single texts there are
also "tail" and "head_tail" truncation (Sun et al. 2019, "How to Fine-Tune BERT
for Text Classification?": keep the first 128 and the last tokens).

`featurize` does the same for a whole list at once into NumPy arrays (fast: ids
come straight from `FullTokenizer.tokenize_to_ids`, and big lists are split over
the CPU cores). `file_based_convert_examples_to_features` writes TFRecords
(`input_ids`, `input_mask`, `segment_ids`, `label_ids`, `is_real_example`)
atomically, sharded when large, and reuses them when nothing changed.
"""

import dataclasses
import gc
import hashlib
import json
import multiprocessing
import os
from typing import List

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import processors
from bert_tf.errors import UsageError, atomic_path
from bert_tf.processors import PaddingInputExample
from bert_tf.progress import progress_bar

TRUNCATION_STRATEGIES = ("head", "tail", "head_tail")
EXAMPLES_PER_SHARD = 250_000
# Forking pays off only for big inputs (measured: SST-2's 3.4M characters run
# faster in one process, IMDB's 33M nearly 2x faster in two).
_PARALLEL_MIN_CHARS = 10_000_000


@dataclasses.dataclass
class InputFeatures:
  """A single set of features of data (Google's names)."""
  input_ids: List[int]
  input_mask: List[int]
  segment_ids: List[int]
  label_id: object  # int, float (regression) or list of 0/1 floats (multi-label)
  is_real_example: bool = True


@dataclasses.dataclass
class FeatureArrays:
  """Features of many examples as [N, max_seq_length] int32 arrays plus labels."""
  input_ids: np.ndarray
  input_mask: np.ndarray
  segment_ids: np.ndarray
  label_ids: np.ndarray        # [N] int64, [N] float32 (regression), [N, L] float32
  is_real_example: np.ndarray  # [N] int64

  def __len__(self):
    return len(self.input_ids)

  def row(self, i):
    label = self.label_ids[i]
    label = label.tolist() if label.ndim else label.item()
    return InputFeatures(self.input_ids[i].tolist(), self.input_mask[i].tolist(),
                         self.segment_ids[i].tolist(), label, bool(self.is_real_example[i]))


# ============================================================================
# Truncation
# ============================================================================
def _truncate_seq_pair(tokens_a, tokens_b, max_length):
  """Truncates a sequence pair in place to the maximum length (longest first).

  Trimming the longer one a token at a time keeps more of the short sequence,
  which is likely to carry more information per token (Google's comment).
  """
  while len(tokens_a) + len(tokens_b) > max_length:
    if len(tokens_a) > len(tokens_b):
      tokens_a.pop()
    else:
      tokens_b.pop()


def truncate_single(tokens, max_length, strategy="head", head_tokens=128):
  """Keeps `max_length` tokens of a single text: its head, tail, or head + tail."""
  if len(tokens) <= max_length:
    return tokens
  if strategy == "head":
    return tokens[:max_length]
  if strategy == "tail":
    return tokens[len(tokens) - max_length:]
  if strategy == "head_tail":
    head = min(head_tokens, max_length)
    tail = max_length - head
    return tokens[:head] + (tokens[len(tokens) - tail:] if tail else [])
  raise UsageError("--truncation=%s is not one of %s." % (strategy, ", ".join(TRUNCATION_STRATEGIES)))


# ============================================================================
# Labels
# ============================================================================
def label_encoding(task_type, label_list):
  """Returns a function InputExample.label -> label_id for this task."""
  if task_type == "regression":
    return lambda label: 0.0 if label is None else float(label)
  label_map = {label: i for i, label in enumerate(label_list)}

  def lookup(label):
    try:
      return label_map[label]
    except KeyError:
      raise UsageError("Label %r is not in the label list (%s)." %
                       (label, ", ".join(label_list[:20]))) from None

  if task_type == "multi_label":
    def multi_hot(labels):
      vector = [0.0] * len(label_list)
      for label in labels or ():
        vector[lookup(label)] = 1.0
      return vector
    return multi_hot
  return lambda label: 0 if label is None else lookup(label)


# ============================================================================
# Google's per-example conversion
# ============================================================================
def convert_single_example(ex_index, example, label_list, max_seq_length, tokenizer,
                           task_type="classification", truncation="head", head_tokens=128):
  """Converts a single `InputExample` into a single `InputFeatures`."""
  encode_label = label_encoding(task_type, label_list)
  if isinstance(example, PaddingInputExample):
    return InputFeatures([0] * max_seq_length, [0] * max_seq_length, [0] * max_seq_length,
                         encode_label(None if task_type != "multi_label" else []), False)
  ids_a = tokenizer.tokenize_to_ids(example.text_a)
  ids_b = tokenizer.tokenize_to_ids(example.text_b) if example.text_b else None
  input_ids, b_start = _pack(ids_a, ids_b, max_seq_length, tokenizer.vocab, truncation,
                             head_tokens)
  segment_ids = [0] * b_start + [1] * (len(input_ids) - b_start)
  input_mask = [1] * len(input_ids)
  padding = [0] * (max_seq_length - len(input_ids))
  label = example.label if task_type != "multi_label" else (example.label or [])
  if ex_index < 3:
    logging.info("*** Example %s ***\ntokens: %s\nlabel: %s", example.guid,
                 " ".join(tokenizer.convert_ids_to_tokens(input_ids)), example.label)
  return InputFeatures(input_ids + padding, input_mask + padding, segment_ids + padding,
                       encode_label(label))


def _pack(ids_a, ids_b, max_seq_length, vocab, truncation, head_tokens):
  """[CLS] A [SEP] (B [SEP]) with truncation; returns (input_ids, start of segment B).

  The convention in BERT is:
    (a) For sequence pairs:
     tokens:   [CLS] is this jack ##son ##ville ? [SEP] no it is not . [SEP]
     type_ids: 0     0  0    0    0     0       0 0     1  1  1  1   1 1
    (b) For single sequences:
     tokens:   [CLS] the dog is hairy . [SEP]
     type_ids: 0     0   0   0  0     0 0
  Segment B starts at len(input_ids) for a single sequence.
  """
  cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
  # Like Google's, a text_b that is empty or tokenizes to nothing makes a single
  # sequence (no second [SEP]).
  if ids_b:
    ids_a, ids_b = list(ids_a), list(ids_b)
    _truncate_seq_pair(ids_a, ids_b, max_seq_length - 3)  # [CLS], [SEP], [SEP]
    return [cls_id] + ids_a + [sep_id] + ids_b + [sep_id], len(ids_a) + 2
  ids_a = truncate_single(ids_a, max_seq_length - 2, truncation, head_tokens)
  return [cls_id] + ids_a + [sep_id], len(ids_a) + 2


# Set before forking worker processes, which read it copy-on-write: no pickling.
_WORKER = {}


def _pack_range(start, end):
  """Packs examples[start:end] into flat ids plus per-row length and segment-B start.

  The cyclic garbage collector is paused meanwhile: the loop allocates millions of
  small lists that hold no cycles, and each full collection would walk the whole
  TensorFlow heap (measured: it made this loop up to 2x slower, and erratic).
  """
  was_enabled = gc.isenabled()
  gc.disable()
  try:
    return _pack_range_gc_off(start, end)
  finally:
    if was_enabled:
      gc.enable()


def _pack_range_gc_off(start, end):
  examples, tokenizer, max_seq_length, truncation, head_tokens, show_progress = _WORKER["args"]
  vocab, tokenize = tokenizer.vocab, tokenizer.tokenize_to_ids
  flat, lengths, b_starts = [], [], []
  progress = progress_bar(end - start, "example") if show_progress else None
  for i in range(start, end):
    example = examples[i]
    if isinstance(example, PaddingInputExample):
      lengths.append(0)
      b_starts.append(0)
      continue
    ids_b = tokenize(example.text_b) if example.text_b else None
    ids, b_start = _pack(tokenize(example.text_a), ids_b, max_seq_length, vocab, truncation,
                         head_tokens)
    flat.extend(ids)
    lengths.append(len(ids))
    b_starts.append(b_start)
    if progress is not None and i % 5000 == 0:
      progress.update(i - start)
  if progress is not None:
    progress.update(end - start, finalize=True)
  return (np.array(flat, np.int32), np.array(lengths, np.int32), np.array(b_starts, np.int32))


def featurize(examples, label_list, max_seq_length, tokenizer, task_type="classification",
              truncation="head", head_tokens=128, num_workers=None, show_progress=True):
  """Converts examples (PaddingInputExamples included) into FeatureArrays.

  Same ids as `convert_single_example`, example by example. Large lists are split
  over `num_workers` forked processes (default: all cores).
  """
  if max_seq_length < 3:
    raise UsageError("--max_seq_length must be at least 3, got %d." % max_seq_length)
  if tokenizer.vocab.get("[CLS]") is None or tokenizer.vocab.get("[SEP]") is None:
    raise UsageError("The vocabulary has no [CLS] or [SEP] token; is it a BERT vocab.txt?")
  n = len(examples)
  label_ids = _encode_labels(examples, label_list, task_type)
  num_workers = num_workers if num_workers is not None else (os.cpu_count() or 1)
  parallel = (num_workers > 1 and "fork" in multiprocessing.get_all_start_methods() and
              sum(len(e.text_a) + len(e.text_b or "") for e in examples
                  if not isinstance(e, PaddingInputExample)) >= _PARALLEL_MIN_CHARS)
  _WORKER["args"] = (examples, tokenizer, max_seq_length, truncation, head_tokens,
                     show_progress and not parallel)
  try:
    if parallel:
      bounds = np.linspace(0, n, num_workers + 1).astype(int)
      with multiprocessing.get_context("fork").Pool(num_workers) as pool:
        parts = pool.starmap(_pack_range, zip(bounds[:-1], bounds[1:]))
      flat, lengths, b_starts = (np.concatenate(p) for p in zip(*parts))
    else:
      flat, lengths, b_starts = _pack_range(0, n)
  finally:
    _WORKER.clear()
  positions = np.arange(max_seq_length, dtype=np.int32)[None, :]
  input_mask = positions < lengths[:, None]
  input_ids = np.zeros((n, max_seq_length), np.int32)
  input_ids[input_mask] = flat  # row-major fill: each row's ids, then padding
  segment_ids = (input_mask & (positions >= b_starts[:, None])).astype(np.int32)
  is_real = np.array([not isinstance(e, PaddingInputExample) for e in examples], np.int64)
  return FeatureArrays(input_ids, input_mask.astype(np.int32), segment_ids, label_ids, is_real)


def _encode_labels(examples, label_list, task_type):
  encode = label_encoding(task_type, label_list)
  if task_type == "multi_label":
    return np.array([encode([]) if isinstance(e, PaddingInputExample) else encode(e.label or [])
                     for e in examples], np.float32).reshape(len(examples), len(label_list))
  dtype = np.float32 if task_type == "regression" else np.int64
  return np.array([encode(None) if isinstance(e, PaddingInputExample) else encode(e.label)
                   for e in examples], dtype)


def convert_examples_to_features(examples, label_list, max_seq_length, tokenizer,
                                 task_type="classification", truncation="head",
                                 head_tokens=128):
  """Google's API: a list of `InputFeatures`, one per example."""
  arrays = featurize(examples, label_list, max_seq_length, tokenizer, task_type, truncation,
                     head_tokens, num_workers=1, show_progress=False)
  return [arrays.row(i) for i in range(len(arrays))]


# ============================================================================
# TFRecords
# ============================================================================
def name_to_features(seq_length, task_type="classification", num_labels=1):
  """The parsing spec of our TFRecords; for classification it is Google's exactly."""
  if task_type == "multi_label":
    label = tf.io.FixedLenFeature([num_labels], tf.float32)
  elif task_type == "regression":
    label = tf.io.FixedLenFeature([], tf.float32)
  else:
    label = tf.io.FixedLenFeature([], tf.int64)
  return {
      "input_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "label_ids": label,
      "is_real_example": tf.io.FixedLenFeature([], tf.int64),
  }


def _int_feature(values):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def _float_feature(values):
  return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def serialize_example(arrays, i):
  label = arrays.label_ids[i]
  label_feature = (_int_feature([int(label)]) if label.dtype == np.int64
                   else _float_feature(np.atleast_1d(label).tolist()))
  features = {
      "input_ids": _int_feature(arrays.input_ids[i].tolist()),
      "input_mask": _int_feature(arrays.input_mask[i].tolist()),
      "segment_ids": _int_feature(arrays.segment_ids[i].tolist()),
      "label_ids": label_feature,
      "is_real_example": _int_feature([int(arrays.is_real_example[i])]),
  }
  return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def shard_paths(output_file, num_examples, examples_per_shard=EXAMPLES_PER_SHARD):
  """`train.tf_record`, or `train.tf_record-00000-of-00003` ... when large."""
  shards = max(1, -(-num_examples // examples_per_shard))
  if shards == 1:
    return [output_file]
  return ["%s-%05d-of-%05d" % (output_file, i, shards) for i in range(shards)]


def write_tfrecords(arrays, output_file, examples_per_shard=EXAMPLES_PER_SHARD,
                    show_progress=True):
  """Writes FeatureArrays to TFRecord file(s) atomically; returns their paths."""
  paths = shard_paths(output_file, len(arrays), examples_per_shard)
  progress = progress_bar(len(arrays), "record") if show_progress else None
  start = 0
  for path in paths:
    end = min(start + examples_per_shard, len(arrays)) if len(paths) > 1 else len(arrays)
    with atomic_path(path) as tmp:
      with tf.io.TFRecordWriter(tmp) as writer:
        for i in range(start, end):
          writer.write(serialize_example(arrays, i))
          if progress is not None and i % 2000 == 0:
            progress.update(i)
    start = end
  if progress is not None:
    progress.update(len(arrays), finalize=True)
  return paths


def cache_key(examples, label_list, max_seq_length, tokenizer, task_type, truncation,
              head_tokens):
  """A fingerprint of everything a TFRecord depends on."""
  digest = hashlib.sha256()
  settings = dict(labels=list(label_list), max_seq_length=max_seq_length, task_type=task_type,
                  truncation=truncation, head_tokens=head_tokens,
                  do_lower_case=tokenizer.do_lower_case, format=2)
  digest.update(json.dumps(settings, sort_keys=True).encode())
  digest.update("\n".join(tokenizer.vocab).encode())
  for example in examples:
    if isinstance(example, PaddingInputExample):
      digest.update(b"\x00PAD")
    else:
      digest.update(json.dumps([example.guid, example.text_a, example.text_b, example.label],
                               ensure_ascii=False).encode())
  return digest.hexdigest()


@dataclasses.dataclass
class TFRecordInfo:
  paths: List[str]
  num_examples: int
  num_real_examples: int
  reused: bool


def file_based_convert_examples_to_features(examples, label_list, max_seq_length, tokenizer,
                                            output_file, task_type="classification",
                                            truncation="head", head_tokens=128,
                                            examples_per_shard=EXAMPLES_PER_SHARD,
                                            num_workers=None):
  """Converts examples to a TFRecord file, reusing it when nothing changed.

  The cache metadata lives in `output_file + ".meta.json"`, written after the
  records, so an interrupted write is rebuilt on the next run.
  """
  key = cache_key(examples, label_list, max_seq_length, tokenizer, task_type, truncation,
                  head_tokens)
  meta_path = output_file + ".meta.json"
  meta = _read_meta(meta_path)
  if meta and meta.get("key") == key and all(os.path.exists(p) for p in meta["paths"]):
    logging.info("Reusing %s (%d examples; inputs unchanged).", output_file, meta["num_examples"])
    return TFRecordInfo(meta["paths"], meta["num_examples"], meta["num_real_examples"], True)
  if meta:  # stale: drop old shards that the new write might not overwrite
    for path in meta.get("paths", []):
      if os.path.exists(path):
        os.remove(path)
  logging.info("Writing %d examples to %s", len(examples), output_file)
  arrays = featurize(examples, label_list, max_seq_length, tokenizer, task_type, truncation,
                     head_tokens, num_workers=num_workers)
  paths = write_tfrecords(arrays, output_file, examples_per_shard)
  num_real = int(arrays.is_real_example.sum())
  meta = dict(key=key, paths=paths, num_examples=len(arrays), num_real_examples=num_real,
              max_seq_length=max_seq_length, task_type=task_type, num_labels=len(label_list))
  with atomic_path(meta_path) as tmp:
    with open(tmp, "w") as f:
      json.dump(meta, f, indent=1)
  return TFRecordInfo(paths, len(arrays), num_real, False)


def _read_meta(path):
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def pad_to_batch_multiple(examples, batch_size):
  """Appends PaddingInputExamples so that len(examples) % batch_size == 0 (TPU)."""
  remainder = len(examples) % batch_size
  if not remainder:
    return list(examples)
  return list(examples) + [PaddingInputExample() for _ in range(batch_size - remainder)]


# ============================================================================
# Whole data sets: processor -> label list -> TFRecords (Model Garden's
# create_finetuning_data, and what run_classifier.py calls)
# ============================================================================
LABEL_LIST_FILE = "label_list.txt"
TFRECORD_NAMES = {"train": "train.tf_record", "dev": "eval.tf_record", "test": "predict.tf_record"}


@dataclasses.dataclass
class FinetuningData:
  """What the model and training stages need to know about the prepared data."""
  task_type: str
  label_list: List[str]
  max_seq_length: int
  tfrecords: dict        # set name -> TFRecordInfo
  examples: dict         # set name -> list of InputExample (for predictions.csv)

  @property
  def num_labels(self):
    return 1 if self.task_type == "regression" else len(self.label_list)


def data_config_from_run_config(config):
  return processors.FileDataConfig(
      train_file=config.train_file, dev_file=config.dev_file, test_file=config.test_file,
      file_format=config.file_format, text_column=config.text_column,
      text_b_column=config.text_b_column,
      label_columns=[c.strip() for c in config.label_column.split(",") if c.strip()],
      label_delimiter=config.label_delimiter, labels_file=config.labels_file,
      header=config.header, encoding=config.encoding, regression=config.regression,
      dev_split=config.dev_split, test_split=config.test_split, split_seed=config.seed)


def create_finetuning_data(config, tokenizer, sets=None, eval_pad_to=None,
                           predict_pad_to=None, skip_empty=False):
  """Reads the data of `config` and writes output_dir/{train,eval,predict}.tf_record.

  `sets` defaults to the sets that config's do_train/do_eval/do_predict need. The
  label list comes from --label_list, else from a previous run's
  output_dir/label_list.txt, else from the training data; it is saved to
  output_dir/label_list.txt. eval/predict sets can be padded to a batch multiple
  with PaddingInputExamples (TPU). `skip_empty` skips sets without data instead
  of failing (the command line writes whatever sets exist).
  """
  if sets is None:
    sets = [name for name, wanted in (("train", config.do_train), ("dev", config.do_eval),
                                      ("test", config.do_predict)) if wanted]
  saved_labels = os.path.join(config.output_dir, LABEL_LIST_FILE)
  if config.label_list:
    label_list = [l.strip() for l in config.label_list.split(",") if l.strip()]
  elif os.path.exists(saved_labels) and not config.do_train:
    label_list = processors.load_label_list(saved_labels)
  else:
    label_list = None
  processor = processors.get_processor(config.task_name, data_config_from_run_config(config),
                                       label_list=label_list, data_dir=config.data_dir)
  data_dir = config.data_dir
  task_type = processor.task_type
  if label_list is None:
    label_list = processor.get_labels() if task_type != "regression" else []
  if task_type != "regression" and not label_list:
    raise UsageError("No labels found in the training data; pass --label_list.")
  os.makedirs(config.output_dir, exist_ok=True)
  processors.save_label_list(label_list, saved_labels)

  readers = dict(train=processor.get_train_examples, dev=processor.get_dev_examples,
                 test=processor.get_test_examples)
  limits = dict(train=config.max_train_examples, dev=config.max_eval_examples, test=0)
  pads = dict(train=None, dev=eval_pad_to, test=predict_pad_to)
  tfrecords, examples_by_set = {}, {}
  for name in sets:
    examples = readers[name](data_dir)
    if limits[name]:
      examples = examples[:limits[name]]
    if not examples and skip_empty:
      logging.info("No %s data; %s not written.", name, TFRECORD_NAMES[name])
      continue
    if not examples:
      raise UsageError("The %s set is empty: check --data_dir / --%s_file." %
                       (name, name if name != "test" else "test"))
    if task_type != "regression":
      processors.check_labels(examples, label_list, "%s set" % name)
    examples_by_set[name] = examples
    if pads[name]:
      examples = pad_to_batch_multiple(examples, pads[name])
    tfrecords[name] = file_based_convert_examples_to_features(
        examples, label_list, config.max_seq_length, tokenizer,
        os.path.join(config.output_dir, TFRECORD_NAMES[name]), task_type=task_type,
        truncation=config.truncation, head_tokens=config.head_tokens)
    _log_counts(name, examples_by_set[name], task_type)
  return FinetuningData(task_type, label_list, config.max_seq_length, tfrecords, examples_by_set)


def label_counts(examples):
  """{label: count} over examples (multi-label examples count once per label)."""
  counts = {}
  for example in examples:
    for label in example.label if isinstance(example.label, list) else [example.label]:
      label = "(unlabelled)" if label is None else label
      counts[label] = counts.get(label, 0) + 1
  return counts


def _log_counts(name, examples, task_type):
  if task_type == "regression":
    logging.info("%s: %d examples (regression).", name, len(examples))
    return
  logging.info("%s: %d examples; label counts: %s", name, len(examples),
               ", ".join("%s=%d" % kv for kv in sorted(label_counts(examples).items(), key=str)))


def main(argv):
  """python -m bert_tf.features --task_name=... --data_dir=... --output_dir=..."""
  del argv
  from bert_tf import flags as flags_lib, pretrained, tokenization
  if not (flags_lib.FLAGS.do_train or flags_lib.FLAGS.do_eval or flags_lib.FLAGS.do_predict):
    flags_lib.FLAGS.do_train = flags_lib.FLAGS.do_eval = flags_lib.FLAGS.do_predict = True
  config = flags_lib.run_config_from_flags()
  files = pretrained.resolve_model_files(config)
  tokenizer = tokenization.FullTokenizer(files.vocab_file, files.do_lower_case)
  data = create_finetuning_data(config, tokenizer, skip_empty=True)
  for name, info in data.tfrecords.items():
    print("%-5s %7d examples -> %s%s" % (name, info.num_real_examples, ", ".join(info.paths),
                                         " (reused)" if info.reused else ""))
    if data.task_type != "regression":
      counts = label_counts(data.examples[name])
      print("      labels: %s" % ", ".join("%s=%d" % kv for kv in sorted(counts.items(),
                                                                         key=str)))
  print("label list (%d): %s" % (len(data.label_list), ", ".join(data.label_list[:50])))


if __name__ == "__main__":
  from bert_tf import flags as _flags
  from bert_tf.errors import run_main
  _flags.define_flags()
  run_main(main)
