"""Streamed features (bert-tf-features on users' files) equal the in-memory path's."""

import json
import os
import random

import pytest
import tensorflow as tf

from bert_tf import features
from bert_tf import run_dir
from bert_tf import runner
from bert_tf.config import RunConfig
from bert_tf.errors import UsageError


def _write_csv(path, rows):
  with open(path, "w", encoding="utf-8") as f:
    f.write("text,label\n")
    for text, label in rows:
      f.write('"%s",%s\n' % (text, label))


@pytest.fixture
def data(tmp_path):
  rng = random.Random(0)
  words = "good bad fun boring movie film the a great not".split()
  rows = [(" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))),
           rng.choice(["pos", "neg", "neg", "meh"])) for _ in range(230)]
  rows[5] = ("", "pos")  # skipped in both paths
  _write_csv(str(tmp_path / "train.csv"), rows)
  _write_csv(str(tmp_path / "test.csv"), rows[:17])
  return tmp_path


def _records(paths):
  return [r.numpy() for r in tf.data.TFRecordDataset(paths)]


def test_streamed_records_equal_the_in_memory_ones(data, tiny_model_dir, monkeypatch):
  """Chunks of 7 and shards of 50: train/dev (split off train, stratified) and test
  records are byte for byte the in-memory path's, split included; a rerun reuses them."""
  model = dict(init_checkpoint=tiny_model_dir + "/bert_model.ckpt",
               bert_config_file=tiny_model_dir + "/bert_config.json",
               vocab_file=tiny_model_dir + "/vocab.txt")
  monkeypatch.setattr(features, "CHUNK_EXAMPLES", 7)
  monkeypatch.setattr(features, "EXAMPLES_PER_SHARD", 50)
  config = dict(train_file=str(data / "train.csv"), test_file=str(data / "test.csv"),
                do_train=True, do_eval=True, do_predict=True, dev_split=0.15,
                max_seq_length=12, **model)
  streamed = runner.prepare_data(RunConfig(output_dir=str(data / "streamed"), **config))

  memory = run_dir.RunDir(str(data / "memory"))
  memory.create()
  plan = runner.make_plan(RunConfig(output_dir=memory.directory, **config), memory)
  in_memory = runner._write_records(plan)  # pylint: disable=protected-access

  assert sorted(streamed) == sorted(in_memory) == ["dev", "test", "train"]
  counts = [streamed[n].num_examples for n in ("train", "dev", "test")]
  assert counts == [in_memory[n].num_examples for n in ("train", "dev", "test")]
  assert counts[0] + counts[1] == 229 and 30 <= counts[1] <= 40 and counts[2] == 17
  assert len(streamed["train"].paths) == 4  # 194 examples in shards of 50
  for name in streamed:
    assert _records(streamed[name].paths) == _records(in_memory[name].paths), name
  labels = open(str(data / "streamed" / "label_list.txt")).read().split()
  assert labels == plan.task.label_list == ["meh", "neg", "pos"]

  again = runner.prepare_data(RunConfig(output_dir=str(data / "streamed"), **config))
  assert all(info.reused for info in again.values())
  assert not [n for n in os.listdir(str(data / "streamed")) if n.startswith(".tmp-")]


def test_a_bad_row_stops_the_stream_and_leaves_nothing_half_written(data, tiny_model_dir):
  with open(str(data / "train.csv"), "a") as f:
    f.write("some text,pos,extra\n")
  out = data / "streamed"
  with pytest.raises(UsageError, match=r"train.csv line 232: 3 fields, expected 2"):
    runner.prepare_data(RunConfig(
        output_dir=str(out), train_file=str(data / "train.csv"), do_train=True, dev_split=0,
        init_checkpoint=tiny_model_dir + "/bert_model.ckpt",
        bert_config_file=tiny_model_dir + "/bert_config.json",
        vocab_file=tiny_model_dir + "/vocab.txt", max_seq_length=12))
  assert not out.exists()  # nothing half-written, not even the directory
  # A bad dev file after train's records were written: they go too; earlier files stay.
  out.mkdir()
  (out / "notes.txt").write_text("mine")
  _write_csv(str(data / "train.csv"), [("good movie", "pos"), ("bad film", "neg")] * 20)
  with open(str(data / "dev.csv"), "w") as f:
    f.write("text,label\ngood movie,pos\nbad, film,neg\n")
  with pytest.raises(UsageError, match=r"dev.csv line 3: 3 fields, expected 2"):
    runner.prepare_data(RunConfig(
        output_dir=str(out), train_file=str(data / "train.csv"), dev_file=str(data / "dev.csv"),
        do_train=True, do_eval=True, init_checkpoint=tiny_model_dir + "/bert_model.ckpt",
        bert_config_file=tiny_model_dir + "/bert_config.json",
        vocab_file=tiny_model_dir + "/vocab.txt", max_seq_length=12))
  assert sorted(os.listdir(str(out))) == ["notes.txt"]


def test_labels_come_from_the_first_pass_when_not_declared(data, tiny_model_dir, caplog):
  out = data / "streamed"
  with open(str(data / "train.csv"), "a") as f:
    f.write("late,zzz\n")  # a label first seen on the last line
  runner.prepare_data(RunConfig(
      output_dir=str(out), train_file=str(data / "train.csv"), do_train=True, dev_split=0,
      init_checkpoint=tiny_model_dir + "/bert_model.ckpt",
      bert_config_file=tiny_model_dir + "/bert_config.json",
      vocab_file=tiny_model_dir + "/vocab.txt", max_seq_length=12))
  assert open(str(out / "label_list.txt")).read().split() == ["meh", "neg", "pos", "zzz"]
  meta = json.load(open(str(out / "train.tf_record.meta.json")))
  assert meta["num_examples"] == 230
  # The in-memory path's label warnings, from the first pass's counts.
  assert "training data: 1 label(s) occur only once (zzz); they cannot be learnt" in caplog.text


def test_the_stream_cache_notices_how_the_file_is_read(data, tiny_model_dir):
  """Another --text_column, or a file added to a class folder, rewrites the records."""
  for name, rows in (("a.csv", "t1,t2,label\ngood film,bad film,pos\nbad,good,neg\n"),):
    (data / name).write_text(rows)
  folder = data / "folder"
  for label, text in (("pos", "good"), ("neg", "bad")):
    (folder / label).mkdir(parents=True)
    (folder / label / "1.txt").write_text(text)
  model = dict(init_checkpoint=tiny_model_dir + "/bert_model.ckpt",
               bert_config_file=tiny_model_dir + "/bert_config.json",
               vocab_file=tiny_model_dir + "/vocab.txt", max_seq_length=12, do_train=True,
               dev_split=0)
  out = str(data / "out")
  first = _records(runner.prepare_data(RunConfig(
      output_dir=out, train_file=str(data / "a.csv"), text_column="t1", **model))["train"].paths)
  second = runner.prepare_data(RunConfig(output_dir=out, train_file=str(data / "a.csv"),
                                         text_column="t2", **model))
  assert not second["train"].reused and first != _records(second["train"].paths)
  out = str(data / "out_folder")
  config = RunConfig(output_dir=out, train_file=str(folder), file_format="folder", **model)
  assert runner.prepare_data(config)["train"].num_examples == 2
  (folder / "pos" / "2.txt").write_text("great")
  again = runner.prepare_data(config)["train"]
  assert not again.reused and again.num_examples == 3


def _training_data_warnings(tmp_path, tiny_model_dir, caplog, rows, **options):
  """The "training data: " warnings of the streamed path and of the in-memory one."""
  _write_csv(str(tmp_path / "train.csv"), rows)
  config = dict(train_file=str(tmp_path / "train.csv"), do_train=True, max_seq_length=12,
                init_checkpoint=tiny_model_dir + "/bert_model.ckpt",
                bert_config_file=tiny_model_dir + "/bert_config.json",
                vocab_file=tiny_model_dir + "/vocab.txt", **options)
  said = lambda: sorted({r.getMessage() for r in caplog.records
                         if r.getMessage().startswith("training data: ")})
  caplog.clear()
  streamed = tmp_path / ("streamed%d" % len(os.listdir(tmp_path)))
  runner.prepare_data(RunConfig(output_dir=str(streamed), **config))
  streamed, _ = said(), caplog.clear()
  memory = run_dir.RunDir(str(tmp_path / ("memory%d" % len(os.listdir(tmp_path)))))
  memory.create()
  runner.make_plan(RunConfig(output_dir=memory.directory, **config), memory)
  return streamed, said()


def test_streamed_label_warnings_are_the_in_memory_ones(tmp_path, tiny_model_dir, caplog):
  """Counted on the rows that stay in train (after the dev split), as in memory: 'solo'
  has two rows, one of which goes to dev."""
  rows = [("good fun", "pos")] * 20 + [("bad film", "neg")] * 20 + [("odd", "solo")] * 2 + [
      ("fine", "Pos")] * 3
  streamed, memory = _training_data_warnings(tmp_path, tiny_model_dir, caplog, rows,
                                             do_eval=True, dev_split=0.5)
  assert streamed == memory
  assert any("occur only once (" in m and "solo" in m for m in streamed), streamed
  assert any("'Pos' and 'pos' differ only in case" in m for m in streamed), streamed


def test_streamed_data_warnings_are_the_in_memory_ones(tmp_path, tiny_model_dir, caplog):
  """Numbers read as the texts, and multi-label rows that all hold one label."""
  rows = [(str(i), "ab"[i % 2]) for i in range(30)]
  options = dict(dev_split=0, label_delimiter="|")
  streamed, memory = _training_data_warnings(tmp_path, tiny_model_dir, caplog, rows, **options)
  assert streamed == memory
  assert any("30 of the first 30 texts are numbers" in m for m in streamed), streamed
  assert any("every row has exactly one label" in m for m in streamed), streamed
  rows[29] = ("29", "a|b")
  streamed, memory = _training_data_warnings(tmp_path, tiny_model_dir, caplog, rows, **options)
  assert not any("every row has exactly one label" in m for m in streamed + memory)


def test_a_constant_streamed_score_is_warned_about(caplog):
  from bert_tf import processors, streaming, tasks  # pylint: disable=g-import-not-at-top
  scan = streaming._Scan(train_counts={"2.5": 40},  # pylint: disable=protected-access
                         first=processors.InputExample("train-0", "", label=2.5))
  streaming._log_label_warnings(tasks.make_task("regression"), scan)
  assert "training data: every score is 2.5" in caplog.text
  caplog.clear()
  scan.train_counts["3.0"] = 1
  streaming._log_label_warnings(tasks.make_task("regression"), scan)
  assert "every score" not in caplog.text


def test_streamed_multi_labels_on_every_row_are_counted_over_all_rows(caplog):
  from bert_tf import processors, streaming, tasks  # pylint: disable=g-import-not-at-top
  key = lambda labels: processors.label_key(labels)
  scan = streaming._Scan(train_counts={key(["a", "b"]): 30, key(["a"]): 10})  # pylint: disable=protected-access
  streaming._log_label_warnings(tasks.make_task("multi_label", ["a", "b"]), scan)
  assert "training data: the label(s) a are on in every example" in caplog.text
  caplog.clear()
  scan.train_counts[key(["b"])] = 1
  streaming._log_label_warnings(tasks.make_task("multi_label", ["a", "b"]), scan)
  assert "every example" not in caplog.text
