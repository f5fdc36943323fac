"""Metrics: values against hand computations, thresholds, eval_results format."""

import json

import numpy as np

from bert_tf import metrics


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


def test_multi_label_metrics_and_thresholds():
  labels = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
  probs = np.array([[0.3, 0.1], [0.35, 0.9], [0.1, 0.2], [0.2, 0.6]])
  at_half = metrics.multi_label_metrics(labels, probs, ["a", "b"])
  assert at_half["per_label"]["a"]["f1"] == 0.0  # label a never reaches 0.5
  thresholds = metrics.tune_thresholds(labels, probs)
  assert 0.2 < thresholds[0] <= 0.3  # separates 0.3/0.35 from 0.1/0.2
  tuned = metrics.multi_label_metrics(labels, probs, ["a", "b"], thresholds)
  assert tuned["per_label"]["a"]["f1"] == 1.0 and tuned["exact_match"] == 1.0
  assert tuned["roc_auc_micro"] == 1.0 and tuned["per_label"]["b"]["roc_auc"] == 1.0


def test_regression_metrics():
  out = metrics.regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.5]))
  assert out["spearman"] == 1.0 and 0.99 < out["pearson"] < 1.0


def test_eval_results_files(tmp_path):
  results = {"eval_accuracy": 0.5, "eval_loss": 0.7, "global_step": 10, "loss": 0.7,
             "eval_confusion_matrix": [[1, 0], [0, 1]]}
  metrics.write_eval_results(str(tmp_path), results)
  assert (tmp_path / "eval_results.txt").read_text() == (
      "eval_accuracy = 0.5\neval_loss = 0.7\nglobal_step = 10\nloss = 0.7\n")
  assert json.loads((tmp_path / "eval_results.json").read_text())["eval_confusion_matrix"] == [
      [1, 0], [0, 1]]
