"""tf.data input pipelines over our TFRecords.

The one place where Google's TFRecord names become the encoder's input names
(input_ids -> input_word_ids, segment_ids -> input_type_ids), as in TF Model
Garden's sentence_prediction_dataloader.
"""

import tensorflow as tf

from bert_tf.features import name_to_features


def _decode(record, spec):
  """One record, or (windows) a text's [windows] records at once."""
  parse = tf.io.parse_example if record.shape.rank else tf.io.parse_single_example
  example = parse(record, spec)
  # tf.Example only stores int64; the model wants int32.
  return {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in example.items()}


def encoder_inputs(example):
  """Google's feature names -> the encoder's (TF Model Garden's rename in _parse)."""
  return dict(input_word_ids=example["input_ids"], input_mask=example["input_mask"],
              input_type_ids=example["segment_ids"])


def _to_model_inputs(example):
  labels, weights = example["label_ids"], tf.cast(example["is_real_example"], tf.float32)
  if "doc_id" in example:  # a text's windows: one label and weight for the text
    labels, weights = labels[0], weights[0]
  return encoder_inputs(example), labels, weights


def _trim(features):
  """Drops padding columns that no example of the batch uses (dynamic padding), and
  (windows) the empty windows no text of the batch uses."""
  mask = features["input_mask"]
  length = tf.maximum(tf.reduce_max(tf.reduce_sum(mask, axis=-1)), 1)
  if mask.shape.rank == 3:
    used = tf.maximum(tf.reduce_max(tf.reduce_sum(mask[:, :, 0], axis=1)), 1)
    return {k: v[:, :used, :length] for k, v in features.items()}
  return {k: v[:, :length] for k, v in features.items()}


def _trim_to_longest(features, labels, weights):
  return _trim(features), labels, weights


def model_inputs(arrays):
  """In-memory FeatureArrays (the Predictor's) -> the encoder's inputs, named and trimmed as
  a batch of make_dataset is: [N, L], or [texts, windows, L] when texts are windows."""
  rows = arrays.rows_per_example
  example = {name: tf.constant(getattr(arrays, name) if rows == 1 else getattr(arrays, name)
                               .reshape(-1, rows, arrays.input_ids.shape[-1]))
             for name in ("input_ids", "input_mask", "segment_ids")}
  return _trim(encoder_inputs(example))


SORT_WINDOW_BATCHES = 4


def make_dataset(file_paths, seq_length, batch_size, is_training, task, drop_remainder=False,
                 dynamic_padding=False,
                 shuffle_buffer=10000, seed=None, repeat=None, windows=0, group_by_length=False):
  """Returns a dataset of (features, labels, sample_weights) batches.

  `sample_weights` is `is_real_example`, so TPU padding examples weigh nothing.
  Training shuffles and repeats; `dynamic_padding` trims each batch to its longest
  example (for CPU and GPU, not TPU) and, with `group_by_length`, makes batches of
  examples of similar length.
  With `windows` (long texts as that many consecutive window records each), an
  element is a text: features [windows, seq_length], shuffled and batched as texts.
  """
  spec = name_to_features(seq_length, task, windows=bool(windows))
  files = list(file_paths) if not isinstance(file_paths, str) else [file_paths]
  dataset = tf.data.TFRecordDataset(files)
  if windows:
    dataset = dataset.batch(windows, drop_remainder=True)
  if is_training:
    dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
  if repeat if repeat is not None else is_training:
    dataset = dataset.repeat()
  dataset = dataset.map(lambda r: _to_model_inputs(_decode(r, spec)),
                        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  grouped = dynamic_padding and group_by_length and is_training and not windows
  if grouped:
    # Sort by length within windows of a few batches, so batches need little padding. Wider
    # windows pad less but make batches more alike, which cost dev accuracy (SST-2, 5,000
    # rows, seeds 1-3: 32 batches -1.8 pt against ungrouped batches, 4 batches -0.6 pt, at
    # 6.3x and 4.9x the speed of fixed padding; bench/padding_accuracy.py).
    window = batch_size * SORT_WINDOW_BATCHES
    dataset = dataset.batch(window).flat_map(_sorted_unbatch)
  dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
  if dynamic_padding:
    dataset = dataset.map(_trim_to_longest)
  if grouped:  # the sorted batches, in random order
    dataset = dataset.shuffle(64, seed=seed)
  return dataset.with_options(_sharding_options()).prefetch(tf.data.AUTOTUNE)


def _sharding_options():
  """Multi-worker sharding by data, chosen on purpose: each worker keeps its slice of every
  global batch, so N workers take the same batches, in the same order, as one process
  (same updates, same resume position), whatever the number of record files. Each
  worker reads all records; they are small next to a model step."""
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  return options


def _sorted_unbatch(features, labels, weights):
  order = tf.argsort(tf.reduce_sum(features["input_mask"], axis=1))
  sort = lambda t: tf.gather(t, order)
  return tf.data.Dataset.from_tensor_slices(
      (tf.nest.map_structure(sort, features), sort(labels), sort(weights)))
