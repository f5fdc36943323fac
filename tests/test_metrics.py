"""Metrics: values against hand computations, thresholds, eval_results format."""

import json

import numpy as np

from sklearn import metrics as skm

from bert_tf import metrics
from bert_tf.run_dir import RunDir


def test_classification_metrics_by_hand():
  labels = np.array([0, 0, 1, 1, 1])
  probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
  out = metrics.classification_metrics(labels, probs, ["0", "1"])
  assert out["accuracy"] == 0.6
  # predictions 0,1,1,1,0: tp=2 fp=1 fn=1 -> F1 = 2/3
  assert abs(out["f1"] - 2 / 3) < 1e-9
  # MCC = (tp*tn - fp*fn)/sqrt(...) = (2*1 - 1*1)/sqrt(3*3*2*2) = 1/6
  assert abs(out["mcc"] - 1 / 6) < 1e-9
  assert out["confusion_matrix"] == [[1, 1], [1, 2]]


def test_multi_label_metrics_with_thresholds():
  labels = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
  probs = np.array([[0.3, 0.1], [0.35, 0.9], [0.1, 0.2], [0.2, 0.6]])
  at_half = metrics.multi_label_metrics(labels, probs, ["a", "b"])
  assert at_half["per_label"]["a"]["f1"] == 0.0  # label a never reaches 0.5
  assert at_half["label_cardinality_true"] == 1.0 and at_half["label_cardinality_predicted"] == 0.5
  tuned = metrics.multi_label_metrics(labels, probs, ["a", "b"], [0.25, 0.4])
  assert tuned["per_label"]["a"]["f1"] == 1.0 and tuned["exact_match"] == 1.0
  assert tuned["roc_auc_micro"] == 1.0 and tuned["per_label"]["b"]["roc_auc"] == 1.0
  assert tuned["multilabel_confusion_matrix"][0] == [[2, 0], [0, 2]]


def _brute_force_f1_cut(labels, scores):
  """Independent reference: try every midpoint between distinct scores."""
  distinct = np.unique(scores)
  candidates = np.r_[(distinct[1:] + distinct[:-1]) / 2, distinct[0] - 1e-3]
  f1 = [skm.f1_score(labels, scores >= t, zero_division=0) for t in candidates]
  return max(f1)


def test_best_f1_cut_is_exact():
  rng = np.random.default_rng(0)
  for trial in range(30):
    labels = rng.random(60) < 0.3
    scores = np.round(np.clip(labels * 0.2 + rng.random(60) * 0.8, 0, 1), 2)  # with ties
    threshold, f1 = metrics.best_f1_cut(labels, scores)
    assert abs(f1 - _brute_force_f1_cut(labels, scores)) < 1e-12, trial
    assert abs(skm.f1_score(labels, scores >= threshold) - f1) < 1e-12  # the cut gives that F1


def test_rare_labels_get_the_global_threshold():
  rng = np.random.default_rng(1)
  labels = np.zeros((200, 3), int)
  labels[:40, 0] = 1          # common label: its own threshold
  labels[[5, 50], 1] = 1      # 2 positives: too few to tune on
  probs = rng.random((200, 3)) * 0.3 + labels * 0.5
  thresholds, how = metrics.tune_thresholds(labels, probs)
  global_cut, _ = metrics.best_f1_cut(labels, probs)
  assert thresholds[1] == round(global_cut, 6) and thresholds[2] == round(global_cut, 6)
  assert how[0].startswith("per-label") and "only 2 dev positives" in how[1]


def test_degenerate_predictions_warn():
  labels = np.zeros((40, 2), int)
  labels[:4, 0] = 1
  predicted = np.ones((40, 2), int)
  warnings = metrics.degenerate_predictions(labels, predicted, ["a", "b"])
  assert "2 label(s) predicted for >= 95% of examples (a, b)" in warnings[0]
  assert "2.00 labels predicted per example against 0.10 true" in warnings[1]


def test_regression_metrics():
  out = metrics.regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.5]))
  assert out["spearman"] == 1.0 and 0.99 < out["pearson"] < 1.0


def test_eval_results_files(tmp_path):
  results = {"eval_accuracy": 0.5, "eval_loss": 0.7, "global_step": 10, "loss": 0.7,
             "eval_confusion_matrix": [[1, 0], [0, 1]]}
  RunDir(str(tmp_path)).write_eval_results(results)
  assert (tmp_path / "eval_results.txt").read_text() == (
      "eval_accuracy = 0.5\neval_loss = 0.7\nglobal_step = 10\nloss = 0.7\n")
  assert json.loads((tmp_path / "eval_results.json").read_text())["eval_confusion_matrix"] == [
      [1, 0], [0, 1]]
