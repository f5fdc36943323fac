"""Where a training step's time goes, by TensorFlow op type: MiniLM + 2-class head, 32 x 128.

  python bench/op_profile.py [--precision float32|mixed_bfloat16|bfloat16] [--inference]
                             [--top 20] [--by op|part]

Builds the classifier in graph mode and runs forward + backward (or the forward pass
alone) with a full trace; sums each op type's time over 3 traced steps. `--by part` sums
by part of a layer instead (e.g. "intermediate" is the FFN's first matmul and its
activation; "grad: intermediate" their gradients), over all layers. Ops run two at a
time on 2 cores, so the op times add up to more than the wall time: read the shares,
not the sum. The weights are random (speed does not depend on them). bfloat16 (weights
too) is how the Predictor's dtype=bfloat16 computes: profile it with --inference.
"""

import argparse
import collections
import json
import os
import re
import sys
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bert_tf import classifier, modeling, pretrained  # noqa: E402
from bert_tf.config import BertConfig  # noqa: E402


def op_type(node):
  label = node.timeline_label
  return label.split("= ")[-1].split("(")[0] if "= " in label else node.node_name


_CONTAINERS = ("gradients", "bert_classifier", "bert_encoder", "transformer_layer")


def layer_part(node):
  """'grad: query' for any layer's query projection's gradient ops, and so on."""
  scopes = re.sub(r"_\d+(?=/|$)", "", node.node_name).split("/")
  part = [s for s in scopes[:-1] if s not in _CONTAINERS]
  return ("grad: " if scopes[0] == "gradients" else "") + (part[0] if part else scopes[-1])


def traced_op_times(fetches, steps, key=op_type):
  """({key(node): [total microseconds, count]}, [wall seconds]) over `steps` traced runs."""
  session = tf.compat.v1.Session()
  session.run(tf.compat.v1.global_variables_initializer())
  for _ in range(2):  # warm up
    session.run(fetches)
  options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
  times, walls = collections.defaultdict(lambda: [0, 0]), []
  for _ in range(steps):
    metadata = tf.compat.v1.RunMetadata()
    start = time.perf_counter()
    session.run(fetches, options=options, run_metadata=metadata)
    walls.append(time.perf_counter() - start)
    for device in metadata.step_stats.dev_stats:
      for node in device.node_stats:
        total = times[key(node)]
        total[0] += node.op_end_rel_micros
        total[1] += 1
  return times, walls


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--precision", default="float32",
                      choices=["float32", "mixed_bfloat16", "bfloat16"])
  parser.add_argument("--inference", action="store_true", help="the forward pass alone")
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--seq", type=int, default=128)
  parser.add_argument("--steps", type=int, default=3)
  parser.add_argument("--top", type=int, default=20)
  parser.add_argument("--by", default="op", choices=["op", "part"],
                      help="sum by op type, or by part of a layer over all layers")
  args = parser.parse_args()
  tf.compat.v1.disable_eager_execution()
  import tf_keras as keras  # pylint: disable=g-import-not-at-top
  keras.mixed_precision.set_global_policy(args.precision)
  with open(os.path.join(pretrained.resolve(pretrained.DEFAULT_MODEL), "bert_config.json")) as f:
    config = BertConfig.from_dict(json.load(f))
  # As create_classifier builds it: the last layer computes [CLS] alone.
  model = classifier.build_classifier(modeling.build_encoder(config, first_token_only=True), 2)
  rng = np.random.default_rng(0)
  ids = rng.integers(1000, config.vocab_size, (args.batch, args.seq)).astype(np.int32)
  features = dict(input_word_ids=tf.constant(ids), input_mask=tf.ones_like(ids),
                  input_type_ids=tf.zeros_like(ids))
  labels = tf.constant(rng.integers(0, 2, args.batch))
  logits = tf.cast(model(features, training=not args.inference), tf.float32)
  loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
  fetches = [loss] if args.inference else [loss] + tf.gradients(loss, model.trainable_variables)
  times, walls = traced_op_times(fetches, args.steps, op_type if args.by == "op" else layer_part)
  total = sum(t for t, _ in times.values())
  print("%s, %s, %d x %d: wall %s ms per step (traced)" % (
      "forward" if args.inference else "forward + backward", args.precision, args.batch,
      args.seq, ", ".join("%.0f" % (1000 * w) for w in walls)))
  print("%-36s %10s %7s %6s" % ("op type" if args.by == "op" else "part", "ms/step", "share",
                                "ops"))
  for op, (micros, count) in sorted(times.items(), key=lambda kv: -kv[1][0])[:args.top]:
    print("%-36s %10.1f %6.1f%% %6d" % (op, micros / 1000 / args.steps, 100 * micros / total,
                                        count // args.steps))


if __name__ == "__main__":
  main()
