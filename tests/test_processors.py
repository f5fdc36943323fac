"""Processors: GLUE layouts against Google's processors, and users' own files."""

import dataclasses
import gzip
import itertools
import json
import logging
import random
import os

import pandas as pd
import pytest

from bert_tf import processors, runner, tasks
from bert_tf.config import RunConfig
from bert_tf.errors import UsageError
from bert_tf.processors import FileDataConfig, FileProcessor
from google_reference import google_run_classifier


def _write(path, text, encoding="utf-8"):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding=encoding, newline="") as f:
    f.write(text)
  return path


@pytest.fixture
def glue_dir(tmp_path):
  d = str(tmp_path)
  # CoLA: train/dev without header, test with one.
  _write(d + "/CoLA/train.tsv", "gj04\t1\t\tOur friends won't buy this.\ngj04\t0\t*\tThey drank the pub.\n")
  _write(d + "/CoLA/dev.tsv", "gj04\t1\t\tThe sailors rode the breeze.\n")
  _write(d + "/CoLA/test.tsv", "index\tsentence\n0\tBill whistled past the house.\n")
  # MRPC: header starting with a UTF-8 BOM; strings hold bare double quotes.
  mrpc_header = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
  _write(d + "/MRPC/train.tsv", mrpc_header + '1\t1\t2\tHe said " the witness " .\tThe "witness" spoke .\n'
         "0\t3\t4\tA dog .\tA cat runs .\n")
  _write(d + "/MRPC/dev.tsv", mrpc_header + "1\t5\t6\tx y\tz w\n")
  _write(d + "/MRPC/test.tsv", "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t7\t8\tp q\tr s\n")
  mnli_header = "\t".join("c%d" % i for i in range(11)) + "\tgold_label\n"
  mnli_row = lambda label: "\t".join(["id", "p1", "p2", "g", "b1", "b2", "pb1", "pb2",
                                      "The premise .", "The hypothesis ."] + ["x", label]) + "\n"
  _write(d + "/MNLI/train.tsv", mnli_header + mnli_row("neutral") + mnli_row("entailment"))
  _write(d + "/MNLI/dev_matched.tsv", mnli_header + mnli_row("contradiction"))
  _write(d + "/SST-2/train.tsv", "sentence\tlabel\nhide new secretions \t0\ngreat fun \t1\n")
  _write(d + "/SST-2/test.tsv", "index\tsentence\n0\tuneasy mishmash .\n")
  _write(d + "/STS-B/train.tsv", "\t".join(["index", "genre", "filename", "year", "old_index",
                                             "source1", "source2", "sentence1", "sentence2",
                                             "score"]) + "\n0\tg\tf\ty\t1\tn\tn\tA plane.\tAn air plane.\t5.000\n")
  _write(d + "/RTE/train.tsv", "index\tsentence1\tsentence2\tlabel\n0\tA b.\tC d.\tnot_entailment\n")
  return d


@pytest.mark.parametrize("task,reader", [("cola", "ColaProcessor"), ("mrpc", "MrpcProcessor"),
                                         ("mnli", "MnliProcessor")])
def test_glue_processors_match_google(glue_dir, task, reader):
  google = google_run_classifier()[reader]()
  ours = processors.get_processor(task)
  data_dir = os.path.join(glue_dir, {"cola": "CoLA", "mrpc": "MRPC", "mnli": "MNLI"}[task])
  assert ours.get_labels() == google.get_labels()
  sets = [("get_train_examples", True), ("get_dev_examples", True)]
  if task != "mnli":
    sets.append(("get_test_examples", False))
  for method, labelled in sets:
    theirs = getattr(google, method)(data_dir)
    mine = getattr(ours, method)(data_dir)
    assert [(e.text_a, e.text_b) for e in mine] == [(e.text_a, e.text_b) for e in theirs]
    if labelled:
      assert [e.label for e in mine] == [e.label for e in theirs]
    else:
      assert all(e.label is None for e in mine)  # Google fills in a dummy label


def test_sst2_stsb_rte(glue_dir):
  sst = processors.get_processor("sst-2").get_train_examples(glue_dir + "/SST-2")
  assert [(e.text_a, e.label) for e in sst] == [("hide new secretions ", "0"), ("great fun ", "1")]
  test = processors.get_processor("sst-2").get_test_examples(glue_dir + "/SST-2")
  assert test[0].text_a == "uneasy mishmash ." and test[0].label is None
  stsb = processors.get_processor("sts-b")
  assert stsb.task_kind == "regression"
  (e,) = stsb.get_train_examples(glue_dir + "/STS-B")
  assert (e.text_a, e.text_b, e.label) == ("A plane.", "An air plane.", 5.0)
  (e,) = processors.get_processor("rte").get_train_examples(glue_dir + "/RTE")
  assert e.label == "not_entailment"


def test_glue_bad_label_names_file_and_line(glue_dir):
  _write(glue_dir + "/SST-2/dev.tsv", "sentence\tlabel\nok\t1\nbad row\t7\n")
  with pytest.raises(UsageError, match=r"SST-2/dev.tsv line 3: label '7'"):
    processors.get_processor("sst-2").get_dev_examples(glue_dir + "/SST-2")
  _write(glue_dir + "/SST-2/dev.tsv", "sentence\tlabel\nonly one field\n")
  with pytest.raises(UsageError, match=r"line 2: 1 tab-separated fields, fewer than the 2"):
    processors.get_processor("sst-2").get_dev_examples(glue_dir + "/SST-2")
  _write(glue_dir + "/SST-2/dev.tsv", "sentence\nonly one field\n")  # every row one field
  with pytest.raises(UsageError, match=r"line 2: expected at least 2 tab-separated fields"):
    processors.get_processor("sst-2").get_dev_examples(glue_dir + "/SST-2")


def test_glue_extra_fields_and_a_non_finite_stsb_score_stop(glue_dir):
  # A tab inside MRPC's #2 String would cut it silently.
  _write(glue_dir + "/MRPC/dev.tsv", "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
         "1\t5\t6\tgood movie\tthe film\tcut off here\n")
  with pytest.raises(UsageError, match=r"MRPC/dev.tsv line 2: 6 tab-separated fields, more "
                     r"than the 5 of line 1"):
    processors.get_processor("mrpc").get_dev_examples(glue_dir + "/MRPC")
  with open(glue_dir + "/STS-B/train.tsv", "a") as f:
    f.write("1\tg\tf\ty\t2\tn\tn\tA cat.\tA dog.\tnan\n")
  with pytest.raises(UsageError, match=r"STS-B/train.tsv line 3: STS-B score 'nan' is not a "
                     r"finite number"):
    processors.get_processor("sts-b").get_train_examples(glue_dir + "/STS-B")


def test_glue_rows_short_of_a_field_and_files_in_another_sets_layout_stop(glue_dir):
  # RTE's label is its last field: a row without its second sentence read the label as it.
  with open(glue_dir + "/RTE/train.tsv", "a") as f:
    f.write("1\tWho?\tnot_entailment\n")
  with pytest.raises(UsageError, match=r"RTE/train.tsv line 3: 3 tab-separated fields, fewer "
                     r"than the 4 of line 1: a field is missing"):
    processors.get_processor("rte").get_train_examples(glue_dir + "/RTE")
  # A train file given as SST-2's test.tsv: column 1, its labels, would be the texts.
  _write(glue_dir + "/SST-2/test.tsv", "sentence\tlabel\ngreat fun\t1\n")
  with pytest.raises(UsageError, match=r"SST-2/test.tsv line 1: the column read as text \(1\) "
                     r"is headed 'label': is the file in another set's layout\?"):
    processors.get_processor("sst-2").get_test_examples(glue_dir + "/SST-2")
  # CoLA's train layout has no header: given as test.tsv, its first row would be dropped.
  _write(glue_dir + "/CoLA/test.tsv", "gj04\t1\t\tOur friends won't buy this.\n")
  with pytest.raises(UsageError, match=r"CoLA/test.tsv line 1: the column read as text \(1\) "
                     r"is headed '1'"):
    processors.get_processor("cola").get_test_examples(glue_dir + "/CoLA")


def test_unknown_task_name():
  with pytest.raises(UsageError, match="--task_name=nope"):
    processors.get_processor("nope")


def test_csv_with_quoted_newlines_and_split(tmp_path):
  rows = ['"line one\nline two",pos'] + ["text %d,%s" % (i, "pos" if i % 2 else "neg")
                                         for i in range(39)]
  path = _write(str(tmp_path / "data.csv"), "text,label\n" + "\n".join(rows) + "\n")
  p = FileProcessor(FileDataConfig(train_file=path, dev_split=0.25, split_seed=3))
  train, dev = p.get_train_examples(None), p.get_dev_examples(None)
  assert len(train) + len(dev) == 40 and len(dev) == 10
  assert sorted(e.label for e in dev) == ["neg"] * 5 + ["pos"] * 5  # stratified
  assert p.get_labels() == ["neg", "pos"]
  again = FileProcessor(FileDataConfig(train_file=path, dev_split=0.25, split_seed=3))
  assert [e.text_a for e in again.get_dev_examples(None)] == [e.text_a for e in dev]
  assert any(e.text_a == "line one\nline two" for e in train + dev)


def test_tsv_without_header_by_index_and_int_labels(tmp_path):
  path = _write(str(tmp_path / "train.tsv"), "2\tthe text\n10\tanother\n1\tthird\n")
  p = FileProcessor(FileDataConfig(train_file=path, header=False, text_column=1,
                                   label_columns=[0], dev_split=0))
  assert p.get_labels() == ["1", "2", "10"]  # numeric order
  assert [e.text_a for e in p.get_train_examples(None)] == ["the text", "another", "third"]


def test_json_array_and_jsonl(tmp_path):
  records = [{"id": 1, "content": "天使", "label": "happy"},
             {"id": 2, "content": "悲伤", "label": "sad"}]
  array = _write(str(tmp_path / "a.json"), json.dumps(records, ensure_ascii=False))
  lines = _write(str(tmp_path / "b.jsonl"), "\n".join(json.dumps(r) for r in records) + "\n")
  for path in (array, lines):
    p = FileProcessor(FileDataConfig(train_file=path, text_column="content", dev_split=0))
    assert [(e.text_a, e.label) for e in p.get_train_examples(None)] == [("天使", "happy"),
                                                                         ("悲伤", "sad")]
  p = FileProcessor(FileDataConfig(train_file=array, text_column="text", dev_split=0))
  with pytest.raises(UsageError, match=r"a.json record 1: field 'text' not found"):
    p.get_train_examples(None)
  for indent in (None, 2):  # on one line, or pretty-printed
    wrapped = _write(str(tmp_path / "w.json"), json.dumps({"version": 2, "data": records},
                                                          indent=indent))
    p = FileProcessor(FileDataConfig(train_file=wrapped, text_column="content", dev_split=0))
    with pytest.raises(UsageError, match=r"w.json is one JSON object whose field 'data' holds "
                       r"the records: save that list as the file \(a JSON array\)"):
      p.get_train_examples(None)
  # A field named twice: json keeps the last one, silently; here it stops.
  twice = '{"content": "good", "label": "pos", "label": "neg"}'
  lines = _write(str(tmp_path / "c.jsonl"), '{"content": "ok", "label": "pos"}\n' + twice)
  array = _write(str(tmp_path / "c.json"), "[" + twice + "]")
  for path, where in ((lines, "c.jsonl record 2"), (array, "c.json record 1")):
    p = FileProcessor(FileDataConfig(train_file=path, text_column="content", dev_split=0))
    with pytest.raises(UsageError, match=where + ": the field 'label' is given twice"):
      p.get_train_examples(None)
  nested = _write(str(tmp_path / "n.jsonl"), '{"content": "ok", "label": "pos", '
                  '"meta": {"a": 1, "a": 2}}\n')  # a field that is not read may repeat keys
  p = FileProcessor(FileDataConfig(train_file=nested, text_column="content", dev_split=0))
  assert [e.label for e in p.get_train_examples(None)] == ["pos"]
  # Python's json reads NaN, Infinity and 1e400 as floats: not the words "nan" and "inf".
  for number, shown in (("NaN", "nan"), ("-Infinity", "-inf"), ("1e400", "inf")):
    odd = _write(str(tmp_path / "odd.jsonl"), '{"text": "ok", "label": "a"}\n'
                 '{"text": %s, "label": "b"}\n' % number)
    p = FileProcessor(FileDataConfig(train_file=odd, dev_split=0))
    with pytest.raises(UsageError, match=r"odd.jsonl record 2: field 'text' is the number %s, "
                       r"not a text" % shown):
      p.get_train_examples(None)


def test_multi_label_columns_in_any_order(tmp_path):
  train = _write(str(tmp_path / "train.csv"),
                 "id,comment_text,toxic,obscene,insult\n1,you are bad,1,0,1\n2,nice,0,0,0\n")
  dev = _write(str(tmp_path / "val.csv"),
               "id,insult,toxic,obscene,comment_text\n3,1,0,0,meh\n")
  config = FileDataConfig(train_file=train, dev_file=dev, text_column="comment_text",
                          label_columns=["toxic", "obscene", "insult"])
  p = FileProcessor(config)
  assert p.task_kind == "multi_label" and p.get_labels() == ["toxic", "obscene", "insult"]
  assert [e.label for e in p.get_train_examples(None)] == [["toxic", "insult"], []]
  assert [e.label for e in p.get_dev_examples(None)] == [["insult"]]



def test_label_columns_named_as_numbers_are_read_by_name(tmp_path, caplog):
  train = _write(str(tmp_path / "train.csv"), "text,3,2,1\nalpha,1,0,0\nbeta,0,1,0\n")
  dev = _write(str(tmp_path / "dev.csv"), "text,1,2,3\ngamma,0,0,1\n")
  p = FileProcessor(FileDataConfig(train_file=train, dev_file=dev, label_columns=["1", "2", "3"]))
  with caplog.at_level(logging.WARNING):
    assert [e.label for e in p.get_train_examples(None)] == [["3"], ["2"]]
  assert [e.label for e in p.get_dev_examples(None)] == [["3"]]
  assert "%s: column '1' is read by its name (column 3 of the header), not as 0-based index " \
      "1." % train in caplog.text
  # A DataFrame's or JSON's booleans are 0/1 cells too.
  frame = pd.DataFrame({"text": ["a", "b"], "x": [True, False], "y": [True, True]})
  p = FileProcessor(FileDataConfig(label_columns=["x", "y"], dev_split=0),
                    data_frames={"train": frame})
  assert [e.label for e in p.get_train_examples(None)] == [["x", "y"], ["y"]]


def test_integer_labels_written_two_ways_have_one_order():
  for order in (["1", "01", "2", "+2"], ["+2", "2", "01", "1"], ["2", "1", "+2", "01"]):
    assert processors.sort_labels(order) == ["01", "1", "+2", "2"]


def test_numeric_labels_sort_as_numbers():
  assert processors.sort_labels(["10.5", "2", "0.25", "-1e3"]) == ["-1e3", "0.25", "2", "10.5"]
  assert processors.sort_labels(["1.0", "1", "0.5"]) == ["0.5", "1", "1.0"]
  assert processors.sort_labels(["2.5", "b", "10"]) == ["10", "2.5", "b"]  # not all numbers
  assert processors.sort_labels(["inf", "2"]) == ["2", "inf"]  # by string: inf is no class number

def test_delimited_multi_label_with_labels_file(tmp_path, caplog):
  labels = _write(str(tmp_path / "labels.txt"), "admiration\namusement\nanger\n")
  path = _write(str(tmp_path / "train.tsv"), "text\tlabel\tid\nhaha\t1,2\ta\nwow\t0\tb\n")
  p = FileProcessor(FileDataConfig(train_file=path, label_delimiter=",", labels_file=labels,
                                   dev_split=0))
  assert p.get_labels() == ["admiration", "amusement", "anger"]
  assert [e.label for e in p.get_train_examples(None)] == [["amusement", "anger"], ["admiration"]]
  # No labels: an empty cell (as ",".join([]) writes it, said once per file) or ",".
  none = _write(str(tmp_path / "none.tsv"), "text\tlabel\nhaha\t1\nmeh\t\nhm\t,\nugh\t \n")
  p = FileProcessor(FileDataConfig(train_file=none, label_delimiter=",", labels_file=labels,
                                   dev_split=0))
  with caplog.at_level(logging.WARNING):
    assert [e.label for e in p.get_train_examples(None)] == [["amusement"], [], [], []]
    assert len(list(p.iter_file(none, "train"))) == 4  # a second pass (streaming)
  assert [r.getMessage() for r in caplog.records if "empty label cell" in r.getMessage()] == [
      "%s: 2 rows have an empty label cell, read as none of the labels; remove the rows that "
      "are unlabelled rather than negative." % none]
  # A stray delimiter ("1,,2", "0,") loses nothing, and is said once, with the first row.
  stray = _write(str(tmp_path / "stray.tsv"), "text\tlabel\nhaha\t1,,2\nwow\t0,\nok\t0\n")
  p = FileProcessor(FileDataConfig(train_file=stray, label_delimiter=",", labels_file=labels,
                                   dev_split=0))
  caplog.clear()
  with caplog.at_level(logging.WARNING):
    assert [e.label for e in p.get_train_examples(None)] == [
        ["amusement", "anger"], ["admiration"], ["admiration"]]
  assert [r.getMessage() for r in caplog.records if "between delimiters" in r.getMessage()] == [
      "%s: 2 label cells hold an empty label between delimiters (first: %s line 2, '1,,2'), "
      "read without it; is --label_delimiter=',' right?" % (stray, stray)]
  # pandas reads those cells as NaN: a DataFrame's NaN (or None) is none of the labels too.
  frame = pd.read_csv(none, sep="\t", skipinitialspace=True)
  assert frame["label"].isna().sum() == 2
  p = FileProcessor(FileDataConfig(label_delimiter=",", labels_file=labels, dev_split=0),
                    data_frames={"train": frame})
  assert [e.label for e in p.get_train_examples(None)] == [["amusement"], [], [], []]
  # Single-label: a DataFrame's NaN is a missing label, named as an empty cell; so is pandas'
  # NA (nullable dtypes, convert_dtypes()), not a class "<NA>".
  for frame in (pd.DataFrame({"text": ["good", "bad"], "label": ["pos", float("nan")]}),
                pd.DataFrame({"text": ["good", "bad"], "label": [1, None]}).convert_dtypes()):
    p = FileProcessor(FileDataConfig(dev_split=0), data_frames={"train": frame})
    with pytest.raises(UsageError, match=r"the label is missing \(an empty cell\); fill it in"):
      p.get_train_examples(None)
  na_text = pd.DataFrame({"text": ["good", None], "label": [1, 0]}).convert_dtypes()
  p = FileProcessor(FileDataConfig(dev_split=0), data_frames={"train": na_text})
  assert [(e.text_a, e.label) for e in p.get_train_examples(None)] == [("good", "1")]
  unlabelled = _write(str(tmp_path / "null.tsv"), "text\tlabel\nhaha\t1\nmeh\tnull\n")
  p = FileProcessor(FileDataConfig(train_file=unlabelled, label_delimiter=",",
                                   labels_file=labels, dev_split=0))
  with pytest.raises(UsageError, match=r"null.tsv line 3: the label is missing \('null'\)"):
    p.get_train_examples(None)
  bad = _write(str(tmp_path / "dev.tsv"), "text\tlabel\tid\nx\t1,7\tc\n")
  p = FileProcessor(FileDataConfig(train_file=path, dev_file=bad, label_delimiter=",",
                                   labels_file=labels))
  with pytest.raises(UsageError, match=r"dev.tsv line 2: label '7' is not in the labels file"):
    p.get_dev_examples(None)


def test_a_multi_label_cell_of_indicators_or_nulls_is_refused(tmp_path):
  """0/1 indicators in one cell ("1,0,0", [1, 0, 0]) read as names would train the labels 0
  and 1 (or, through a labels file, ids 0 and 1 on every row); a null in a list, a class
  "None"."""
  labels = _write(str(tmp_path / "labels.txt"), "anger\njoy\nfear\n")
  multi_hot = _write(str(tmp_path / "hot.csv"), 'text,label\nhaha,"0,1,0"\ngrr,"1,0,0"\n')
  for names in (None, labels):
    p = FileProcessor(FileDataConfig(train_file=multi_hot, label_delimiter=",", labels_file=names,
                                     dev_split=0))
    with pytest.raises(UsageError, match=r"hot.csv line 2: the labels '0,1,0' name '\w+' twice; "
                       r"0/1 indicators go in one column per label \(--label_column=a,b,c\)"):
      p.get_train_examples(None)
  frame = pd.DataFrame({"text": ["haha", "grr"], "label": [[0, 1, 0], [1, 0, 0]]})
  p = FileProcessor(FileDataConfig(label_delimiter="|", dev_split=0), data_frames={"train": frame})
  with pytest.raises(UsageError, match=(r"train DataFrame row 0: the labels \['0', '1', '0'\] "
                                       r"name '0' twice; 0/1")):
    p.get_train_examples(None)
  twice = pd.DataFrame({"text": ["a"], "label": [["x", "x"]]})
  p = FileProcessor(FileDataConfig(label_delimiter="|", dev_split=0), data_frames={"train": twice})
  with pytest.raises(UsageError, match=r"name 'x' twice; list each label once"):
    p.get_train_examples(None)
  for cell in (["x", None], ["x", float("nan")], [["x", "y"]]):
    frame = pd.DataFrame({"text": ["a"], "label": [cell]})
    p = FileProcessor(FileDataConfig(label_delimiter="|", dev_split=0),
                      data_frames={"train": frame})
    with pytest.raises(UsageError, match=r"the label list .* holds .*, not a label name"):
      p.get_train_examples(None)


def test_numeric_label_names_are_names_not_ids(tmp_path, caplog):
  """With names 1..5, a cell "1" could be the name 1 or the id of 2: names only."""
  labels = _write(str(tmp_path / "stars.txt"), "1\n2\n3\n4\n5\n")
  path = _write(str(tmp_path / "train.csv"), "text,label\na,1\nb,5\n")
  p = FileProcessor(FileDataConfig(train_file=path, labels_file=labels, dev_split=0))
  assert [e.label for e in p.get_train_examples(None)] == ["1", "5"]
  assert "label names include numbers, so the data's labels are read as these names" in caplog.text
  ids = _write(str(tmp_path / "ids.csv"), "text,label\na,1\nb,0\n")
  p = FileProcessor(FileDataConfig(train_file=ids, labels_file=labels, dev_split=0))
  with pytest.raises(UsageError, match=r"ids.csv line 3: label '0' is not in the labels file "
                     r"\(5 labels\); its names include numbers, so labels are read as names"):
    p.get_train_examples(None)


def test_folder_per_class(tmp_path):
  for label, texts in (("neg", ["awful", "boring"]), ("pos", ["great"])):
    for i, text in enumerate(texts):
      _write(str(tmp_path / "train" / label / ("%d_1.txt" % i)), text)
  p = FileProcessor(FileDataConfig(train_file=str(tmp_path / "train"), dev_split=0))
  assert [(e.text_a, e.label) for e in p.get_train_examples(None)] == [
      ("awful", "neg"), ("boring", "neg"), ("great", "pos")]
  assert p.get_labels() == ["neg", "pos"]
  # A flat folder of texts: unlabelled test examples; as training data, refused.
  for i, text in enumerate(["so good", "so bad"]):
    _write(str(tmp_path / "new" / ("%d.txt" % i)), text)
  _write(str(tmp_path / "new" / ".DS_Store"), "junk")
  p = FileProcessor(FileDataConfig(train_file=str(tmp_path / "train"),
                                   test_file=str(tmp_path / "new"), dev_split=0))
  assert [(e.text_a, e.label) for e in p.get_test_examples(None)] == [
      ("so good", None), ("so bad", None)]
  p = FileProcessor(FileDataConfig(train_file=str(tmp_path / "new"), dev_split=0))
  with pytest.raises(UsageError, match=r"new has no class sub-folders: put each class's text"):
    p.get_train_examples(None)
  # A flat test folder reads alike whatever columns a trained run's files had.
  p = FileProcessor(FileDataConfig(train_file=str(tmp_path / "train"), dev_split=0,
                                   test_file=str(tmp_path / "new"), label_columns=["sentiment"]))
  assert [e.text_a for e in p.get_test_examples(None)] == ["so good", "so bad"]
  # A column option the user gives for a folder would be ignored: the doors refuse it.
  processors.check_no_columns_for_folders([str(tmp_path / "train.csv")], ["text_column"])
  processors.check_no_columns_for_folders([str(tmp_path / "new")], [])
  for name in processors.COLUMN_OPTIONS:
    with pytest.raises(UsageError, match=r"new is a folder .*: --%s names a column, which it "
                       r"has not; leave --%s out" % (name, name)):
      processors.check_no_columns_for_folders([None, str(tmp_path / "new")], [name])


def test_folder_per_class_skips_hidden_entries_and_warns(tmp_path, caplog):
  for label, texts in (("neg", ["awful"]), ("pos", ["great"]), ("unsup", ["who knows"])):
    _write(str(tmp_path / "train" / label / "0.txt"), texts[0])
  _write(str(tmp_path / "train" / ".hidden" / "h.txt"), "not a class")
  _write(str(tmp_path / "train" / "pos" / ".DS_Store"), "junk")
  _write(str(tmp_path / "train" / "pos" / "0.txt~"), "an editor's backup")
  _write(str(tmp_path / "train" / "pos" / "Thumbs.db"), "junk")
  _write(str(tmp_path / "train" / "__MACOSX" / "pos" / "._0.txt"), "a zip's resource fork")
  _write(str(tmp_path / "train" / "neg" / "sub" / "x.txt"), "nested")
  os.makedirs(str(tmp_path / "train" / "empty"))
  p = FileProcessor(FileDataConfig(train_file=str(tmp_path / "train"), dev_split=0))
  assert [(e.text_a, e.label) for e in p.get_train_examples(None)] == [
      ("awful", "neg"), ("great", "pos"), ("who knows", "unsup")]
  assert "1 folder(s) inside the class folder are not read (sub)" in caplog.text
  assert "the class folder holds no text files, so class 'empty' has no examples" in caplog.text
  assert ("the folder 'unsup' looks like unlabelled texts, yet it is read as a class; pass "
          "--label_list=empty,neg,pos") in caplog.text
  list(p.iter_file(str(tmp_path / "train"), "train"))  # a second pass (streaming): no repeats
  for said in ("inside the class folder", "holds no text files", "looks like unlabelled"):
    assert caplog.text.count(said) == 1, said
  with open(str(tmp_path / "train" / "pos" / "image.png"), "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
  p = FileProcessor(FileDataConfig(train_file=str(tmp_path / "train"), dev_split=0))
  with pytest.raises(UsageError, match=r"image.png holds NUL bytes"):
    p.get_train_examples(None)
  os.remove(str(tmp_path / "train" / "pos" / "image.png"))  # NUL bytes that decode as UTF-8
  _write(str(tmp_path / "train" / "pos" / "nul.txt"), "text\x00with a NUL")
  with pytest.raises(UsageError, match=r"nul.txt holds NUL bytes"):
    p.get_train_examples(None)


def test_encoding_error_names_line_and_latin1_works(tmp_path):
  path = str(tmp_path / "train.tsv")
  with open(path, "wb") as f:
    f.write("text\tlabel\nfine\ta\ncaf\xe9\tb\n".encode("latin-1"))
  with pytest.raises(UsageError, match=r"train.tsv line 3: .*--encoding cp1252"):
    FileProcessor(FileDataConfig(train_file=path)).get_train_examples(None)
  with open(path, "ab") as f:  # 0x81: no cp1252 character; latin-1 reads every byte
    f.write(b"x\x81\tb\n")
  with pytest.raises(UsageError, match=r"train.tsv line 3: .*--encoding latin-1"):
    FileProcessor(FileDataConfig(train_file=path)).get_train_examples(None)
  p = FileProcessor(FileDataConfig(train_file=path, encoding="latin-1", dev_split=0))
  assert p.get_train_examples(None)[1].text_a == "café"
  with open(path, "wb") as f:  # UTF-8, then one latin-1 line: latin-1 would garble line 2
    f.write("text\tlabel\ncafé\ta\n".encode() + "caf\xe9\tb\n".encode("latin-1"))
  with pytest.raises(UsageError, match=r"train.tsv line 3: .*, yet line 2 holds valid non-ASCII "
                     r"utf-8: the file mixes encodings"):
    FileProcessor(FileDataConfig(train_file=path)).get_train_examples(None)


def test_missing_column_and_unknown_dev_label(tmp_path):
  train = _write(str(tmp_path / "train.csv"), "review,label\ngood,1\nbad,0\n")
  with pytest.raises(UsageError, match=r"column 'text' not found; the columns are 'review', 'label'"):
    FileProcessor(FileDataConfig(train_file=train)).get_train_examples(None)
  dev = _write(str(tmp_path / "dev.csv"), "review,label\nok,1\nhuh,2\n")
  p = FileProcessor(FileDataConfig(train_file=train, dev_file=dev, text_column="review"))
  labels = p.get_labels()
  with pytest.raises(UsageError, match=r"dev.csv line 3: label '2' is not in the label list"):
    tasks.SingleLabel(labels).label_array(p.get_dev_examples(None))


def test_columns_must_be_distinct_and_named_once(tmp_path):
  train = _write(str(tmp_path / "train.csv"), "text,text,label\na,b,pos\nc,d,neg\n")
  with pytest.raises(UsageError, match=r"train.csv: the header names 2 columns 'text'"):
    FileProcessor(FileDataConfig(train_file=train)).get_train_examples(None)
  train = _write(str(tmp_path / "t2.csv"), "text,label\na,pos\nc,neg\n")
  for config in (dict(text_column="label"), dict(text_b_column="label"),
                 dict(text_column="1"), dict(text_b_column="text")):
    with pytest.raises(UsageError, match=r"t2.csv: the .* and the .* are the same column"):
      FileProcessor(FileDataConfig(train_file=train, **config)).get_train_examples(None)
  jsonl = _write(str(tmp_path / "t.jsonl"), '{"text": "a", "label": "pos"}\n')
  with pytest.raises(UsageError, match=r"the text column 'label' \(--text_column\) and the label "
                     r"column 'label' \(--label_column\)"):
    FileProcessor(FileDataConfig(train_file=jsonl, text_column="label")).get_train_examples(None)


def test_a_column_index_beyond_the_fields_names_the_flag(tmp_path):
  rows = _write(str(tmp_path / "t.tsv"), "good\tpos\nbad\tneg\n")
  with pytest.raises(UsageError, match=r"t.tsv: --label_column=5, but the rows have 2 fields"):
    FileProcessor(FileDataConfig(train_file=rows, header=False, text_column=0,
                                 label_columns=[5])).get_train_examples(None)
  with_header = _write(str(tmp_path / "h.csv"), "text,label\na,pos\n")
  with pytest.raises(UsageError, match=r"h.csv: --text_column=2, but the rows have 2 fields"):
    FileProcessor(FileDataConfig(train_file=with_header, text_column=2)).get_train_examples(None)


def test_unlabelled_test_files_and_one_column_files_still_read(tmp_path):
  train = _write(str(tmp_path / "train.tsv"), "good\tpos\nbad\tneg\n")
  test = _write(str(tmp_path / "test.tsv"), "nice\nawful\n")  # no label column at all
  p = FileProcessor(FileDataConfig(train_file=train, test_file=test, header=False,
                                   text_column=0, label_columns=["1"], dev_split=0))
  assert [(e.text_a, e.label) for e in p.get_test_examples(None)] == [("nice", None),
                                                                     ("awful", None)]
  labelled = _write(str(tmp_path / "train.csv"), "text,label\ngood,pos\nbad,neg\n")
  texts = _write(str(tmp_path / "t.csv"), "text\nnice\ntext\n")  # "text" is a text here
  p = FileProcessor(FileDataConfig(train_file=labelled, test_file=texts, dev_split=0))
  assert [e.text_a for e in p.get_test_examples(None)] == ["nice", "text"]


@pytest.mark.parametrize("header, name", [(True, "t.csv"), (False, "t.tsv")])
def test_blank_lines_of_a_one_column_test_file_stay_empty_texts(tmp_path, caplog, header, name):
  labelled = _write(str(tmp_path / "train.tsv"), ("text\tlabel\n" if header else "") +
                    "good\tpos\n\nbad\tneg\n")
  body = "nice\n\nawful\n   \n\nfine\n\n"  # a line per prediction; the last blank ends it
  texts = _write(str(tmp_path / name), ("text\n" if header else "") + body)
  p = FileProcessor(FileDataConfig(train_file=labelled, test_file=texts, dev_split=0,
                                   header=None if header else False,
                                   text_column="text" if header else 0,
                                   label_columns=["label" if header else 1]))
  assert [e.text_a for e in p.get_test_examples(None)] == ["nice", "", "awful", "   ", "",
                                                           "fine"]
  assert caplog.text.count("blank line(s)") == 1 and (
      "%s: 2 blank line(s) read as empty texts (first: line %d)" % (texts, 3 if header else 2)
      in caplog.text)
  assert [e.text_a for e in p.get_train_examples(None)] == ["good", "bad"]  # labelled: skipped


def test_a_repeated_header_row_stops_or_is_skipped(tmp_path):
  joined = _write(str(tmp_path / "train.csv"), "text,label\na,pos\ntext,label\nb,neg\n")
  with pytest.raises(UsageError, match=r"train.csv line 3 repeats the header row"):
    FileProcessor(FileDataConfig(train_file=joined)).get_train_examples(None)
  examples = FileProcessor(FileDataConfig(train_file=joined, skip_bad_rows=True)
                           ).get_train_examples(None)
  assert [e.label for e in examples] == ["pos", "neg"]


def test_labels_file_twice_and_regression_beyond_float32(tmp_path):
  labels = _write(str(tmp_path / "labels.txt"), "pos\nneg\n\npos\n")
  with pytest.raises(UsageError, match=r"labels.txt line 4: label 'pos' is listed again \(first "
                     r"on line 1\)"):
    FileProcessor(FileDataConfig(labels_file=labels))
  scores = _write(str(tmp_path / "reg.csv"), "text,score\na,1.5\nb,1e308\n")
  with pytest.raises(UsageError, match=r"reg.csv line 3: regression label '1e308' is too large "
                     r"for float32"):
    FileProcessor(FileDataConfig(train_file=scores, label_columns=["score"], regression=True)
                  ).get_train_examples(None)


def test_binary_and_utf16_files_are_named(tmp_path):
  xlsx = tmp_path / "train.xlsx"
  xlsx.write_bytes(b"PK\x03\x04\x14\x00binary")
  with pytest.raises(UsageError, match=r"is a zip archive \(an Excel .xlsx\?\): save it as CSV"):
    FileProcessor(FileDataConfig(train_file=str(xlsx))).get_train_examples(None)
  utf16 = tmp_path / "train.csv"
  utf16.write_bytes("text,label\ngood,pos\nbad,neg\n".encode("utf-16"))
  with pytest.raises(UsageError, match=r"holds NUL bytes: is it UTF-16 \(pass --encoding=utf-16\)"):
    FileProcessor(FileDataConfig(train_file=str(utf16))).get_train_examples(None)
  config = FileDataConfig(train_file=str(utf16), encoding="utf-16", dev_split=0)
  assert [e.label for e in FileProcessor(config).get_train_examples(None)] == ["pos", "neg"]
  utf32 = tmp_path / "train32.csv"
  utf32.write_bytes("text,label\ngood,pos\n".encode("utf-32"))
  with pytest.raises(UsageError, match=r"holds NUL bytes: is it UTF-32 \(pass --encoding=utf-32\)"):
    FileProcessor(FileDataConfig(train_file=str(utf32))).get_train_examples(None)
  # Without a byte-order mark, the message names the byte order that reads the file.
  for order in ("le", "be"):
    utf16.write_bytes("text,label\ngood,pos\n".encode("utf-16-" + order))
    with pytest.raises(UsageError, match=r"is it UTF-16 \(pass --encoding=utf-16-%s\)" % order):
      FileProcessor(FileDataConfig(train_file=str(utf16))).get_train_examples(None)
    config = FileDataConfig(train_file=str(utf16), encoding="utf-16-" + order, dev_split=0)
    assert [e.label for e in FileProcessor(config).get_train_examples(None)] == ["pos"]
  with pytest.raises(UsageError, match=r"cannot be read as utf-16 \(UTF-16 stream does not start "
                     r"with BOM\): pass the encoding with its byte order, e.g. --encoding=utf-16-le"):
    FileProcessor(FileDataConfig(train_file=str(utf16), encoding="utf-16")).get_train_examples(None)
  packed = tmp_path / "train.csv.gz"
  packed.write_bytes(gzip.compress(b"text,label\ngood,pos\n"))
  with pytest.raises(UsageError, match=r"train.csv.gz is gzip-compressed: decompress it first"):
    FileProcessor(FileDataConfig(train_file=str(packed))).get_train_examples(None)
  packed.write_bytes(b"BZh by name,pos\n")  # text that starts like bzip2 is still text
  assert FileProcessor(FileDataConfig(train_file=str(packed), file_format="csv", header=False,
                                      text_column=0, label_columns=[1], dev_split=0)
                       ).get_train_examples(None)[0].text_a == "BZh by name"


def test_rows_with_fields_missing_and_a_file_without_its_header_say_so(tmp_path):
  short = _write(str(tmp_path / "short.tsv"), "text\tlabel\ngood\tpos\nbad film,neg\n")
  with pytest.raises(UsageError, match=r"short.tsv line 3: 1 fields, expected 2 \(as in the "
                     r"header\): a field is missing \(or the row is separated by ','\)"):
    FileProcessor(FileDataConfig(train_file=short)).get_train_examples(None)
  bare = _write(str(tmp_path / "bare.tsv"), "good movie\tpos\nbad film\tneg\n")
  with pytest.raises(UsageError, match=r"column 'text' not found; the columns are 'good movie', "
                     r"'pos' \(if the file has no header row, pass --header=false and name the "
                     r"columns by 0-based index, e.g. --text_column=0 --label_column=1\)"):
    FileProcessor(FileDataConfig(train_file=bare)).get_train_examples(None)
  for header in ("review\tlabel", "review\tsentiment"):  # a header, with or without the label
    named = _write(str(tmp_path / "named.tsv"), header + "\ngood movie\tpos\n")
    with pytest.raises(UsageError, match=r"the columns are %s\.$" % ", ".join(
        "'%s'" % h for h in header.split("\t"))):
      FileProcessor(FileDataConfig(train_file=named)).get_train_examples(None)



def test_a_tsv_quoted_the_csv_way_is_read_with_its_quotes(tmp_path, caplog):
  frame = pd.DataFrame({"text": ['He said "wow" loudly', "plain\ttext", "two\nlines", "ok"],
                        "label": ["pos", "neg", "pos", "neg"]})
  path = str(tmp_path / "pandas.tsv")
  frame.to_csv(path, sep="\t", index=False)
  with caplog.at_level(logging.WARNING):
    examples = FileProcessor(FileDataConfig(train_file=path, dev_split=0)).get_train_examples(None)
  assert [(e.text_a, e.label) for e in examples] == list(zip(frame["text"], frame["label"]))
  assert "pandas.tsv: read with CSV-style quoting" in caplog.text
  # Google's TSV has no quoting: bare quotes stay in the text, as GLUE's do.
  google = _write(str(tmp_path / "google.tsv"), 'sentence\tlabel\n"good" movie\t1\n'
                  '"a quote"\t0\n5" screen\t1\n')
  examples = FileProcessor(FileDataConfig(train_file=google, text_column="sentence",
                                          dev_split=0)).get_train_examples(None)
  assert [e.text_a for e in examples] == ['"good" movie', '"a quote"', '5" screen']
  # A tab inside an unquoted TSV's text: the fix is not quoting.
  tab = _write(str(tmp_path / "tab.tsv"), "text\tlabel\na\tb\tpos\n")
  with pytest.raises(UsageError, match=r"tab.tsv line 2: 3 fields, expected 2 \(as in the header\): "
                     r"a text holds a tab: remove tabs from texts, or save the file as CSV"):
    FileProcessor(FileDataConfig(train_file=tab, dev_split=0)).get_train_examples(None)

def test_a_tab_separated_file_named_csv_says_so(tmp_path):
  train = _write(str(tmp_path / "train.csv"), "text\tlabel\ngood\t1\n")
  with pytest.raises(UsageError, match=r"the file looks tab-separated; pass --file_format=tsv"):
    FileProcessor(FileDataConfig(train_file=train)).get_train_examples(None)
  semicolons = _write(str(tmp_path / "semi.csv"), "text;label\ngood;1\n")
  with pytest.raises(UsageError, match=r"the header is one field holding semicolons: the file "
                     r"looks semicolon-separated, as some spreadsheets save CSV; save it comma- "
                     r"or tab-separated"):
    FileProcessor(FileDataConfig(train_file=semicolons)).get_train_examples(None)
  excel = _write(str(tmp_path / "excel.csv"), "sep=,\ntext,label\ngood,1\n")
  with pytest.raises(UsageError, match=r"the first line is Excel's 'sep=,' line: delete it"):
    FileProcessor(FileDataConfig(train_file=excel)).get_train_examples(None)


def test_a_file_of_text_lines_is_told_to_name_its_column(tmp_path):
  """One text per line with commas inside is not a CSV with the wrong separator."""
  test = _write(str(tmp_path / "test.txt"), "a good film, really\nbad, bad movie\n")
  with pytest.raises(UsageError) as error:
    FileProcessor(FileDataConfig(test_file=test)).get_test_examples(None)
  assert ("if it holds one text per line, put the column's name, 'text', on its first line, "
          "or classify it with bert-tf-predict --input_file)") in str(error.value)
  test = _write(str(tmp_path / "test.txt"), "a good film\nbad movie\n")
  with pytest.raises(UsageError) as error:
    FileProcessor(FileDataConfig(test_file=test)).get_test_examples(None)
  assert "(a file of one text per line needs the column's name, 'text', on its first line; " \
      "bert-tf-predict --input_file classifies such a file as it is)." in str(error.value)


def test_empty_texts_skipped_in_train_kept_in_test(tmp_path):
  # Texts the tokenizer reads as nothing: zero-width, BOM, soft hyphen, control, lone accents.
  nothing = ["\u200b\u200b", "\ufeff", "\u00ad", "\x07\x01", "\u0301\u0301", " \t\u3000"]
  train = _write(str(tmp_path / "train.csv"), "text,label\n,1\nok,0\n  ,1\nfine,1\n" +
                 "".join('"%s",1\n' % t for t in nothing) + "caf\u00e9 \u200b,0\n")
  test = _write(str(tmp_path / "test.csv"), "text\n\"\"\nsomething\n")
  p = FileProcessor(FileDataConfig(train_file=train, test_file=test, dev_split=0))
  assert [e.text_a for e in p.get_train_examples(None)] == ["ok", "fine", "caf\u00e9 \u200b"]
  assert [e.text_a for e in p.get_test_examples(None)] == ["", "something"]


def test_data_dir_with_train_dev_test_files(tmp_path):
  _write(str(tmp_path / "train.csv"), "text,label\na,x\nb,y\n")
  _write(str(tmp_path / "dev.csv"), "text,label\nc,x\n")
  _write(str(tmp_path / "test.csv"), "text\nd\n")
  p = processors.get_processor("file", FileDataConfig())
  assert len(p.get_train_examples(str(tmp_path))) == 2
  assert [e.text_a for e in p.get_dev_examples(str(tmp_path))] == ["c"]
  assert [e.label for e in p.get_test_examples(str(tmp_path))] == [None]
  _write(str(tmp_path / "train.tsv"), "text\tlabel\na\tx\n")
  with pytest.raises(UsageError, match=r"holds train.tsv and train.csv: which one is the train "
                     r"set is unclear; pass --train_file"):
    processors.get_processor("file", FileDataConfig()).get_train_examples(str(tmp_path))



def test_dev_set_under_another_name(tmp_path, caplog):
  """val/valid/validation/eval files are the dev set when there is no dev file; beside one,
  or beside each other, they are said (not read) or refused (unclear)."""
  _write(str(tmp_path / "train.csv"), "text,label\na,x\nb,y\n")
  _write(str(tmp_path / "validation.csv"), "text,label\nv,x\n")
  dev = lambda config: [e.text_a for e in processors.get_processor(
      "file", config).get_dev_examples(str(tmp_path))]
  assert dev(FileDataConfig()) == ["v"]
  _write(str(tmp_path / "dev.tsv"), "text\tlabel\nd\tx\n")
  with caplog.at_level(logging.WARNING):
    assert dev(FileDataConfig()) == ["d"]
  assert "Reading %s as the dev set; %s in --data_dir is not read (pass --dev_file to " \
      "choose)." % (tmp_path / "dev.tsv", tmp_path / "validation.csv") in caplog.text
  caplog.clear()
  explicit = _write(str(tmp_path / "mine.csv"), "text,label\nm,y\n")
  with caplog.at_level(logging.WARNING):
    assert dev(FileDataConfig(dev_file=explicit)) == ["m"]
  assert "Reading --dev_file=%s; %s and %s in --data_dir are not read." % (
      explicit, tmp_path / "dev.tsv", tmp_path / "validation.csv") in caplog.text
  os.remove(str(tmp_path / "dev.tsv"))
  _write(str(tmp_path / "val.tsv"), "text\tlabel\nw\tx\n")
  with pytest.raises(UsageError, match=r"holds val.tsv and validation.csv: which one is the dev "
                     r"set is unclear; pass --dev_file"):
    dev(FileDataConfig())


def test_dev_or_test_data_that_is_the_training_data_warns(tmp_path, caplog):
  train = _write(str(tmp_path / "train.csv"), "text,label\na,x\nb,y\n")
  copy = _write(str(tmp_path / "copy.csv"), "text,label\na,x\nb,y\n")
  other = _write(str(tmp_path / "other.csv"), "text,label\na,x\nc,y\n")
  for dev, warned in ((train, True), (copy, True), (other, False)):
    caplog.clear()
    with caplog.at_level(logging.WARNING):
      FileProcessor(FileDataConfig(train_file=train, dev_file=dev,
                                   test_file=dev)).get_dev_examples(None)
    said = "%s: the dev set is the training data itself: its metrics measure memorization" % dev
    assert (said in caplog.text) == warned, caplog.text
    assert ("%s: the test set is the training data itself" % dev in caplog.text) == warned
  frame = pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]})
  caplog.clear()
  with caplog.at_level(logging.WARNING):
    FileProcessor(FileDataConfig(), data_frames={"train": frame, "dev": frame.copy()}
                  ).get_dev_examples(None)
  assert "dev DataFrame: the dev set is the training data itself" in caplog.text

def test_trec_layout(tmp_path):
  path = str(tmp_path / "train_5500.label")
  with open(path, "wb") as f:
    f.write(b"DESC:manner How did serfdom develop ?\nHUM:ind Who was \xf0 ?\n")
  p = processors.get_processor("trec", data_dir=str(tmp_path))
  assert p.get_labels() == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]  # before reading
  examples = p.get_train_examples(str(tmp_path))
  assert [(e.label, e.text_a) for e in examples] == [("DESC", "How did serfdom develop ?"),
                                                     ("HUM", "Who was \xf0 ?")]
  fine = processors.get_processor("trec-fine", data_dir=str(tmp_path))
  assert fine.get_labels() == ["DESC:manner", "HUM:ind"]
  # Each Google layout names the file a set is read from (pretraining compares files).
  assert p.file_of("train") == path and fine.file_of("dev", "d") == os.path.join(
      "d", "TREC_10.label")
  xnli = processors.get_processor("xnli")
  assert xnli.file_of("train", "x") == os.path.join("x", "multinli", "multinli.train.zh.tsv")
  assert xnli.file_of("test", "x") is None and xnli.file_of("dev") is None
  assert processors.get_processor("sst-2").file_of("dev", "g") == os.path.join("g", "dev.tsv")


def test_dev_split_keeps_its_size_with_many_small_label_groups():
  rng = random.Random(0)
  scores = [round(rng.uniform(0, 5), 3) for _ in range(1000)]  # regression: ~all distinct
  assert len(processors.stratified_split_indices(scores, 0.1, seed=1)) == 100
  combos = [sorted(rng.sample("abcdefghijklmnopqrst", 2)) for _ in range(500)]  # multi-label
  assert len(processors.stratified_split_indices(combos, 0.1, seed=1)) == 50
  # Few classes: each one in the split, a class seen once stays in train.
  labels = ["a"] * 50 + ["b"] * 30 + ["c"] * 3 + ["d"]
  chosen = [labels[i] for i in processors.stratified_split_indices(labels, 0.1, seed=1)]
  assert len(chosen) == 8 and set(chosen) == {"a", "b", "c"} and chosen.count("c") == 1
  assert chosen.count("a") in (4, 5) and chosen.count("b") in (2, 3)


def test_a_split_leaves_every_class_a_training_example():
  # All combinations differ, so the split takes single rows; "j" is only in one of them.
  combos = [list(c) for c in itertools.combinations("abcdefghi", 3)][:40] + [["a", "b", "j"]]
  for seed in range(60):
    chosen = set(processors.stratified_split_indices(combos, 0.1, seed))
    assert {l for i, c in enumerate(combos) if i not in chosen for l in c} == set("abcdefghij")
    assert len(chosen) in (3, 4)
  # Single labels: a class seen once stays too, so nothing can go here; scores are no classes.
  assert processors.stratified_split_indices(["a", "b", "c", "d"], 0.5, seed=1) == []
  assert len(processors.stratified_split_indices([0.5, 1.5, 2.5, 3.5], 0.5, seed=1)) == 2


def test_an_empty_split_says_why(tmp_path):
  path = tmp_path / "train.csv"
  path.write_text("text,label\nhello,a\nthere,b\nfriend,c\n")
  processor = FileProcessor(FileDataConfig(train_file=str(path), dev_split=0.5))
  assert processor.get_dev_examples(None) == []
  config = RunConfig(output_dir=str(tmp_path / "out"), train_file=str(path), do_train=True,
                     do_eval=True, dev_split=0.5)
  with pytest.raises(UsageError, match=r"No dev examples could be split off the training data "
                     r"at --dev_split=0.5: each class keeps a training example"):
    runner._read_sets(config, processor)  # pylint: disable=protected-access
  small = dataclasses.replace(config, dev_split=0.1)
  processor = FileProcessor(FileDataConfig(train_file=str(path), dev_split=0.1))
  with pytest.raises(UsageError, match=r"at --dev_split=0.1: 0.1 of 3 training examples rounds "
                     r"to none\. Pass --dev_file"):
    runner._read_sets(small, processor)  # pylint: disable=protected-access


def test_a_dev_split_that_no_evaluation_reads_is_named(tmp_path, caplog):
  path = tmp_path / "train.csv"
  path.write_text("text,label\n" + "".join("text %d,%s\n" % (i, "ab"[i % 2]) for i in range(40)))
  read = lambda **flags: runner._read_sets(RunConfig(  # pylint: disable=protected-access
      output_dir=str(tmp_path / "out"), train_file=str(path), do_train=True, **flags),
      FileProcessor(FileDataConfig(train_file=str(path), dev_split=flags.get("dev_split", 0.1),
                                   test_split=flags.get("test_split", 0.0))))
  assert len(read()["train"]) == 36
  assert ("No dev file: 4 training examples (--dev_split=0.1) are held out as dev, which this "
          "run does not evaluate") in caplog.text
  caplog.clear()
  assert len(read(do_eval=True)["train"]) == 36 and len(read(dev_split=0.0)["train"]) == 40
  assert "held out" not in caplog.text
  assert len(read(dev_split=0.0, test_split=0.25)["train"]) == 30
  assert ("No test file: 10 training examples (--test_split=0.25) are held out as test, which "
          "this run does not predict (--do_predict): pass --test_split=0") in caplog.text
  caplog.clear()
  assert len(read(dev_split=0.0, test_split=0.25, do_predict=True)["train"]) == 30
  assert "held out" not in caplog.text


def test_an_undecodable_byte_far_into_a_file_names_its_line(tmp_path):
  path = tmp_path / "big.csv"
  rows = b"".join(b"text number %d,pos\n" % i for i in range(20000))
  path.write_bytes(b"text,label\n" + rows + b"caf\xe9,neg\n")
  with pytest.raises(UsageError, match=r"big.csv line 20002: bytes are not valid utf-8"):
    FileProcessor(FileDataConfig(train_file=str(path))).get_train_examples(None)
  lines = tmp_path / "more.txt"
  lines.write_bytes(b"a text\n" * 30000 + b"caf\xe9\n")
  with pytest.raises(UsageError, match=r"more.txt line 30001"):
    processors.read_text_lines(str(lines))


def test_text_lines_end_at_newlines_only(tmp_path):
  # One line, one text: a bare \r (old Mac line end, or pasted into a text) stays inside.
  path = tmp_path / "texts.txt"
  path.write_bytes(b"a text\r\ncr\rinside\n\nlast")
  assert processors.read_text_lines(str(path), keep_blank=True) == ["a text", "cr\rinside", "",
                                                                     "last"]
  assert processors.read_text_lines(str(path)) == ["a text", "cr\rinside", "last"]
  path.write_bytes(b"old\rmac\rfile\r")  # \r alone ends lines: refused, not one text
  with pytest.raises(UsageError, match=r"texts.txt ends its lines with \\r alone"):
    processors.read_text_lines(str(path))


def test_a_carriage_return_inside_an_unquoted_csv_text_is_named(tmp_path):
  path = tmp_path / "cr.csv"
  path.write_bytes(b"text,label\ngood film,pos\nbad\rfilm,neg\n")
  with pytest.raises(UsageError, match=r"cr.csv line 3: 1 fields, expected 2 \(as in the "
                     r"header\): a field is missing; the file's lines end in \\n, yet a text "
                     r"holds a carriage return \(\\r\) alone"):
    FileProcessor(FileDataConfig(train_file=str(path), dev_split=0)).get_train_examples(None)
  path.write_bytes(b'text,label\r\n"bad\rfilm",neg\r\nok,pos\r\n')  # quoted: kept
  assert [e.text_a for e in FileProcessor(FileDataConfig(
      train_file=str(path), dev_split=0)).get_train_examples(None)] == ["bad\rfilm", "ok"]
  path.write_bytes(b"text,label\rgood,pos\rok\rbad,neg\r")  # old Mac line ends: no hint
  with pytest.raises(UsageError, match=r"a field is missing, or pass"):
    FileProcessor(FileDataConfig(train_file=str(path), dev_split=0)).get_train_examples(None)


def test_many_texts_with_contradictory_labels_warn(caplog):
  caplog.set_level(logging.WARNING)
  said = "distinct texts occur with different labels"
  example = lambda i, text, label: processors.InputExample(str(i), text, None, label)
  clean = [example(i, "text %d" % i, "ab"[i % 2]) for i in range(200)]
  # One conflict in 200 texts is label noise: quiet.
  processors.log_data_warnings(clean + [example(200, "text 0", "b")], "train")
  assert said not in caplog.text
  # Three in 200 (1.5%), multi-label lists compared as sets: said.
  noisy = clean + [example(200 + i, "text %d" % i, "ba"[i % 2]) for i in range(3)]
  processors.log_data_warnings(noisy + [example(300, "x", ["a", "b"]),
                                        example(301, "x", ["b", "a"])], "train")
  assert "train: 3 of 201 %s (e.g. 'text 0'); check the label column" % said in caplog.text


def test_pairs_with_empty_second_texts_warn(caplog):
  caplog.set_level(logging.WARNING)
  pairs = [processors.InputExample(str(i), "q %d" % i, "a %d" % i, "x") for i in range(200)]
  processors.log_data_warnings(pairs + [processors.InputExample("e", "q", " ", "x")], "train")
  assert "empty second text" not in caplog.text  # one in 201: quiet
  lone = [processors.InputExample(str(i), "q %d" % i, "", "x") for i in range(3)]
  processors.log_data_warnings(pairs + lone, "train")
  assert ("train: 3 of 203 pairs have an empty second text (e.g. 'q 0'); they are read as single "
          "texts: is --text_b_column right?") in caplog.text


def test_utf8_file_read_as_latin1_warns(tmp_path, caplog):
  path = _write(str(tmp_path / "t.csv"), "text,label\ncaf\u00e9 cr\u00e8me,pos\nbad,neg\n")
  with caplog.at_level(logging.WARNING):
    examples = FileProcessor(FileDataConfig(train_file=path, encoding="latin-1",
                                            dev_split=0)).get_train_examples(None)
  assert examples[0].text_a == "caf\u00c3\u00a9 cr\u00c3\u00a8me"  # as asked, but said
  assert ("%s is valid UTF-8 ('caf\u00e9'), which --encoding=latin-1 reads as 'caf\u00c3\u00a9': "
          "pass --encoding=utf-8 if the file is UTF-8." % path) in caplog.text
  caplog.clear()
  latin = tmp_path / "l.csv"
  latin.write_bytes("text,label\ncaf\u00e9,pos\n".encode("latin-1"))
  with caplog.at_level(logging.WARNING):
    FileProcessor(FileDataConfig(train_file=str(latin), encoding="latin-1",
                                 dev_split=0)).get_train_examples(None)
  assert "valid UTF-8" not in caplog.text


def test_byte_order_marks_at_the_start_of_any_line_are_dropped(tmp_path):
  """Excel's utf-8-sig files: a headerless file's first label, a quoted header, and files
  joined with cat (the repeated header is still found)."""
  def examples(content, **options):
    path = tmp_path / "data"
    path.write_bytes(content.encode("utf-8"))
    return [(e.text_a, e.label) for e in FileProcessor(FileDataConfig(
        train_file=str(path), dev_split=0, file_format=options.pop("file_format", "csv"),
        **options)).get_train_examples(None)]
  assert examples("\ufeffpos,good film\nneg,bad film\n", header=False, label_columns=[0],
                  text_column=1) == [("good film", "pos"), ("bad film", "neg")]
  assert examples('\ufeff"text","label"\n"good","pos"\n') == [("good", "pos")]
  with pytest.raises(UsageError, match=r"data line 3 repeats the header row"):
    examples("text,label\ngood,pos\n\ufefftext,label\nbad,neg\n")
  assert examples('{"text":"a","label":"x"}\n\ufeff{"text":"b","label":"y"}\n',
                  file_format="jsonl") == [("a", "x"), ("b", "y")]
