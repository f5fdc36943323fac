"""Task objects against hand computations: labels, losses, bias, decisions, serving."""

import logging

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import tasks
from bert_tf.errors import UsageError
from bert_tf.processors import InputExample, PaddingInputExample


def _examples(labels):
  return [InputExample(str(i), "x", None, l, "f.csv line %d" % (i + 2))
          for i, l in enumerate(labels)]


def test_label_encoding_and_the_unknown_label_line():
  task = tasks.SingleLabel(["neg", "pos"])
  assert task.label_array(_examples(["pos", "neg", None]) + [PaddingInputExample()]).tolist() == [
      1, 0, 0, 0]
  with pytest.raises(UsageError, match=r"f.csv line 3: label 'meh' is not in the label list "
                     r"\(neg, pos\)"):
    task.label_array(_examples(["pos", "meh"]))
  with pytest.raises(UsageError, match=r"line 2: label 'Pos' is not in the label list \(neg, "
                     r"pos\); labels are case-sensitive: 'Pos' is 'pos' written differently"):
    task.label_array(_examples(["Pos"]))
  multi = tasks.MultiLabel(["a", "b", "c"])
  np.testing.assert_array_equal(multi.label_array(_examples([["a", "c"], [], None])),
                                [[1, 0, 1], [0, 0, 0], [0, 0, 0]])
  assert tasks.Regression().label_array(_examples([1.5, None])).tolist() == [1.5, 0.0]


def test_losses_by_hand():
  logits = np.array([[2.0, -1.0], [0.5, 0.25]], np.float32)
  labels = np.array([1, 0])
  log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
  plain = -log_softmax[[0, 1], labels]
  task = tasks.SingleLabel(["a", "b"], class_weights=[0.5, 3.0])
  np.testing.assert_allclose(task.per_example_loss(labels, logits).numpy(),
                             plain * np.array([3.0, 0.5]), rtol=1e-6)
  y = np.array([[1, 0], [0, 1]], np.float32)
  p = 1 / (1 + np.exp(-logits))
  bce = -(4.0 * y * np.log(p) + (1 - y) * np.log(1 - p))  # pos_weight 4 on positives
  multi = tasks.MultiLabel(["a", "b"], pos_weight=[4.0, 4.0])
  np.testing.assert_allclose(multi.per_example_loss(y, logits).numpy(), bce.mean(1), rtol=1e-5)
  reg = tasks.Regression()
  np.testing.assert_allclose(reg.per_example_loss(np.array([1.0, 0.0]), logits[:, :1]).numpy(),
                             [1.0, 0.25])


def test_balanced_pos_weight_and_prior_bias():
  examples = _examples([["a", "b"], ["b"], ["b"], []])
  task = tasks.MultiLabel(["a", "b", "c"]).with_pos_weight("balanced", examples)
  np.testing.assert_allclose(task.pos_weight, [3.0, 1 / 3, 4.0], rtol=1e-6)  # neg / pos
  bias = task.initial_output_bias(task.label_array(examples))
  p = 1 / (1 + np.exp(-bias))
  np.testing.assert_allclose(p, [0.25, 0.75, 1e-4], rtol=1e-4)  # the priors; unseen clipped
  assert tasks.SingleLabel(["a", "b"]).initial_output_bias(None) is None


def test_decisions_follow_thresholds_in_python_and_in_the_graph():
  task = tasks.MultiLabel(["a", "b"], thresholds=[0.2, 0.9])
  probs = np.array([[0.3, 0.8], [0.1, 0.95]], np.float32)
  assert task.decide(probs) == [["a"], ["b"]]
  logits = np.log(probs / (1 - probs))
  served = task.serving_outputs(tf.constant(logits))
  assert served["label_ids"].numpy().tolist() == [[1, 0], [0, 1]]
  assert [n.decode() for n in served["label_names"].numpy()] == ["a", "b"]
  single = tasks.SingleLabel(["x", "y"])
  assert single.decide(np.array([[0.2, 0.8]])) == ["y"]
  assert tasks.Regression().decide(np.array([[2.5]])) == [2.5]


def test_round_trip_and_weights_for_the_wrong_kind():
  task = tasks.MultiLabel(["a", "b"], thresholds=[0.3, 0.4], pos_weight=[2.0, 1.0])
  again = tasks.task_from_dict(task.to_dict())
  assert (again.kind, again.label_list, again.thresholds, again.pos_weight) == (
      "multi_label", ["a", "b"], [0.3, 0.4], [2.0, 1.0])
  with pytest.raises(UsageError, match="--pos_weight applies to multi-label tasks"):
    tasks.SingleLabel(["a", "b"]).with_pos_weight("balanced", [])
  with pytest.raises(UsageError, match="Unknown task kind"):
    tasks.make_task("ranking")


def test_single_class_and_rare_labels_warn(caplog):
  caplog.set_level(logging.WARNING)
  tasks.log_label_warnings(tasks.SingleLabel(["pos"]), _examples(["pos"] * 5), "training data")
  assert "only the label 'pos' occurs" in caplog.text
  tasks.log_label_warnings(tasks.SingleLabel(["a", "b", "c"]), _examples(["a", "b"] * 2), "t")
  assert "1 label(s) of the label list never occur (c)" in caplog.text
  tasks.log_label_warnings(tasks.SingleLabel(["a", "b"]), _examples(["a", "a", "b"]), "train")
  assert "1 label(s) occur only once (b)" in caplog.text
  assert "header" not in caplog.text
  # A label seen once on line 1 of a file: likely a header read as data.
  examples = _examples(["label", "a", "a"])
  for i, example in enumerate(examples):
    example.where = "t.csv line %d" % (i + 1)
  tasks.log_label_warnings(tasks.SingleLabel(["a", "label"]), examples, "train")
  assert ("t.csv line 1 holds 'label': if that line is a header, read the file with its "
          "header (drop --header=false)") in caplog.text


def test_multi_labels_on_every_row_warn(caplog):
  caplog.set_level(logging.WARNING)
  task = tasks.MultiLabel(["0", "1"])
  tasks.log_label_warnings(task, _examples([["1", "0"], ["0", "1"]] * 3), "train.json")
  assert ("train.json: every label (0, 1) is on in every example, so there is nothing to learn. "
          "If each cell is a row of 0/1 indicators, put one column per label") in caplog.text
  caplog.clear()
  task = tasks.MultiLabel(["a", "b", "c"])
  tasks.log_label_warnings(task, _examples([["a", "b"], ["a"], ["a", "c"], ["a"]]), "t")
  assert "t: the label(s) a are on in every example; the model will learn" in caplog.text
  caplog.clear()
  tasks.log_label_warnings(task, _examples([["a", "b"], ["b"], ["a", "c"], []]), "t")
  assert "every example" not in caplog.text
  tasks.log_label_warnings(tasks.SingleLabel(["a", "b"]), _examples(["a", "b", "a"]), "t")
  assert "every example" not in caplog.text


def test_labels_that_are_one_number_warn_and_a_label_listed_twice_stops(caplog):
  caplog.set_level(logging.WARNING)
  tasks.log_label_warnings(tasks.SingleLabel(["Pos", "neg", "pos"]),
                           _examples(["Pos", "pos", "neg"] * 2), "train")
  assert "the labels 'Pos' and 'pos' differ only in case" in caplog.text
  assert "look alike" not in caplog.text  # case is visible
  composed, decomposed = "caf\u00e9", "cafe\u0301"
  alike = [composed, decomposed, "neg", "neg\u200b"]
  tasks.log_label_warnings(tasks.SingleLabel(alike), _examples(alike * 2), "train")
  assert ("the labels 'cafe\\u0301' and 'caf\\xe9' look alike (invisible characters or "
          "another Unicode normalization)") in caplog.text
  assert "the labels 'neg' and 'neg\\u200b' look alike" in caplog.text
  caplog.clear()
  spaced = ["pos", "pos ", "neg"]  # alike in case and in looks: said once
  tasks.log_label_warnings(tasks.SingleLabel(spaced), _examples(spaced * 2), "train")
  assert caplog.text.count("the labels 'pos' and 'pos '") == 1, caplog.text
  labels = ["0", "0.0", "1", "1.0", "x"]
  tasks.log_label_warnings(tasks.SingleLabel(labels), _examples(labels * 2), "train.csv")
  assert "the labels '0' and '0.0' are one number written differently" in caplog.text
  assert "the labels '1' and '1.0' are one number" in caplog.text and "'x'" not in caplog.text
  with pytest.raises(UsageError, match=r"The label list names 'pos' more than once"):
    tasks.SingleLabel(["pos", "neg", "pos"])
  assert "--regression" not in caplog.text  # whole numbers, and "x": classes
  scores = ["0.25", "1", "3.75", "4.5"]
  tasks.log_label_warnings(tasks.SingleLabel(scores), _examples(scores * 2), "train.csv")
  assert ("train.csv: the 4 labels are all numbers, some with fractions (e.g. 0.25): if they "
          "are scores, pass --regression") in caplog.text


def test_joined_labels_and_a_constant_score_warn(caplog):
  caplog.set_level(logging.WARNING)
  said = "looks like several labels joined by"
  # Single-label classes that are other classes joined: a forgotten --label_delimiter.
  forgot = ["a", "b", "a,b", "b,a"]
  tasks.log_label_warnings(tasks.SingleLabel(forgot), _examples(forgot * 2), "train")
  assert "the label 'a,b' %s ','; if it is, pass --label_delimiter=," % said in caplog.text
  caplog.clear()
  # Permutations alone say it too; a class that merely holds a comma does not.
  tasks.log_label_warnings(tasks.SingleLabel(["x;y", "y;x", "z"]),
                           _examples(["x;y", "y;x", "z"] * 2), "train")
  assert "the label 'y;x' %s ';'" % said in caplog.text  # the second of the two
  caplog.clear()
  tasks.log_label_warnings(tasks.SingleLabel(["Arts, Culture", "Sports"]),
                           _examples(["Arts, Culture", "Sports"] * 2), "train")
  assert said not in caplog.text
  ratings = ["1", "1,5", "2", "2,5", "3"]  # decimal commas: numbers, not joins
  tasks.log_label_warnings(tasks.SingleLabel(ratings), _examples(ratings * 2), "train")
  assert said not in caplog.text
  # Columns swapped: 20k sentences as labels, each with commas. One pass over them, no warning.
  sentences = ["w%d, w%d, w%d" % (i, i + 1, i + 2) for i in range(20000)]
  assert tasks._joined_labels(dict.fromkeys(sentences, 1)) is None  # pylint: disable=protected-access
  # Multi-label data split on the wrong delimiter.
  tasks.log_label_warnings(tasks.MultiLabel(["a", "b", "a;b"]),
                           _examples([["a"], ["b"], ["a;b"]] * 2), "train")
  assert "the label 'a;b' %s ';'" % said in caplog.text
  tasks.log_label_warnings(tasks.Regression(), _examples([2.5, 2.5, None]), "train")
  assert "train: every score is 2.5; the model cannot learn from a constant target" in caplog.text
  caplog.clear()
  tasks.log_label_warnings(tasks.Regression(), _examples([2.5, 3.0]), "train")
  assert not caplog.text


def test_errors_rank_wrong_predictions_by_hand():
  single = tasks.SingleLabel(["a", "b"])
  probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
  np.testing.assert_allclose(single.errors(np.array([0, 0, 1]), probs), [0.0, 0.7, 0.6])
  multi = tasks.MultiLabel(["a", "b"], thresholds=[0.5, 0.2])
  probs = np.array([[0.9, 0.3], [0.4, 0.1], [0.6, 0.1]])
  labels = np.array([[1, 1], [1, 0], [1, 0]], np.float32)
  np.testing.assert_allclose(multi.errors(labels, probs), [0.0, 0.6, 0.0])  # b at 0.3 >= 0.2
  np.testing.assert_allclose(tasks.Regression().errors(np.array([1.0, 3.0]),
                                                       np.array([[1.5], [2.0]])), [0.5, 1.0])
