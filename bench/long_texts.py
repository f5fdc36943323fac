"""Long reviews at max_seq_length 128: head, tail, head+tail truncation vs windows pooled.

  python bench/long_texts.py [--train 2000] [--test 2000] [--epochs 1] [--work DIR]

A seeded, balanced sample of IMDB reviews (aclImdb train; the test sample is disjoint)
fine-tunes the embedded MiniLM four ways, with the same recipe (batch 32, lr 5e-5,
max_seq_length 128): --truncation=head (the peer: what Google's code does),
tail, head_tail (--head_tokens=64), and --doc_stride=64 --max_windows=8 (mean-pooled
windows). Prints test accuracy, training seconds per epoch and the mean tokens per review.
"""

import argparse
import csv
import json
import os
import random
import re
import subprocess
import sys
import tempfile

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
IMDB = os.path.join(REPO, "..", "shared", "data", "imdb", "aclImdb", "train")
VARIANTS = (("head (Google's)", ["--truncation=head"]),
            ("tail", ["--truncation=tail"]),
            ("head+tail (64 + 62)", ["--truncation=head_tail", "--head_tokens=64"]),
            ("windows (stride 64, <= 8, mean)", ["--doc_stride=64", "--max_windows=8"]))


def sample(train, test, seed, work):
  """Balanced, disjoint train/test CSVs of IMDB reviews."""
  rng = random.Random(seed)
  files = {label: sorted(os.listdir(os.path.join(IMDB, label))) for label in ("pos", "neg")}
  for label in files:
    rng.shuffle(files[label])
  paths = {}
  for name, n, offset in (("train", train, 0), ("test", test, train // 2)):
    rows = []
    for label in ("pos", "neg"):
      for fname in files[label][offset:offset + n // 2]:
        with open(os.path.join(IMDB, label, fname), encoding="utf-8") as f:
          rows.append((f.read().replace("<br />", " "), label))
    rng.shuffle(rows)
    paths[name] = os.path.join(work, name + ".csv")
    with open(paths[name], "w", encoding="utf-8", newline="") as f:
      writer = csv.writer(f)
      writer.writerow(["text", "label"])
      writer.writerows(rows)
  return paths


def run(paths, out, extra, epochs):
  argv = [sys.executable, os.path.join(REPO, "run_classifier.py"), "--train_file=" + paths["train"],
          "--dev_file=" + paths["test"], "--do_train=true", "--do_eval=true", "--output_dir=" + out,
          "--max_seq_length=128", "--train_batch_size=32", "--learning_rate=5e-5",
          "--num_train_epochs=%g" % epochs, "--progress=off"] + extra
  proc = subprocess.run(argv, capture_output=True, text=True,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  if proc.returncode:
    raise SystemExit(proc.stderr[-3000:])
  seconds = float(re.search(r"train_seconds=([\d.e+]+)", proc.stdout).group(1))
  with open(os.path.join(out, "eval_results.json")) as f:
    return json.load(f)["eval_accuracy"], seconds / epochs


def mean_tokens(path):
  sys.path.insert(0, REPO)
  from bert_tf import pretrained, tokenization  # pylint: disable=g-import-not-at-top
  tok = tokenization.FullTokenizer(pretrained.model_files(pretrained.DEFAULT_MODEL).vocab_file,
                                   True)
  with open(path, encoding="utf-8") as f:
    texts = [row[0] for row in list(csv.reader(f))[1:]]
  return sum(len(tok.tokenize(t)) for t in texts) / len(texts)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--train", type=int, default=2000)
  parser.add_argument("--test", type=int, default=2000)
  parser.add_argument("--epochs", type=float, default=1)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--work", default=None)
  parser.add_argument("--variants", default="0,1,2,3", help="which rows to run (0: head, the "
                      "reference the last column compares with)")
  args = parser.parse_args()
  work = args.work or tempfile.mkdtemp(prefix="bert_tf-long-")
  os.makedirs(work, exist_ok=True)
  paths = sample(args.train, args.test, args.seed, work)
  print("IMDB sample: %d train / %d test reviews, %.0f tokens per test review on average" % (
      args.train, args.test, mean_tokens(paths["test"])), flush=True)
  print("| variant | test accuracy | train seconds per epoch | accuracy - head's |\n|---|---|---|---|")
  head = None
  for i in [int(v) for v in args.variants.split(",")]:
    name, extra = VARIANTS[i]
    accuracy, seconds = run(paths, os.path.join(work, "run%d" % i), extra, args.epochs)
    head = accuracy if head is None and i == 0 else head
    print("| %s | %.4f | %.0f | %s |" % (name, accuracy, seconds, "%+.2f pt" % (
        100 * (accuracy - head)) if head is not None else "-"), flush=True)


if __name__ == "__main__":
  main()
