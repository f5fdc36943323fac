"""GoEmotions (28 labels, multi-label): bert_tf's defaults vs HF PyTorch plain BCE, the same
recipe, scored on comments neither tuned on.

  python bench/goemotions.py [--train 20000] [--work DIR]

The first --train rows of GoEmotions train; its dev set split in two halves (seeded):
"tune" picks the decision thresholds, "held" is scored. Recipe for both: the embedded
MiniLM, 1 epoch, batch 32, lr 5e-5, max_seq_length 128.
  ours: run_classifier.py defaults (output bias from the label priors, thresholds tuned on
        tune: per-label F1 optimum, a global one for labels with < 5 positives), held
        scored as a labelled --test_file with the run's thresholds;
  peer: HF BertForSequenceClassification (bias 0, plain BCE), at 0.5 and with thresholds
        tuned on tune by the same code.
Prints micro/macro F1, micro/macro ROC-AUC and predicted vs true labels per comment.
"""

import argparse
import csv
import os
import random
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, REPO)
sys.path.insert(0, BENCH)
DATA = os.path.join(REPO, "..", "shared", "data", "goemotions")
KEYS = ("f1_micro", "f1_macro", "roc_auc_micro", "roc_auc_macro", "label_cardinality_predicted",
        "label_cardinality_true")


def split_files(train, seed, work):
  """train.tsv (first `train` rows), tune.tsv and held.tsv (the dev set's two halves)."""
  def read(name):
    with open(os.path.join(DATA, name), encoding="utf-8", newline="") as f:
      rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows[0], rows[1:]
  header, rows = read("train.tsv")
  _, dev = read("dev.tsv")
  random.Random(seed).shuffle(dev)
  parts = dict(train=rows[:train], tune=dev[:len(dev) // 2], held=dev[len(dev) // 2:])
  paths = {}
  for name, part in parts.items():
    paths[name] = os.path.join(work, name + ".tsv")
    with open(paths[name], "w", encoding="utf-8", newline="") as f:
      writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
      writer.writerow(header)
      writer.writerows(part)
  return paths


def ours(paths, out, args):
  from bert_tf.config import RunConfig  # pylint: disable=g-import-not-at-top
  from bert_tf.runner import run_classifier  # pylint: disable=g-import-not-at-top
  from bert_tf.run_dir import RunDir  # pylint: disable=g-import-not-at-top
  start = time.time()
  run_classifier(RunConfig(
      output_dir=out, train_file=paths["train"], dev_file=paths["tune"], test_file=paths["held"],
      label_delimiter=",", labels_file=os.path.join(DATA, "labels.txt"), do_train=True,
      do_eval=True, do_predict=True, num_train_epochs=args.epochs, learning_rate=5e-5,
      train_batch_size=32, max_seq_length=128, eval_batch_size=64, predict_batch_size=64,
      progress="log"))
  return RunDir(out).read_test_metrics(), time.time() - start


def peer(paths, args):
  """HF PyTorch on the same examples (our processors read them), scored by our task code."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import hf_compare  # pylint: disable=g-import-not-at-top
  from bert_tf import processors, tasks  # pylint: disable=g-import-not-at-top
  config = processors.FileDataConfig(train_file=paths["train"], dev_file=paths["tune"],
                                     test_file=paths["held"], label_delimiter=",",
                                     labels_file=os.path.join(DATA, "labels.txt"))
  proc = processors.get_processor("file", config)
  label_list = proc.get_labels()
  start = time.time()
  run = hf_compare.fine_tune(proc.get_train_examples(None), [proc.get_dev_examples(None),
                                                            proc.get_test_examples(None)],
                             label_list, True,
                             argparse.Namespace(seed=12345, max_seq_length=128, batch=32,
                                                lr=5e-5, epochs=args.epochs))
  seconds = time.time() - start
  (tune_logits, held_logits), (tune_labels, held_labels) = run["logits"], run["labels"]
  sigmoid = lambda x: 1 / (1 + np.exp(-x))
  task = tasks.make_task("multi_label", label_list)
  at_half = task.metrics(held_labels, sigmoid(held_logits))
  tuned, _ = task.tuned(tune_labels, sigmoid(tune_logits))
  return at_half, tuned.metrics(held_labels, sigmoid(held_logits)), seconds


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--train", type=int, default=20000)
  parser.add_argument("--epochs", type=float, default=1)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--work", default=None)
  args = parser.parse_args()
  work = args.work or tempfile.mkdtemp(prefix="bert_tf-goemotions-")
  os.makedirs(work, exist_ok=True)
  paths = split_files(args.train, args.seed, work)
  ours_metrics, ours_seconds = ours(paths, os.path.join(work, "ours"), args)
  hf_half, hf_tuned, hf_seconds = peer(paths, args)
  print("GoEmotions: %d train rows, thresholds tuned on %s, scored on %s" % (
      args.train, paths["tune"], paths["held"]))
  print("| run | " + " | ".join(KEYS) + " | seconds |\n|---" + "|---" * (len(KEYS) + 1) + "|")
  for name, m, seconds in (("bert_tf defaults (tuned)", ours_metrics, ours_seconds),
                           ("HF PyTorch BCE at 0.5", hf_half, hf_seconds),
                           ("HF PyTorch BCE, tuned", hf_tuned, hf_seconds)):
    prefix = "test_" if "test_f1_micro" in m else ""
    print("| %s | %s | %.0f |" % (name, " | ".join("%.4f" % m[prefix + k] for k in KEYS),
                                  seconds), flush=True)


if __name__ == "__main__":
  main()
