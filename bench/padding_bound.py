"""How much faster can dynamic padding make an SST-2 epoch? A training step's time against
its sequence length, and the lengths of SST-2's trimmed batches.

  python bench/padding_bound.py [--rows 5000] [--lengths 16,32,64,96,128] [--steps 6]
                                [--train_tsv ../shared/data/glue/SST-2/train.tsv]

Times our training step (MiniLM + 2-class head, batch 32, fp32, the loop run_classifier.py
runs) at each length, and fits ms = a + b*L + c*L^2: `a` is what a step costs whatever its
length (the optimizer's pass over all 22.7M weights and their Adam moments, and the
embedding gradient). Then it cuts SST-2's first --rows rows into random batches of 32 (3
shuffles), as the default training does, and predicts the epoch's time with each batch
trimmed to its longest example, against every batch at 128. The last line is the same
ratio with `a` taken out: what dynamic padding could give if a step cost nothing but its
tokens. Ours alone: this is a profile, not a comparison with a peer.

It models trimming alone: what --dynamic_padding did before 2026-12-02, and still does with
--use_xla. By default the encoder now also skips the padding left in a trimmed batch (its
token-wise layers run on real tokens), which this model does not see: bench/padding_accuracy.py
times whole epochs as they are trained.
"""

import argparse
import os
import sys
import time

import numpy as np
import tensorflow as tf

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCH))
sys.path.insert(0, BENCH)

from bert_tf import modeling, pretrained, tokenization  # noqa: E402
from train_speed import as_dataset, batches, our_train_loop  # noqa: E402

SST2_TRAIN = os.path.join(BENCH, "..", "..", "shared", "data", "glue", "SST-2", "train.tsv")


def step_ms(encoder, seq, steps):
  _, loop = our_train_loop(encoder, 32, seq)
  iterator = iter(as_dataset(batches(steps + 2, 32, seq))[1])
  loop(iterator, tf.constant(2))  # trace and warm up
  start = time.perf_counter()
  loop(iterator, tf.constant(steps))
  return 1000.0 * (time.perf_counter() - start) / steps


def sst2_lengths(path, rows, model_dir):
  files = pretrained.model_files(model_dir)  # the vocab and the model's own casing
  tokenizer = tokenization.FullTokenizer(files.vocab_file, files.do_lower_case)
  with open(path, encoding="utf-8") as f:
    texts = [line.split("\t")[0] for line in f.read().splitlines()[1:rows + 1]]
  return np.array([min(len(tokenizer.tokenize(t)) + 2, 128) for t in texts])


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--rows", type=int, default=5000)
  parser.add_argument("--lengths", default="16,32,64,96,128")
  parser.add_argument("--steps", type=int, default=6)
  parser.add_argument("--train_tsv", default=SST2_TRAIN, help="SST-2's layout: sentence<TAB>label")
  args = parser.parse_args()
  model_dir = pretrained.resolve(pretrained.DEFAULT_MODEL)
  encoder = modeling.load_encoder(model_dir, first_token_only=True)
  lengths = [int(x) for x in args.lengths.split(",")]
  measured = []
  for seq in lengths:
    measured.append(step_ms(encoder, seq, args.steps))
    print("length %3d: %7.1f ms per step of 32" % (seq, measured[-1]), flush=True)
  c, b, a = np.polyfit(lengths, measured, 2)
  cost = lambda L: a + b * L + c * L * L
  print("fit: ms = %.1f + %.2f L + %.4f L^2" % (a, b, c))
  tokens = sst2_lengths(args.train_tsv, args.rows, model_dir)
  rng = np.random.default_rng(0)
  for shuffle in range(3):
    order = rng.permutation(len(tokens))
    longest = np.array([tokens[order[i:i + 32]].max() for i in range(0, len(tokens), 32)])
    trimmed, fixed = cost(longest).sum(), cost(128) * len(longest)
    print("shuffle %d: %d batches, longest example per batch %.1f tokens on average; predicted "
          "epoch %.0f s trimmed vs %.0f s fixed: %.2fx; without the per-step %.0f ms: %.2fx" % (
              shuffle, len(longest), longest.mean(), trimmed / 1000, fixed / 1000,
              fixed / trimmed, a, (fixed - a * len(longest)) / (trimmed - a * len(longest))))


if __name__ == "__main__":
  main()
