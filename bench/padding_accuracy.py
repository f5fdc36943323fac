"""Does dynamic padding move dev accuracy? SST-2 epochs over several seeds.

  python bench/padding_accuracy.py [--rows 20000] [--seeds 1,2,3] [--variants ...] [--work DIR]

One epoch of SST-2's first --rows rows (batch 32, lr 5e-5, max_seq_length 128, MiniLM) per
variant and seed: `grouped` (the default: trimmed batches of similar lengths), `trimmed`
(--group_by_length=false: Google's batches, each cut to its longest example; the same
math as fixed padding, padding being masked), `fixed` (Google's 128 padding). Prints each
run's dev accuracy and train seconds, then mean and spread per variant: a difference
smaller than the spread between seeds is noise, not an effect.
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_all  # pylint: disable=wrong-import-position

VARIANTS = {"grouped": [], "trimmed": ["--group_by_length=false"],
            "fixed": ["--dynamic_padding=false"]}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rows", type=int, default=20000)
  parser.add_argument("--seeds", default="1,2,3")
  parser.add_argument("--variants", default="grouped,trimmed")
  parser.add_argument("--work", default=None)
  args = parser.parse_args()
  work = args.work or tempfile.mkdtemp(prefix="bert_tf-padding-")
  print("\n".join("%s: %s" % kv for kv in run_all.machine().items()), flush=True)
  results = {}
  for variant in args.variants.split(","):
    for seed in [int(s) for s in args.seeds.split(",")]:
      seconds, accuracy, _, _ = run_all.sst2_epoch(
          work, args.rows, "%s_seed%d" % (variant, seed), VARIANTS[variant] + ["--seed=%d" % seed])
      results.setdefault(variant, []).append((accuracy, seconds))
      print("%s seed %d: dev accuracy %.4f, %.0f s" % (variant, seed, accuracy, seconds),
            flush=True)
  print("| variant | dev accuracy mean | sd | min / max | train s (mean) |\n|---|---|---|---|---|")
  for variant, rows in results.items():
    accuracies = [a for a, _ in rows]
    print("| %s | %.4f | %.4f | %.4f / %.4f | %.0f |" % (
        variant, statistics.mean(accuracies),
        statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0, min(accuracies),
        max(accuracies), statistics.mean(s for _, s in rows)))


if __name__ == "__main__":
  main()
