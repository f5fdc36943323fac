"""InputExamples -> InputFeatures -> TFRecord files with Google's feature names.

`featurize` turns a whole list of examples into NumPy arrays at once: ids from the
`Preprocessor` (Google's [CLS] A [SEP] (B [SEP]) packing, fast and exact), labels
from the task. `convert_single_example` and `convert_examples_to_features` keep
Google's API. `file_based_convert_examples_to_features` writes TFRecords
(`input_ids`, `input_mask`, `segment_ids`, `label_ids`, `is_real_example`)
atomically, sharded when large, and reuses them when nothing changed.
"""

import dataclasses
import glob
import hashlib
import json
import os
import shutil
from typing import List

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import errors
from bert_tf import tasks
from bert_tf.errors import atomic_path
from bert_tf.preprocessing import Preprocessor
from bert_tf.processors import PaddingInputExample
from bert_tf.progress import progress_bar

EXAMPLES_PER_SHARD = 250_000
# Examples featurized at once: bounds memory (50k x 128 ids: ~77 MB of arrays), and big
# enough that long texts still fork over the cores (Preprocessor.encode).
CHUNK_EXAMPLES = 50_000


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
  rows_per_example: int = 1    # a long text's windows are that many consecutive rows

  def __len__(self):
    return len(self.input_ids)

  def row(self, i):
    label = self.label_ids[i]
    label = label.tolist() if label.ndim else label.item()
    return InputFeatures(self.input_ids[i].tolist(), self.input_mask[i].tolist(),
                         self.segment_ids[i].tolist(), label, bool(self.is_real_example[i]))


def featurize(examples, task, preprocessor, num_workers=None, show_progress=True):
  """Examples (PaddingInputExamples included) -> FeatureArrays: the preprocessor's ids
  and the task's labels. Same ids as `convert_single_example`, example by example."""
  encoded = preprocessor.encode(examples, num_workers=num_workers, show_progress=show_progress)
  rows = preprocessor.rows_per_example
  return FeatureArrays(encoded.input_ids, encoded.input_mask, encoded.segment_ids,
                       np.repeat(task.label_array(examples), rows, axis=0),
                       encoded.is_real_example, rows)


# ============================================================================
# Google's API (label_list + tokenizer; single-label)
# ============================================================================
def _google_recipe(label_list, max_seq_length, tokenizer):
  return (tasks.SingleLabel(label_list), Preprocessor(tokenizer, max_seq_length))


def convert_single_example(ex_index, example, label_list, max_seq_length, tokenizer):
  """Converts a single `InputExample` into a single `InputFeatures`."""
  task, preprocessor = _google_recipe(label_list, max_seq_length, tokenizer)
  if ex_index < 3 and not isinstance(example, PaddingInputExample):
    logging.info("*** Example %s ***\ntokens: %s\nlabel: %s", example.guid,
                 " ".join(tokenizer.tokenize(example.text_a)), example.label)
  return featurize([example], task, preprocessor, num_workers=1, show_progress=False).row(0)


def convert_examples_to_features(examples, label_list, max_seq_length, tokenizer):
  """Google's API: a list of `InputFeatures`, one per example."""
  task, preprocessor = _google_recipe(label_list, max_seq_length, tokenizer)
  arrays = featurize(examples, task, preprocessor, num_workers=1, show_progress=False)
  return [arrays.row(i) for i in range(len(arrays))]


# ============================================================================
# TFRecords
# ============================================================================
def name_to_features(seq_length, task, windows=False):
  """The parsing spec of our TFRecords; for single-label tasks it is Google's exactly
  (long texts as windows add `doc_id`, the text each window belongs to)."""
  spec = {
      "input_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "label_ids": task.label_feature_spec(),
      "is_real_example": tf.io.FixedLenFeature([], tf.int64),
  }
  if windows:
    spec["doc_id"] = tf.io.FixedLenFeature([], tf.int64)
  return spec


def _int_feature(values):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def serialize_example(arrays, i, task, doc_id=None):
  features = {
      "input_ids": _int_feature(arrays.input_ids[i].tolist()),
      "input_mask": _int_feature(arrays.input_mask[i].tolist()),
      "segment_ids": _int_feature(arrays.segment_ids[i].tolist()),
      "label_ids": task.label_feature(arrays.label_ids[i]),
      "is_real_example": _int_feature([int(arrays.is_real_example[i])]),
  }
  if doc_id is not None:
    features["doc_id"] = _int_feature([doc_id])
  return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def shard_paths(output_file, num_examples, examples_per_shard=None):
  """`train.tf_record`, or `train.tf_record-00000-of-00003` ... when large."""
  examples_per_shard = examples_per_shard or EXAMPLES_PER_SHARD
  shards = max(1, -(-num_examples // examples_per_shard))
  if shards == 1:
    return [output_file]
  return ["%s-%05d-of-%05d" % (output_file, i, shards) for i in range(shards)]


class RecordWriter:
  """Writes features into TFRecord shards as they come (memory stays flat however many).

  Shards fill up to `examples_per_shard` in a temporary directory and take their final
  names (`name`, or `name-00000-of-00003` ...) only when `close` renames them into place,
  so an interrupted write never leaves a complete-looking shard.
  """

  def __init__(self, output_file, task, examples_per_shard=None):
    self.output_file, self.task = output_file, task
    self.per_shard = examples_per_shard or EXAMPLES_PER_SHARD
    self.tmp_dir = errors.temporary_directory_for(output_file)
    self.shards, self.writer = [], None
    self.num_examples = self.num_real_examples = 0

  def add(self, arrays):
    """Appends examples (all the rows of each: a long text's windows stay in one shard)."""
    rows = arrays.rows_per_example
    for i in range(len(arrays)):
      first_row = i % rows == 0
      if first_row and (self.writer is None or
                        self.num_examples % self.per_shard == 0 and self.num_examples):
        self._next_shard()
      doc_id = self.num_examples if rows > 1 else None  # numbered across chunks
      self.writer.write(serialize_example(arrays, i, self.task, doc_id))
      self.num_examples += int(i % rows == rows - 1)
    self.num_real_examples += int(arrays.is_real_example[::rows].sum())

  def _next_shard(self):
    if self.writer is not None:
      self.writer.close()
    self.shards.append(os.path.join(self.tmp_dir, "shard-%05d" % len(self.shards)))
    self.writer = tf.io.TFRecordWriter(self.shards[-1])

  def close(self):
    """Renames the shards into place; returns their paths."""
    if self.writer is None:
      self._next_shard()  # no examples: one empty file
    self.writer.close()
    paths = shard_paths(self.output_file, self.num_examples, self.per_shard)
    with errors.reported_write(self.output_file):
      # The cache's record of the old shards goes first: a crash below leaves no meta file
      # that vouches for what is no longer there.
      if os.path.exists(meta_path(self.output_file)):
        os.remove(meta_path(self.output_file))
      previous = glob.glob(glob.escape(self.output_file) + "-*-of-*") + [self.output_file]
      for stale in previous:
        if stale not in paths and os.path.exists(stale):  # a previous write's shards
          os.remove(stale)
      for tmp, path in zip(self.shards, paths):
        os.replace(tmp, path)
    shutil.rmtree(self.tmp_dir, ignore_errors=True)
    return paths

  def abort(self):
    if self.writer is not None:
      self.writer.close()
    shutil.rmtree(self.tmp_dir, ignore_errors=True)

  def __enter__(self):
    return self

  def __exit__(self, kind, *_):
    if kind is not None:
      self.abort()


def write_tfrecords(arrays, output_file, task, examples_per_shard=None):
  """Writes FeatureArrays to TFRecord file(s) atomically; returns their paths."""
  with RecordWriter(output_file, task, examples_per_shard) as writer:
    writer.add(arrays)
    return writer.close()


def write_examples(examples, task, preprocessor, output_file,
                   examples_per_shard=None, num_workers=None, total=None):
  """Examples (a list or any iterable, `total` long) -> TFRecords, CHUNK_EXAMPLES at a
  time, so only one chunk's features are in memory.
  Returns (paths, num_examples, num_real_examples)."""
  total = len(examples) if hasattr(examples, "__len__") else total
  progress = progress_bar(total, "example", min_total=2000) if total else None
  with RecordWriter(output_file, task, examples_per_shard) as writer:
    for chunk in chunks(examples, chunk_size(preprocessor)):
      writer.add(featurize(chunk, task, preprocessor, num_workers=num_workers,
                           show_progress=False))
      if progress is not None:
        progress.add(len(chunk))
    return writer.close(), writer.num_examples, writer.num_real_examples


def chunk_size(preprocessor):
  """Examples per chunk: CHUNK_EXAMPLES rows of 128 ids' worth (long texts' windows and long
  max_seq_length make fewer examples per chunk)."""
  rows = preprocessor.rows_per_example * preprocessor.max_seq_length / 128
  return max(1, int(CHUNK_EXAMPLES / max(rows, 1)))


def chunks(iterable, size):
  chunk = []
  for item in iterable:
    chunk.append(item)
    if len(chunk) == size:
      yield chunk
      chunk = []
  if chunk:
    yield chunk


def examples_fingerprint(examples):
  """A hash of the examples' ids, texts and labels (the data a run was trained on)."""
  digest = hashlib.sha256()
  _hash_examples(digest, examples)
  return digest.hexdigest()


def cache_key(task, preprocessor, examples=None, **source):
  """A fingerprint of everything a TFRecord depends on: the task's labels, the recipe, and
  the examples themselves, or (streamed sets) `source`, a description of where they come
  from (hashing a file's rows would cost a pass of its own)."""
  settings = dict(preprocessor.settings(), kind=task.kind, labels=task.label_list,
                  vocab=preprocessor.vocab_fingerprint(), **source)
  settings.setdefault("format", 4)
  digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
  if examples is not None:
    _hash_examples(digest, examples)
  return digest.hexdigest()


def _hash_examples(digest, examples):
  for example in examples:
    if isinstance(example, PaddingInputExample):
      digest.update(b"\x00PAD")
    else:
      digest.update(json.dumps([example.guid, example.text_a, example.text_b, example.label],
                               ensure_ascii=False).encode())


@dataclasses.dataclass
class TFRecordInfo:
  paths: List[str]
  num_examples: int
  num_real_examples: int
  reused: bool


def file_based_convert_examples_to_features(examples, task, preprocessor, output_file,
                                            examples_per_shard=None,
                                            num_workers=None):
  """Converts examples to a TFRecord file, reusing it when nothing changed.

  The cache metadata lives in `output_file + ".meta.json"`, written after the
  records, so an interrupted write is rebuilt on the next run.
  """
  key = cache_key(task, preprocessor, examples)
  cached = cached_records(output_file, key)
  if cached:
    return cached
  logging.info("Writing %d examples to %s", len(examples), output_file)
  paths, num_examples, num_real = write_examples(examples, task, preprocessor, output_file,
                                                 examples_per_shard, num_workers)
  return write_meta(output_file, key, paths, num_examples, num_real, preprocessor, task)


def cached_records(output_file, key):
  """The records the cache vouches for (the same key, every shard there), else None."""
  meta = _read_meta(meta_path(output_file))
  # Shards are listed by name and found next to the meta file (a moved or copied run
  # directory never points at another directory's records).
  here = lambda names: [os.path.join(os.path.dirname(output_file), os.path.basename(p))
                        for p in names]
  if not (meta and meta.get("key") == key and all(os.path.exists(p)
                                                    for p in here(meta["paths"]))):
    return None
  logging.info("Reusing %s (%d examples; inputs unchanged).", output_file, meta["num_examples"])
  return TFRecordInfo(here(meta["paths"]), meta["num_examples"], meta["num_real_examples"], True)


def meta_path(output_file):
  return output_file + ".meta.json"


def write_meta(output_file, key, paths, num_examples, num_real, preprocessor, task):
  """The cache's record of freshly written TFRecords (written after them); their info."""
  meta = dict(key=key, paths=[os.path.basename(p) for p in paths], num_examples=num_examples,
              num_real_examples=num_real,
              max_seq_length=preprocessor.max_seq_length, kind=task.kind)
  with atomic_path(meta_path(output_file)) as tmp:
    with open(tmp, "w") as f:
      json.dump(meta, f, indent=1)
  return TFRecordInfo(paths, num_examples, num_real, False)


def _read_meta(path):
  try:
    with open(path) as f:
      meta = json.load(f)
  except (OSError, ValueError):
    return None
  return meta if isinstance(meta, dict) and isinstance(meta.get("paths"), list) else None


def pad_to_batch_multiple(examples, batch_size):
  """Appends PaddingInputExamples so that len(examples) % batch_size == 0 (TPU)."""
  remainder = len(examples) % batch_size
  if not remainder:
    return list(examples)
  return list(examples) + [PaddingInputExample() for _ in range(batch_size - remainder)]
