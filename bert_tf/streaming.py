"""Features of files bigger than memory: two passes over a user's file, nothing held.

  1. One cheap pass over the training file finds its labels and, when dev or test
     are split off train, which rows go where (labels are kept as shared keys only).
  2. A second pass reads, tokenizes and writes each set's TFRecord shards chunk by
     chunk (features.CHUNK_EXAMPLES at a time).

Peak memory is one chunk's features plus a key per row when splitting; time grows
linearly with the rows (bench/streaming_features.py measures both).
"""

import hashlib
import json
import os

import numpy as np
from absl import logging

from bert_tf import features
from bert_tf import processors
from bert_tf import run_dir
from bert_tf import tasks
from bert_tf.errors import UsageError


def write_records(config, run, processor, preprocessor):
  """TFRecords (and label_list.txt) of the sets config asks for; {set: TFRecordInfo}."""
  wanted = [name for name, flag in (("train", config.do_train), ("dev", config.do_eval),
                                    ("test", config.do_predict)) if flag]
  files = {name: processor.file_of(name) for name in run_dir.TFRECORDS}
  if not any(files.values()):
    raise UsageError("No data files: pass --train_file/--dev_file/--test_file, or a --data_dir "
                     "holding train/dev/test .tsv/.csv/.json files.")
  splits = [(name, fraction) for name, fraction in processor.split_fractions()
            if files["train"] and not files[name] and fraction > 0]
  seen, destination = _scan_train(processor, files["train"], splits, processor.config.split_seed)
  explicit = ([l.strip() for l in config.label_list.split(",") if l.strip()]
              if config.label_list else None)
  task = tasks.make_task(processor.task_kind,
                         explicit or processor.declared_labels() or processors.sort_labels(seen),
                         processor.main_metric)
  run.save_label_list(task.label_list)
  sources = {name: files[name] or (files["train"] if name in dict(splits) else None)
             for name in wanted}
  records = {}
  from_train = [name for name in wanted if sources[name] and sources[name] == files["train"]
                and (name == "train" or name in dict(splits))]
  if from_train:
    records.update(_write_from_train(config, run, processor, preprocessor, task, files["train"],
                                     from_train, splits, destination))
  for name in wanted:
    if name not in records and files[name]:
      records[name] = _write_set(run, processor, preprocessor, task, name, files[name],
                                 _key(processor, task, preprocessor, name, files[name]))
  return records


def _scan_train(processor, path, splits, seed):
  """Pass 1: the labels seen in `path` and, when sets are split off it, each row's set
  (0 = train, i = the i-th split) as an int8 array."""
  if not path:
    return [], None
  keys, interned = [], {}
  for example in processor.iter_file(path, "train"):
    key = processors.label_key(example.label)
    key = interned.setdefault(key, key)
    if splits:
      keys.append(key)
  if not interned:
    raise UsageError("%s: no examples found." % path)
  seen = []
  for key in interned:
    label = json.loads(key)
    seen.extend(label if isinstance(label, list) else [label])
  if not splits:
    return seen, None
  destination, remaining = np.zeros(len(keys), np.int8), np.arange(len(keys))
  for code, (name, fraction) in enumerate(splits, 1):  # test first, then dev: as in memory
    chosen = processors.stratified_split_indices([keys[i] for i in remaining], fraction, seed,
                                                 key=lambda k: k)
    destination[remaining[chosen]] = code
    remaining = remaining[destination[remaining] == 0]
    logging.info("No %s file: split %d examples off train (seed %d).", name, len(chosen), seed)
  return seen, destination


def _write_from_train(config, run, processor, preprocessor, task, path, names, splits, destination):
  """Pass 2 over the training file: train and the sets split off it, chunk by chunk."""
  codes = {"train": 0}
  codes.update({name: code for code, (name, _) in enumerate(splits, 1)})
  keys = {name: _key(processor, task, preprocessor, name, path) for name in names}
  reused = {name: _reuse(run, name, keys[name]) for name in names}
  if all(reused.values()):
    return reused
  writers = {name: features.RecordWriter(run.path(run_dir.TFRECORDS[name]), task)
             for name in names}
  chunks = {code: [] for code in codes.values()}
  by_code = {codes[name]: writers[name] for name in names}
  try:
    for i, example in enumerate(processor.iter_file(path, "train")):
      code = int(destination[i]) if destination is not None else 0
      chunks[code].append(example)
      if len(chunks[code]) == features.CHUNK_EXAMPLES:
        _flush(chunks, code, by_code, task, preprocessor)
    for code in chunks:
      _flush(chunks, code, by_code, task, preprocessor)
    return {name: _recorded(run, name, keys[name], writers[name].close(),
                            writers[name].num_examples, writers[name].num_real_examples,
                            preprocessor, task) for name in names}
  except BaseException:
    for writer in writers.values():
      writer.abort()
    raise


def _flush(chunks, code, writers, task, preprocessor):
  if chunks[code] and code in writers:
    writers[code].add(features.featurize(chunks[code], task, preprocessor, show_progress=False))
  chunks[code] = []


def _write_set(run, processor, preprocessor, task, name, path, key):
  """A set with a file of its own, streamed."""
  reused = _reuse(run, name, key)
  if reused:
    return reused
  examples = processor.iter_file(path, name, require_label=name != "test")
  written = features.write_examples(examples, task, preprocessor,
                                    run.path(run_dir.TFRECORDS[name]))
  return _recorded(run, name, key, *written, preprocessor, task)


def _recorded(run, name, key, paths, num_examples, num_real, preprocessor, task):
  """Writes the cache's meta file of freshly written records."""
  features.write_meta(run.path(run_dir.TFRECORDS[name]) + ".meta.json", key, paths,
                      num_examples, num_real, preprocessor, task)
  logging.info("Wrote %d %s examples to %s.", num_examples, name, ", ".join(paths))
  return features.TFRecordInfo(paths, num_examples, num_real, False)


def _key(processor, task, preprocessor, name, path):
  """What a streamed set's records depend on: the recipe, the file (path, size, time of
  change) and the split, not the examples (hashing them would cost a third pass)."""
  stat = os.stat(path) if os.path.isfile(path) else None
  settings = dict(preprocessor.settings(), kind=task.kind, labels=task.label_list,
                  vocab=preprocessor.vocab_fingerprint(), set=name, file=os.path.abspath(path),
                  size=stat and stat.st_size, mtime=stat and stat.st_mtime_ns,
                  split=list(processor.split_fractions()) + [processor.config.split_seed],
                  format="stream-1")
  return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _reuse(run, name, key):
  """The set's records when the cache says they hold what `key` describes, else None."""
  output = run.path(run_dir.TFRECORDS[name])
  try:
    with open(output + ".meta.json") as f:
      meta = json.load(f)
  except (OSError, ValueError):
    return None
  paths = [os.path.join(run.directory, p) for p in meta.get("paths", [])]
  if meta.get("key") != key or not paths or not all(os.path.exists(p) for p in paths):
    return None
  logging.info("Reusing %s (%d examples; inputs unchanged).", output, meta["num_examples"])
  return features.TFRecordInfo(paths, meta["num_examples"], meta["num_real_examples"], True)
