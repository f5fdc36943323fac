"""Multi-label on the Jigsaw toxic sample: the user's recipe with bert_tf's defaults (label
priors as the initial output bias, thresholds tuned on dev) and with --pos_weight=balanced,
beside HF PyTorch (plain BCE) on the same checkpoint, examples and recipe (with --hf).

  python bench/multilabel.py --data_dir ../shared/data/toxic --work_dir /tmp/ml_bench

Prints, for each run: micro/macro ROC-AUC, micro/macro F1 with the tuned thresholds and at
0.5, predicted vs true label cardinality, how each threshold was chosen, and the time. The
peer's thresholds are tuned on dev by the same code as ours.
"""

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_tf import processors, tasks  # noqa: E402
from bert_tf.config import RunConfig  # noqa: E402
from bert_tf.runner import run_classifier  # noqa: E402

LABELS = "toxic,severe_toxic,obscene,threat,insult,identity_hate"


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--data_dir", required=True)
  parser.add_argument("--work_dir", default="/tmp/bert_tf_multilabel")
  parser.add_argument("--epochs", type=float, default=3.0)
  parser.add_argument("--lr", type=float, default=5e-5)
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--max_seq_length", type=int, default=128)
  parser.add_argument("--hf", action="store_true", help="also run HF PyTorch (needs torch)")
  args = parser.parse_args()
  print("CPU: %s, %d cores" % (platform.processor() or platform.machine(), os.cpu_count()))
  rows = []
  for name, options in (("defaults", {}), ("pos_weight=balanced", dict(pos_weight="balanced"))):
    start = time.time()
    config = _config(args, os.path.join(args.work_dir, name.replace("=", "_")), **options)
    result = run_classifier(config)
    rows.append((name, result["eval"], time.time() - start))
  if args.hf:
    rows += hf_rows(config, args)
  keys = ("roc_auc_micro", "roc_auc_macro", "f1_micro", "f1_macro", "f1_micro_at_0.5",
          "label_cardinality_predicted", "label_cardinality_true")
  print("| run | " + " | ".join(keys) + " | seconds |")
  print("|---" * (len(keys) + 2) + "|")
  for name, ev, seconds in rows:
    print("| %s | %s | %.0f |" % (name, " | ".join("%.3f" % ev["eval_" + k] for k in keys),
                                  seconds))
  for name, ev, _ in rows:
    if "eval_per_label" not in ev:
      continue
    print("%s thresholds: %s" % (name, json.dumps(
        {k: round(v["threshold"], 3) for k, v in ev["eval_per_label"].items()})))
    if ev.get("eval_warnings"):
      print("%s warnings: %s" % (name, "; ".join(ev["eval_warnings"])))


def _config(args, output_dir, **options):
  return RunConfig(
      output_dir=output_dir, train_file=os.path.join(args.data_dir, "train_sample.csv"),
      dev_file=os.path.join(args.data_dir, "val_sample.csv"), text_column="comment_text",
      label_column=LABELS, do_train=True, do_eval=True, num_train_epochs=args.epochs,
      learning_rate=args.lr, train_batch_size=args.batch, max_seq_length=args.max_seq_length,
      eval_batch_size=64, progress="log", **options)


def hf_rows(config, args):
  """HF PyTorch (plain BCE, bias 0) on the same examples: at 0.5 and with tuned thresholds."""
  import hf_compare  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  proc = processors.get_processor("file", processors.FileDataConfig.from_run_config(config))
  train, dev = proc.get_train_examples(None), proc.get_dev_examples(None)
  start = time.time()
  run = hf_compare.fine_tune(train, [dev], proc.get_labels(), True, argparse.Namespace(
      seed=12345, max_seq_length=args.max_seq_length, batch=args.batch, lr=args.lr,
      epochs=args.epochs))
  seconds = time.time() - start
  probs = 1 / (1 + np.exp(-run["logits"][0]))
  task = tasks.make_task("multi_label", proc.get_labels())
  tuned, _ = task.tuned(run["labels"][0], probs)
  prefix = lambda m: {"eval_" + k: v for k, v in m.items()}
  half = prefix(task.metrics(run["labels"][0], probs))
  return [("HF PyTorch BCE at 0.5", half, seconds),
          ("HF PyTorch BCE, tuned", prefix(tuned.metrics(run["labels"][0], probs)), seconds)]


if __name__ == "__main__":
  main()
