"""Training throughput and MFU at BERT-base shape on one accelerator: our training step
(the one run_classifier.py runs), random init, mixed_bfloat16 + XLA.

  python bench/gpu_mfu.py                       # BERT-base, seq 128, batch 32..1024
  python bench/gpu_mfu.py --peak_tflops 989     # H100/H200 SXM dense bf16 (the default)
  python bench/gpu_mfu.py --tiny                # a 2-layer shape: checks the script on a CPU
  python bench/gpu_mfu.py --export_stablehlo DIR # writes the step's XLA programs instead, for
                                                 # bench/gpu_mfu_xla.py on a GPU without TensorFlow

Tries each batch (doubling) until one does not fit, timing --steps steps of each. MFU =
model FLOPs per second / --peak_tflops, counting per token, forward and backward:
6 x (non-embedding parameters) + 12 x layers x hidden x seq (attention scores and mixing).
"""

import argparse
import json
import os
import re
import sys
import time

import numpy as np
import tensorflow as tf
import tf_keras as keras

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bert_tf import modeling  # noqa: E402
from bert_tf.config import BertConfig  # noqa: E402
from bert_tf import training  # noqa: E402
from gpu_mfu_xla import check_values  # noqa: E402
from train_speed import our_train_loop, our_train_parts  # noqa: E402

BASE = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
            attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2,
            initializer_range=0.02)
TINY = dict(BASE, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=128)


def flops_per_example(config, seq):
  """Forward and backward FLOPs of one example: 6 per parameter of the encoder's layers per
  token, attention scores and mixing (every position), and the pooler (one token)."""
  h, layers, inter = config["hidden_size"], config["num_hidden_layers"], config["intermediate_size"]
  encoder = layers * (4 * h * h + 2 * h * inter)
  return seq * (6 * encoder + 12 * layers * h * seq) + 6 * h * h


def train_step_rate(config, batch, seq, steps, xla):
  """Examples/s of `steps` training steps at [batch, seq] (raises ResourceExhaustedError)."""
  keras.backend.clear_session()
  # Every position of every layer (not create_classifier's first_token_only), so that the
  # device computes all of flops_per_example.
  _, loop = our_train_loop(modeling.build_encoder(BertConfig.from_dict(config)), batch, seq,
                           use_xla=xla)
  iterator = iter(tf.data.Dataset.from_tensors(_random_batch(config, batch, seq)).repeat())
  loop(iterator, tf.constant(2)).numpy()  # compile and warm up
  start = time.perf_counter()
  loop(iterator, tf.constant(steps)).numpy()
  return steps * batch / (time.perf_counter() - start)


def _random_batch(config, batch, seq, seed=0, padded=False):
  """(features, labels, weights) as numpy; `padded` masks a random tail of each row."""
  rng = np.random.default_rng(seed)
  ids = rng.integers(1000, config["vocab_size"], (batch, seq)).astype(np.int32)
  mask = np.ones_like(ids)
  types = np.zeros_like(ids)
  if padded:
    for row, length in enumerate(rng.integers(seq // 4, seq + 1, batch)):
      mask[row, length:] = 0
      types[row, length // 2:length] = 1
  return (dict(input_word_ids=ids, input_mask=mask, input_type_ids=types),
          rng.integers(0, 2, batch).astype(np.int64), np.ones(batch, np.float32))


BATCH_ARGS = ("features", "labels", "weights")  # forward_backward's arguments


def _paths(structure, prefix=""):
  """`structure` with each leaf replaced by its path ("features/input_mask")."""
  if isinstance(structure, dict):
    return {k: _paths(v, prefix + k + "/") for k, v in structure.items()}
  if isinstance(structure, (list, tuple)):
    return type(structure)(_paths(v, "%s%d/" % (prefix, i)) for i, v in enumerate(structure))
  return prefix.rstrip("/")


def _program(function, args, arg_names, variables, path):
  """Writes `function`'s StableHLO (as TensorFlow hands it to XLA) to `path`. Returns its
  parameters in order (the flattened args, named from `arg_names`, then the variables it
  captures), those variables, and [output, parameter] pairs of the variables it updates."""
  text = function.experimental_get_compiler_ir(*args)(stage="stablehlo")
  # TensorFlow marks each updated variable's result with an mhlo.copy, which newer XLA
  # front ends refuse (JAX 0.11: "failed to legalize operation 'mhlo.copy'"); a copy is an
  # identity, which stablehlo.convert to the same type also is.
  text = re.sub(r"mhlo\.copy (%[\w#]+) : (tensor<[^>]*>)", r"stablehlo.convert \1 : (\2) -> \2",
                text)
  with open(path, "w") as f:
    f.write(text)
  aliases = [[int(o), int(p)] for p, o in re.findall(
      r"parameter_number = (\d+) : i64\}, output_index = array<i64: (\d+)>", text)]
  paths = tuple(_paths(a, name + "/") for name, a in zip(arg_names, args))
  params = [dict(role="input", name=name, shape=list(np.shape(a)), dtype=np.asarray(a).dtype.name)
            for name, a in zip(tf.nest.flatten(paths), tf.nest.flatten(args))]
  by_handle = {id(v.handle): v for v in variables}
  captured = []
  for handle in function.get_concrete_function(*args).captured_inputs:
    if id(handle) not in by_handle:
      raise ValueError("%s captures %s, which is not among the variables given" % (path, handle))
    captured.append(by_handle[id(handle)])
  params += [dict(role="variable", name=v.name, shape=v.shape.as_list(), dtype=v.dtype.name)
             for v in captured]
  return params, captured, aliases


def _forward_backward(config, batch, seq, head_dropout=0.1):
  """run_classifier.py's compiled forward-backward on a new classifier, its variables (the
  loss scale's too) and its optimizer."""
  keras.backend.clear_session()
  model, optimizer, job = our_train_parts(modeling.build_encoder(BertConfig.from_dict(config)),
                                          batch, seq, use_xla=True, head_dropout=head_dropout)
  loss_scale = tf.Variable(1.0)
  return (training.forward_backward_fn(model, optimizer, job, loss_scale),
          model.variables + [loss_scale], optimizer)


def export_stablehlo(config, seq, batches, out_dir, check_batch=8):
  """Writes DIR/manifest.json and one StableHLO program per step function: the compiled
  forward-backward (run_classifier.py's --use_xla cluster) per batch, the optimizer update
  (clip + AdamW, compiled here; run_classifier.py runs it op by op), the largest batch's
  forward-backward without dropout (what its random numbers cost), and check programs
  (dropout off) with TensorFlow's own results for them, computed without XLA."""
  os.makedirs(out_dir, exist_ok=True)
  manifest = dict(config=config, seq=seq, precision=keras.mixed_precision.global_policy().name,
                  flops_per_example=flops_per_example(config, seq), programs=[])
  def add(name, function, args, arg_names, variables, **extra):
    params, captured, aliases = _program(function, args, arg_names, variables,
                                         os.path.join(out_dir, name + ".mlir"))
    manifest["programs"].append(dict(name=name, file=name + ".mlir", params=params,
                                     aliases=aliases, **extra))
    return params, captured
  no_dropout = dict(config, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
  for batch in batches:
    step, variables, _ = _forward_backward(config, batch, seq)
    add("forward_backward_b%d" % batch, step, _random_batch(config, batch, seq), BATCH_ARGS,
        variables, kind="forward_backward", batch=batch)
  step, variables, optimizer = _forward_backward(no_dropout, max(batches), seq, head_dropout=0.0)
  add("forward_backward_no_dropout_b%d" % max(batches), step,
      _random_batch(config, max(batches), seq), BATCH_ARGS, variables,
      kind="forward_backward_no_dropout", batch=max(batches))
  grads = [tf.zeros_like(optimizer.variables_by_name[n]) for n in optimizer.names]
  update = tf.function(lambda g: optimizer.apply_gradients(optimizer.clip(g)), jit_compile=True)
  add("optimizer", update, (grads,), ("grads",), list(optimizer.variables_by_name.values()) +
      list(optimizer.m.values()) + list(optimizer.v.values()) + [optimizer.iterations],
      kind="optimizer")
  _export_check(config, seq, check_batch, out_dir, add)
  with open(os.path.join(out_dir, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)


def _export_check(config, seq, batch, out_dir, add):
  """Check programs: forward-backward with dropout off on check_values weights, in float32
  and in the bundle's precision, with TensorFlow's loss and gradients for each (graph mode,
  no XLA) as the reference."""
  policy = keras.mixed_precision.global_policy().name
  config = dict(config, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
  for precision in sorted({"float32", policy}):
    keras.mixed_precision.set_global_policy(precision)
    step, variables, optimizer = _forward_backward(config, batch, seq, head_dropout=0.0)
    args = _random_batch(config, batch, seq, seed=1, padded=True)
    name = "check_" + precision
    params, captured = add(name, step, args, BATCH_ARGS, variables,
                           kind="check", batch=batch, precision=precision,
                           reference=name + ".npz")
    first = len(params) - len(captured)
    for seed, (p, var) in enumerate(zip(params[first:], captured), first):
      var.assign(check_values(p["shape"], seed, p["name"]))
    loss, grads = tf.function(step.python_function)(*args)
    small = {"grad:" + n: g.numpy() for n, g in zip(optimizer.names, grads)
             if g.shape.num_elements() <= 4096}
    np.savez(os.path.join(out_dir, name + ".npz"), loss=loss.numpy(),
             names=np.array(optimizer.names), grad_norms=np.array([np.linalg.norm(g) for g in grads]),
             **small, **{"input:%d" % i: a for i, a in enumerate(tf.nest.flatten(args))})
  keras.mixed_precision.set_global_policy(policy)


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
  parser.add_argument("--export_stablehlo", metavar="DIR",
                      help="write the programs for bench/gpu_mfu_xla.py to DIR, time nothing")
  args = parser.parse_args()
  config = TINY if args.tiny else BASE
  if args.precision != "float32":
    keras.mixed_precision.set_global_policy(args.precision)
  if args.export_stablehlo:
    export_stablehlo(config, args.seq, [int(b) for b in args.batches.split(",")],
                     args.export_stablehlo)
    print("wrote %s" % args.export_stablehlo)
    return
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
