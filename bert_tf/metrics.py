"""Metrics of each kind of task (sklearn/scipy), and multi-label threshold tuning.

The task objects (tasks.py) choose which of these apply; run_dir writes them to
eval_results.txt (Google's `key = value`) and eval_results.json (everything).
"""

import numpy as np
from scipy import stats
from sklearn import metrics as skm


# Metrics where a smaller value is better (best checkpoint, report); for all others, larger.
LOWER_IS_BETTER = ("loss", "mse", "hamming_loss")


def dev_metric_name(name):
  """A metric's name in the task's results: --best_metric=eval_f1 and f1 are both f1."""
  return name[len("eval_"):] if name.startswith("eval_") else name


def better_first_key(name):
  """A sort key that puts the best value of metric `name` first (not finite: last)."""
  sign = 1 if dev_metric_name(name) in LOWER_IS_BETTER else -1
  return lambda value: sign * value if np.isfinite(value) else np.inf


def classification_metrics(label_ids, probs, label_list):
  predictions = np.argmax(probs, axis=-1)
  out = {
      "accuracy": float(skm.accuracy_score(label_ids, predictions)),
      "f1_macro": float(skm.f1_score(label_ids, predictions, average="macro", zero_division=0)),
      "f1_micro": float(skm.f1_score(label_ids, predictions, average="micro", zero_division=0)),
      "mcc": float(skm.matthews_corrcoef(label_ids, predictions)),
  }
  if len(label_list) == 2:
    # Binary F1 of the second label ("1" for GLUE, the positive class), as in GLUE.
    out["f1"] = float(skm.f1_score(label_ids, predictions, pos_label=1, zero_division=0))
    out["f1_positive_label"] = str(label_list[1])
    if len(set(label_ids.tolist())) == 2:
      out["roc_auc"] = float(skm.roc_auc_score(label_ids, probs[:, 1]))
  labels = list(range(len(label_list)))
  out["confusion_matrix"] = skm.confusion_matrix(label_ids, predictions, labels=labels).tolist()
  out["classification_report"] = skm.classification_report(
      label_ids, predictions, labels=labels, target_names=[str(l) for l in label_list],
      zero_division=0, output_dict=True)
  return out


def regression_metrics(labels, predictions):
  predictions = np.asarray(predictions).reshape(-1)
  pearson = float(stats.pearsonr(predictions, labels)[0]) if len(labels) > 1 else 0.0
  spearman = float(stats.spearmanr(predictions, labels)[0]) if len(labels) > 1 else 0.0
  return {"pearson": pearson, "spearman": spearman, "corr": (pearson + spearman) / 2,
          "mse": float(np.mean((predictions - labels) ** 2))}


# A label with fewer dev positives than this gets the global threshold: a per-label
# cut tuned on 1-4 positives fits those examples, not the label.
MIN_POSITIVES_FOR_OWN_THRESHOLD = 5


def best_f1_cut(labels, scores):
  """(threshold, F1) maximising the F1 of `scores >= threshold`, exactly.

  Every distinct score is a candidate cut (sorted once, cumulative counts); the
  threshold returned lies halfway to the next lower score, so it does not sit on
  a training example's score.
  """
  labels, scores = np.asarray(labels, np.float64).ravel(), np.asarray(scores, np.float64).ravel()
  positives = labels.sum()
  if positives == 0:
    return 0.5, 0.0
  order = np.argsort(-scores, kind="stable")
  scores, labels = scores[order], labels[order]
  last_of_tie = np.r_[scores[1:] != scores[:-1], True]  # ties are predicted together
  tp, fp = np.cumsum(labels)[last_of_tie], np.cumsum(1 - labels)[last_of_tie]
  cuts = scores[last_of_tie]
  f1 = 2 * tp / (tp + fp + positives)
  best = int(np.argmax(f1))
  lower = cuts[best + 1] if best + 1 < len(cuts) else max(cuts[best] - 1e-3, 0.0)
  return float((cuts[best] + lower) / 2), float(f1[best])


def tune_thresholds(labels, probs, min_positives=MIN_POSITIVES_FOR_OWN_THRESHOLD):
  """Per-label thresholds maximising F1 on these examples, and how each was chosen.

  Labels with at least `min_positives` positives get their own F1-optimal cut; the
  others get one global cut, the micro-F1 optimum over all labels.
  """
  labels, probs = np.asarray(labels), np.asarray(probs)
  global_cut, _ = best_f1_cut(labels, probs)
  thresholds, how = [], []
  for j in range(labels.shape[1]):
    positives = int(labels[:, j].sum())
    if positives >= min_positives:
      thresholds.append(best_f1_cut(labels[:, j], probs[:, j])[0])
      how.append("per-label F1 optimum (%d dev positives)" % positives)
    else:
      thresholds.append(global_cut)
      how.append("global micro-F1 optimum (only %d dev positives)" % positives)
  return [round(t, 6) for t in thresholds], how


def degenerate_predictions(labels, predicted, label_list):
  """Warnings for multi-label decisions a user should not trust."""
  warnings = []
  n = len(labels)
  rates = predicted.mean(axis=0)
  always = [str(label_list[j]) for j in np.flatnonzero(rates >= 0.95) if labels[:, j].mean() < 0.9]
  if always and n >= 20:
    warnings.append("%d label(s) predicted for >= 95%% of examples (%s)" % (
        len(always), ", ".join(always[:8])))
  true_cardinality, predicted_cardinality = labels.sum(axis=1).mean(), predicted.sum(axis=1).mean()
  if n >= 20 and true_cardinality > 0 and not (
      true_cardinality / 3 <= predicted_cardinality <= 3 * true_cardinality):
    warnings.append("%.2f labels predicted per example against %.2f true" % (
        predicted_cardinality, true_cardinality))
  return warnings


def multi_label_metrics(labels, probs, label_list, thresholds=None):
  labels = labels.astype(int)
  thresholds = np.full(len(label_list), 0.5) if thresholds is None else np.asarray(thresholds)
  predicted = (probs >= thresholds[None, :]).astype(int)
  out = {
      "f1_micro": float(skm.f1_score(labels, predicted, average="micro", zero_division=0)),
      "f1_macro": float(skm.f1_score(labels, predicted, average="macro", zero_division=0)),
      "exact_match": float(np.mean(np.all(labels == predicted, axis=1))),
      "hamming_loss": float(skm.hamming_loss(labels, predicted)),
  }
  at_half = (probs >= 0.5).astype(int)
  out["f1_micro_at_0.5"] = float(skm.f1_score(labels, at_half, average="micro", zero_division=0))
  out["f1_macro_at_0.5"] = float(skm.f1_score(labels, at_half, average="macro", zero_division=0))
  out["f1_weighted"] = float(skm.f1_score(labels, predicted, average="weighted", zero_division=0))
  out["f1_samples"] = float(skm.f1_score(labels, predicted, average="samples", zero_division=0))
  out["label_cardinality_true"] = float(labels.sum(axis=1).mean())
  out["label_cardinality_predicted"] = float(predicted.sum(axis=1).mean())
  out["multilabel_confusion_matrix"] = skm.multilabel_confusion_matrix(labels, predicted).tolist()
  out["warnings"] = degenerate_predictions(labels, predicted, label_list)
  present = [j for j in range(labels.shape[1]) if 0 < labels[:, j].sum() < len(labels)]
  per_label = {}
  for j, name in enumerate(label_list):
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        labels[:, j], predicted[:, j], average="binary", zero_division=0)
    entry = {"threshold": float(thresholds[j]), "support": int(labels[:, j].sum()),
             "precision": float(precision), "recall": float(recall), "f1": float(f1)}
    if j in present:
      entry["roc_auc"] = float(skm.roc_auc_score(labels[:, j], probs[:, j]))
    per_label[str(name)] = entry
  if present:
    out["roc_auc_micro"] = float(skm.roc_auc_score(labels[:, present].ravel(),
                                                   probs[:, present].ravel()))
    out["roc_auc_macro"] = float(np.mean([per_label[str(label_list[j])]["roc_auc"]
                                          for j in present]))
  out["per_label"] = per_label
  return out
