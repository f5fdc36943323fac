"""Task metrics, multi-label thresholds, and eval_results.txt / .json.

eval_results.txt keeps Google's format (`key = value`, sorted keys, with
eval_accuracy, eval_loss, global_step and loss) and adds the task's scalar
metrics; eval_results.json holds everything, per-label metrics included.
"""

import json
import os

import numpy as np
from scipy import stats
from sklearn import metrics as skm

from bert_tf.errors import write_text_atomic


def main_metric_name(task_name, task_type):
  """The metric that picks the best checkpoint by default."""
  task = (task_name or "").lower()
  if task_type == "regression":
    return "pearson"
  if task_type == "multi_label":
    return "f1_micro"
  if task == "cola":
    return "mcc"
  return "accuracy"


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


def tune_thresholds(labels, probs, grid=None):
  """Per-label decision thresholds maximising each label's F1 on these examples."""
  grid = np.arange(0.05, 0.96, 0.05) if grid is None else grid
  thresholds = []
  for j in range(labels.shape[1]):
    if labels[:, j].sum() == 0:
      thresholds.append(0.5)  # nothing to learn from: keep the neutral threshold
      continue
    scores = [skm.f1_score(labels[:, j], probs[:, j] >= t, zero_division=0) for t in grid]
    thresholds.append(float(np.round(grid[int(np.argmax(scores))], 2)))
  return thresholds


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
  present = [j for j in range(labels.shape[1]) if 0 < labels[:, j].sum() < len(labels)]
  per_label = {}
  for j, name in enumerate(label_list):
    entry = {"threshold": float(thresholds[j]), "support": int(labels[:, j].sum()),
             "f1": float(skm.f1_score(labels[:, j], predicted[:, j], zero_division=0))}
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


def compute_metrics(task_type, labels, probs, label_list, thresholds=None):
  if task_type == "regression":
    return regression_metrics(labels, probs)
  if task_type == "multi_label":
    return multi_label_metrics(labels, probs, label_list, thresholds)
  return classification_metrics(labels, probs, label_list)


def write_eval_results(output_dir, results):
  """eval_results.txt (Google's `key = value`, scalars, eval_ prefix) and .json."""
  lines = []
  for key in sorted(results):
    value = results[key]
    if isinstance(value, (int, float, np.floating, np.integer)):
      lines.append("%s = %s\n" % (key, str(value)))
  write_text_atomic(os.path.join(output_dir, "eval_results.txt"), "".join(lines))
  write_text_atomic(os.path.join(output_dir, "eval_results.json"),
                    json.dumps(results, indent=2, sort_keys=True, default=float) + "\n")
