"""Training throughput and MFU at BERT-base shape on one accelerator: our training step
(the one run_classifier.py runs), random init, mixed_bfloat16 + XLA.

  python bench/gpu_mfu.py                       # BERT-base, seq 128, batch 32..1024
  python bench/gpu_mfu.py --peak_tflops 989     # H100/H200 SXM dense bf16 (the default)
  python bench/gpu_mfu.py --tiny                # a 2-layer shape: checks the script on a CPU

Tries each batch (doubling) until one does not fit, timing --steps steps of each. MFU =
model FLOPs per second / --peak_tflops, counting per token, forward and backward:
6 x (non-embedding parameters) + 12 x layers x hidden x seq (attention scores and mixing).
"""

import argparse
import os
import sys
import time

import numpy as np
import tensorflow as tf
import tf_keras as keras

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bert_tf import modeling  # noqa: E402
from bert_tf.config import BertConfig  # noqa: E402
from train_speed import our_train_loop  # noqa: E402

BASE = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
            attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2,
            initializer_range=0.02)
TINY = dict(BASE, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=128)


def flops_per_example(config, seq):
  h, layers, inter = config["hidden_size"], config["num_hidden_layers"], config["intermediate_size"]
  non_embedding = layers * (4 * h * h + 2 * h * inter) + h * h  # + pooler
  return seq * (6 * non_embedding + 12 * layers * h * seq)


def train_step_rate(config, batch, seq, steps, xla):
  """Examples/s of `steps` training steps at [batch, seq] (raises ResourceExhaustedError)."""
  keras.backend.clear_session()
  # Every position of every layer (not create_classifier's first_token_only), so that the
  # device computes all of flops_per_example.
  _, loop = our_train_loop(modeling.build_encoder(BertConfig.from_dict(config)), batch, seq,
                           use_xla=xla)
  rng = np.random.default_rng(0)
  ids = rng.integers(1000, config["vocab_size"], (batch, seq)).astype(np.int32)
  features = dict(input_word_ids=ids, input_mask=np.ones_like(ids),
                  input_type_ids=np.zeros_like(ids))
  data = tf.data.Dataset.from_tensors(
      (features, rng.integers(0, 2, batch), np.ones(batch, np.float32))).repeat()
  iterator = iter(data)
  loop(iterator, tf.constant(2)).numpy()  # compile and warm up
  start = time.perf_counter()
  loop(iterator, tf.constant(steps)).numpy()
  return steps * batch / (time.perf_counter() - start)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--seq", type=int, default=128)
  parser.add_argument("--batches", default="32,64,128,256,512,1024")
  parser.add_argument("--steps", type=int, default=20)
  parser.add_argument("--peak_tflops", type=float, default=989.0,
                      help="the device's dense bf16 peak (H100/H200 SXM: 989)")
  parser.add_argument("--precision", default="mixed_bfloat16")
  parser.add_argument("--no_xla", action="store_true")
  parser.add_argument("--tiny", action="store_true")
  args = parser.parse_args()
  config = TINY if args.tiny else BASE
  if args.precision != "float32":
    keras.mixed_precision.set_global_policy(args.precision)
  devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
  print("device: %s; shape: %d layers, hidden %d, seq %d; %s%s" % (
      devices[0].name, config["num_hidden_layers"], config["hidden_size"], args.seq,
      args.precision, "" if args.no_xla else " + XLA"), flush=True)
  best = None
  for batch in [int(b) for b in args.batches.split(",")]:
    try:
      rate = train_step_rate(config, batch, args.seq, args.steps, not args.no_xla)
    except (tf.errors.ResourceExhaustedError, tf.errors.InternalError) as e:
      print("batch %d: does not fit (%s)" % (batch, str(e).splitlines()[0][:100]), flush=True)
      break
    tflops = rate * flops_per_example(config, args.seq) / 1e12
    print("batch %5d: %9.1f examples/s  %7.1f model TFLOP/s  MFU %5.1f%%" % (
        batch, rate, tflops, 100 * tflops / args.peak_tflops), flush=True)
    best = (batch, rate, tflops) if best is None or rate > best[1] else best
  if best:
    print("best: batch %d, %.1f examples/s, MFU %.1f%% of %.0f TFLOP/s" % (
        best[0], best[1], 100 * best[2] / args.peak_tflops, args.peak_tflops))


if __name__ == "__main__":
  main()
