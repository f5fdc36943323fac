"""Features of files bigger than memory: two passes over a user's file, nothing held.

  1. One cheap pass over the training file finds its labels and, when dev or test
     are split off train, which rows go where (labels are kept as shared keys only).
  2. A second pass reads, tokenizes and writes each set's TFRecord shards chunk by
     chunk (features.CHUNK_EXAMPLES at a time).

Peak memory is one chunk's features plus a key per row when splitting; time grows
linearly with the rows (bench/streaming_features.py measures both).
"""

import dataclasses
import itertools
import json
import os

import numpy as np
from absl import logging

from bert_tf import features
from bert_tf import processors
from bert_tf import run_dir
from bert_tf import tasks
from bert_tf.errors import UsageError

# The training rows the data warnings look at (processors.log_data_warnings): the first
# ones, since the file is not held.
_WARNINGS_SAMPLE = 10000


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
  scan = _scan_train(processor, files["train"], splits, processor.config.split_seed,
                     _limit(config, "train"))
  for code, (name, fraction) in enumerate(splits, 1):
    if name in wanted and not (scan.destination == code).any():
      raise UsageError("%s: no %s examples could be split off its %d rows at --%s_split=%g: "
                       "pass --%s_file, more data, or --%s_split=0 to write no %s set." % (
                           files["train"], name, len(scan.destination), name, fraction, name,
                           name, name))
  labels = (config.label_names() or processor.declared_labels() or
            processors.sort_labels(scan.seen))
  task = tasks.make_task(processor.task_kind, labels, processor.main_metric)
  if scan.train_counts and config.do_train:
    processors.log_data_warnings(scan.sample, "training data")
    preprocessor.warn_about_texts(scan.sample, "training data")
    _log_label_warnings(task, scan)
  run.save_label_list(task.label_list)
  records = {}
  from_train = [name for name in wanted
                if (name == "train" and files["train"]) or name in dict(splits)]
  if from_train:
    records.update(_write_from_train(config, run, processor, preprocessor, task, files["train"],
                                     from_train, splits, scan.destination))
  for name in wanted:
    if name not in records and files[name]:
      records[name] = _write_set(config, run, processor, preprocessor, task, name, files[name])
  return records


@dataclasses.dataclass
class _Scan:
  """What pass 1 learns of the training file (a key per row only when splitting)."""
  seen: list = dataclasses.field(default_factory=list)  # its labels
  destination: object = None  # per row, int8: 0 train, i the i-th split; None: no split
  train_counts: dict = dataclasses.field(default_factory=dict)  # {label key: train rows}
  first: object = None  # its first row if in train, texts dropped (for the warnings)
  sample: list = dataclasses.field(default_factory=list)  # its first rows, for the warnings
  label_sizes: dict = dataclasses.field(default_factory=dict)  # {labels in a row: a row's}


def _scan_train(processor, path, splits, seed, train_limit):
  """Pass 1 over `path`: its labels; each row's set when sets are split off it; how often
  each label is in train, after the split and --max_train_examples (as in memory)."""
  scan = _Scan()
  if not path:
    return scan
  keys, interned = [], {}
  for row, example in enumerate(processor.iter_file(path, "train")):
    key = processors.label_key(example.label)
    key = interned.setdefault(key, key)
    if splits:
      keys.append(key)
    elif not train_limit or row < train_limit:
      scan.train_counts[key] = scan.train_counts.get(key, 0) + 1
    if scan.first is None:
      scan.first = dataclasses.replace(example, text_a="", text_b=None)
    if len(scan.sample) < _WARNINGS_SAMPLE:
      scan.sample.append(example)
    if isinstance(example.label, list):  # multi-label: one row of each size stands in
      scan.label_sizes.setdefault(len(example.label), example.label)
  if not interned:
    raise UsageError("%s: no examples found." % path)
  for key in interned:
    label = json.loads(key)
    scan.seen.extend(label if isinstance(label, list) else [label])
  if splits:
    scan.destination = _split(keys, splits, seed)
    if scan.destination[0]:
      scan.first = None  # split off: no training row is on the file's first line
    train = [keys[i] for i in np.flatnonzero(scan.destination == 0)]
    for key in train[:train_limit or None]:
      scan.train_counts[key] = scan.train_counts.get(key, 0) + 1
  return scan


def _split(keys, splits, seed):
  """Each row's set (0 = train, i = the i-th split) as an int8 array."""
  destination, remaining = np.zeros(len(keys), np.int8), np.arange(len(keys))
  for code, (name, fraction) in enumerate(splits, 1):  # test first, then dev: as in memory
    chosen = processors.stratified_split_indices([keys[i] for i in remaining], fraction, seed,
                                                 key=lambda k: k)
    destination[remaining[chosen]] = code
    remaining = remaining[destination[remaining] == 0]
    logging.info("No %s file: split %d examples off train (seed %d).", name, len(chosen), seed)
  return destination


def _log_label_warnings(task, scan):
  """The in-memory path's warnings about training labels, from the scan's counts. Made-up
  examples stand in for the rows: the first two labels' (twice when they occur more than
  once: what a constant score needs), the first row as itself (a header read as data), a
  row of each number of labels (multi-label rows that all hold one)."""
  counts, stand_ins = {}, []
  first_key = None if scan.first is None else processors.label_key(scan.first.label)
  for number, (key, n) in enumerate(scan.train_counts.items()):
    example = (scan.first if key == first_key else
               processors.InputExample("train", "", label=json.loads(key)))
    if number < 2 or key == first_key:
      stand_ins += [example] * min(n, 2)
    for label, m in task.label_counts([example]).items():
      counts[label] = counts.get(label, 0) + m * n
  stand_ins += [processors.InputExample("train", "", label=labels)
                for labels in scan.label_sizes.values()]
  tasks.log_label_warnings(task, stand_ins, "training data", counts=counts,
                           rows=sum(scan.train_counts.values()))


def _write_from_train(config, run, processor, preprocessor, task, path, names, splits,
                      destination):
  """Pass 2 over the training file: train and the sets split off it, chunk by chunk."""
  codes = {"train": 0}
  codes.update({name: code for code, (name, _) in enumerate(splits, 1)})
  keys = {name: _key(config, processor, task, preprocessor, name, path) for name in names}
  reused = {name: features.cached_records(_output(run, name), keys[name]) for name in names}
  if all(reused.values()):
    return reused
  writers = {codes[name]: features.RecordWriter(_output(run, name), task) for name in names}
  chunks = {code: [] for code in codes.values()}
  # As in memory: the split is taken off the whole file, then each part is limited.
  limits = {codes[name]: _limit(config, name) for name in codes}
  counts = dict.fromkeys(codes.values(), 0)
  size = features.chunk_size(preprocessor)
  try:
    for i, example in enumerate(processor.iter_file(path, "train")):
      code = int(destination[i]) if destination is not None else 0
      if limits[code] and counts[code] >= limits[code]:
        continue
      counts[code] += 1
      chunks[code].append(example)
      if len(chunks[code]) == size:
        _flush(chunks, code, writers, task, preprocessor)
    for code in chunks:
      _flush(chunks, code, writers, task, preprocessor)
    return {name: _recorded(config, run, name, keys[name], writers[codes[name]].close(),
                            writers[codes[name]].num_examples,
                            writers[codes[name]].num_real_examples, preprocessor, task)
            for name in names}
  except BaseException:
    for writer in writers.values():
      writer.abort()
    raise


def _flush(chunks, code, writers, task, preprocessor):
  if chunks[code] and code in writers:
    writers[code].add(features.featurize(chunks[code], task, preprocessor, show_progress=False))
  chunks[code] = []


def _write_set(config, run, processor, preprocessor, task, name, path):
  """A set with a file of its own, streamed."""
  key = _key(config, processor, task, preprocessor, name, path)
  reused = features.cached_records(_output(run, name), key)
  if reused:
    return reused
  examples = processor.iter_file(path, name, require_label=name != "test")
  if _limit(config, name):
    examples = itertools.islice(examples, _limit(config, name))
  written = features.write_examples(examples, task, preprocessor, _output(run, name))
  return _recorded(config, run, name, key, *written, preprocessor, task)


def _recorded(config, run, name, key, paths, num_examples, num_real, preprocessor, task):
  """Freshly written records: a set with no examples stops (as in memory), else the
  cache's meta file is written."""
  if not num_examples and name != "test":
    source = getattr(config, "%s_file" % name, None) or config.train_file or config.data_dir
    raise UsageError("%s: no %s examples found." % (source, name))
  logging.info("Wrote %d %s examples to %s.", num_examples, name, ", ".join(paths))
  return features.write_meta(_output(run, name), key, paths, num_examples, num_real,
                             preprocessor, task)


def _output(run, name):
  return run.path(run_dir.TFRECORDS[name])


def _limit(config, name):
  """--max_train_examples / --max_eval_examples (0: all)."""
  return dict(train=config.max_train_examples, dev=config.max_eval_examples).get(name, 0)


def _key(config, processor, task, preprocessor, name, path):
  """What a streamed set's records depend on: the recipe, how the file is read, the file
  itself (path, size, time of change; each file of a class folder) and the split; not
  the examples (hashing them would cost a third pass)."""
  return features.cache_key(task, preprocessor, set=name,
                            reading=dataclasses.asdict(processor.config), files=_file_stats(path),
                            limits=[config.max_train_examples, config.max_eval_examples],
                            format="stream-3")  # a new version when reading rules change


def _file_stats(path):
  found = [path] if os.path.isfile(path) else sorted(
      os.path.join(d, f) for d, _, names in os.walk(path) for f in names)
  return [(os.path.abspath(p), os.path.getsize(p), os.stat(p).st_mtime_ns) for p in found]
