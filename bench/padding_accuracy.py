"""Does dynamic padding move dev accuracy? SST-2 epochs over several seeds.

  python bench/padding_accuracy.py [--rows 20000] [--seeds 1,2,3] [--variants ...]
                                   [--no_dropout] [--work DIR]

One epoch of SST-2's first --rows rows (batch 32, lr 5e-5, max_seq_length 128, MiniLM) per
variant and seed: `trimmed` (the default: Google's batches, each cut to its longest
example, the padding left skipped by the encoder's token-wise layers; the same math as fixed
padding, padding being masked), `grouped`
(--group_by_length: trimmed batches of similar lengths), `fixed` (Google's 128 padding),
`trimmed_bf16` (trimmed, --mixed_precision=mixed_bfloat16: does bfloat16 move accuracy?).
Prints each run's dev accuracy and train seconds, then mean and spread per variant: a
difference smaller than the spread between seeds is noise, not an effect.

Dropout masks are keyed by (example, position), so on one seed trimmed and fixed batches
drop the same elements and should reach the same dev accuracy (before 2026-12-02 they were
drawn in the batch's shape, and differed as a new seed would). --no_dropout trains without
dropout (encoder and head): then nothing random is left but the data order.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_all  # pylint: disable=wrong-import-position
from bert_tf import pretrained  # pylint: disable=wrong-import-position

VARIANTS = {"trimmed": ["--group_by_length=false"], "grouped": ["--group_by_length=true"],
            "fixed": ["--dynamic_padding=false"],
            "trimmed_bf16": ["--group_by_length=false", "--mixed_precision=mixed_bfloat16"]}


def no_dropout_flags(work):
  """Flags that train the embedded model with every dropout rate at 0."""
  model = pretrained.resolve(pretrained.DEFAULT_MODEL)
  with open(os.path.join(model, "bert_config.json"), encoding="utf-8") as f:
    config = json.load(f)
  config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
  path = os.path.join(work, "bert_config_no_dropout.json")
  with open(path, "w", encoding="utf-8") as f:
    json.dump(config, f, indent=2)
  return ["--bert_config_file=" + path, "--head_dropout=0"]


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rows", type=int, default=20000)
  parser.add_argument("--seeds", default="1,2,3")
  parser.add_argument("--variants", default="trimmed,grouped,fixed")
  parser.add_argument("--no_dropout", action="store_true")
  parser.add_argument("--work", default=None)
  args = parser.parse_args()
  work = args.work or tempfile.mkdtemp(prefix="bert_tf-padding-")
  os.makedirs(work, exist_ok=True)
  extra = no_dropout_flags(work) if args.no_dropout else []
  suffix = "_no_dropout" if args.no_dropout else ""
  print("\n".join("%s: %s" % kv for kv in run_all.machine().items()), flush=True)
  results = {}
  for variant in args.variants.split(","):
    for seed in [int(s) for s in args.seeds.split(",")]:
      seconds, accuracy, _, _ = run_all.sst2_epoch(
          work, args.rows, "%s%s_seed%d" % (variant, suffix, seed),
          VARIANTS[variant] + extra + ["--seed=%d" % seed])
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
