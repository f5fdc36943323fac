"""Within-task further pretraining (Sun et al. 2019) vs fine-tuning the base model directly.

  python bench/further_pretraining.py [--train 2000] [--test 2000] [--unlabelled 2000]
                                      [--mlm_epochs 1] [--work DIR]
                                      [--mixed_precision mixed_bfloat16] [--mlm_only]

The seeded IMDB sample of bench/long_texts.py (balanced, disjoint train/test reviews)
and --unlabelled further training reviews (disjoint from both, labels dropped):
  1. bert_tf.cli.pretrain: masked LM on the train reviews + the unlabelled ones, from the
     embedded MiniLM (max_seq_length 128, batch 32, lr 5e-5, Google's masking);
  2. fine-tune the base MiniLM and the pretrained one with the same recipe (head
     truncation at 128, batch 32, lr 5e-5, 1 epoch) and score both on the test reviews.
Prints the masked-LM dev accuracy before/after, the pretraining time, and the two test
accuracies side by side.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
import long_texts  # pylint: disable=wrong-import-position


def unlabelled_reviews(n, skip, seed, path):
  """n reviews (half pos, half neg) past the first `skip` of each label in long_texts'
  seeded order: disjoint from its train and test samples. One review per line."""
  import random  # pylint: disable=g-import-not-at-top
  rng = random.Random(seed)
  files = {label: sorted(os.listdir(os.path.join(long_texts.IMDB, label)))
           for label in ("pos", "neg")}
  for label in files:
    rng.shuffle(files[label])
  with open(path, "w", encoding="utf-8") as out:
    for label in ("pos", "neg"):
      for fname in files[label][skip:skip + n // 2]:
        with open(os.path.join(long_texts.IMDB, label, fname), encoding="utf-8") as f:
          out.write(" ".join(f.read().replace("<br />", " ").split()) + "\n")
  return path


def pretrain(paths, unlabelled, out, epochs, extra=()):
  argv = [sys.executable, "-m", "bert_tf.cli.pretrain", "--train_file=" + paths["train"],
          "--unlabelled_file=" + unlabelled, "--output_dir=" + out, "--max_seq_length=128",
          "--train_batch_size=32", "--learning_rate=5e-5", "--num_train_epochs=%g" % epochs,
          "--progress=off"] + list(extra)
  proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  if proc.returncode:
    raise SystemExit(proc.stderr[-3000:])
  seconds = float(re.search(r"pretrained \d+ steps \(([\d.]+) s", proc.stdout).group(1))
  with open(os.path.join(out, "eval_results.json")) as f:
    return json.load(f), seconds


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--train", type=int, default=2000)
  parser.add_argument("--test", type=int, default=2000)
  parser.add_argument("--unlabelled", type=int, default=2000)
  parser.add_argument("--mlm_epochs", type=float, default=1)
  parser.add_argument("--epochs", type=float, default=1)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--work", default=None)
  parser.add_argument("--head_warmup_steps", type=int, default=0)
  parser.add_argument("--skip_base", action="store_true", help="only the pretrained row")
  parser.add_argument("--mixed_precision", default=None, help="of the pretraining")
  parser.add_argument("--mlm_only", action="store_true", help="pretraining alone (its speed)")
  args = parser.parse_args()
  work = args.work or tempfile.mkdtemp(prefix="bert_tf-mlm-")
  os.makedirs(work, exist_ok=True)
  paths = long_texts.sample(args.train, args.test, args.seed, work)
  unlabelled = unlabelled_reviews(args.unlabelled, (args.train + args.test) // 2, args.seed,
                                  os.path.join(work, "unlabelled.txt"))
  print("IMDB: %d train / %d test reviews, %d unlabelled; MiniLM, max_seq_length 128" % (
      args.train, args.test, args.unlabelled), flush=True)
  mlm_dir = os.path.join(work, "mlm" + ("-hw%d" % args.head_warmup_steps
                                        if args.head_warmup_steps else "") +
                         ("-" + args.mixed_precision if args.mixed_precision else ""))
  mlm, seconds = pretrain(paths, unlabelled, mlm_dir, args.mlm_epochs,
                          ["--head_warmup_steps=%d" % args.head_warmup_steps] +
                          (["--mixed_precision=" + args.mixed_precision]
                           if args.mixed_precision else []))
  print("pretraining (%s): %d steps in %.0f s; dev masked-LM accuracy %.4f -> %.4f, loss %.3f "
        "-> %.3f" % (args.mixed_precision or "float32", mlm["global_step"], seconds,
                     mlm["initial_masked_lm_accuracy"], mlm["masked_lm_accuracy"],
                     mlm["initial_masked_lm_loss"], mlm["masked_lm_loss"]), flush=True)
  if args.mlm_only:
    return
  print("| start of fine-tuning | test accuracy | fine-tune s / epoch |\n|---|---|---|")
  rows = (("base MiniLM (the peer)", os.path.join(work, "ft0"), []),
          ("after within-task MLM", os.path.join(mlm_dir, "..", os.path.basename(mlm_dir) +
                                                 "-ft"), ["--model=" + mlm_dir]))
  accuracies = []
  for name, out, extra in rows[1:] if args.skip_base else rows:
    accuracy, per_epoch = long_texts.run(paths, out, extra + ["--truncation=head"], args.epochs)
    accuracies.append(accuracy)
    print("| %s | %.4f | %.0f |" % (name, accuracy, per_epoch), flush=True)
  if len(accuracies) == 2:
    print("difference: %+.2f pt (pretraining took %.0f s)" % (
        100 * (accuracies[1] - accuracies[0]), seconds))


if __name__ == "__main__":
  main()
