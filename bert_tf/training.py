"""Train, evaluate and predict under a tf.distribute strategy, with Google-layout checkpoints.

Checkpoints: `output_dir/model.ckpt-<step>.{index,data-*}` holding `bert/...`,
`output_weights`, `output_bias`, `<var>/adam_m`, `<var>/adam_v` and `global_step`
(the layout of a checkpoint fine-tuned by Google's run_classifier.py), plus the
`checkpoint` index file that tf.train.latest_checkpoint reads. A rerun resumes
from the latest one at the same step, optimizer state and data position.
"""

import dataclasses
import glob
import json
import os
import shutil
import time
import weakref
from typing import Optional

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import checkpoints
from bert_tf import classifier
from bert_tf import distribute
from bert_tf import metrics as metrics_lib
from bert_tf.dataset import make_dataset
from bert_tf.errors import UsageError, write_text_atomic
from bert_tf.optimization import AdamWeightDecay, WarmupLinearDecay, layerwise_multipliers
from bert_tf.progress import progress_bar

TRAINING_STATE_FILE = "training_state.json"
BEST_DIR = "best"


# ============================================================================
# Checkpoints in Google's layout
# ============================================================================
class CheckpointManager:
  """Writes, lists, prunes and restores `model.ckpt-<step>` in output_dir."""

  def __init__(self, output_dir, model_variables, optimizer=None, keep_checkpoint_max=5,
               write=True):
    self.output_dir = output_dir
    self.write = write  # False on multi-worker non-chief workers
    self.model_variables = model_variables    # {checkpoint name: variable}
    self.optimizer = optimizer
    self.keep_checkpoint_max = keep_checkpoint_max

  def _all_variables(self):
    variables = dict(self.model_variables)
    if self.optimizer is not None:
      variables.update(self.optimizer.slot_variable_map())
    return variables

  def prefix(self, step):
    return os.path.join(self.output_dir, "model.ckpt-%d" % step)

  def all_checkpoints(self):
    state = tf.train.get_checkpoint_state(self.output_dir)
    if not state:
      return []
    return [p for p in state.all_model_checkpoint_paths if checkpoints.checkpoint_exists(p)]

  def latest(self):
    found = self.all_checkpoints()
    return found[-1] if found else None

  def save(self, step, protect=()):
    """Writes model.ckpt-<step> (atomically), updates `checkpoint`, prunes old ones."""
    prefix = self.prefix(step)
    if not self.write:
      return prefix
    arrays = {name: var.numpy() for name, var in self._all_variables().items()}
    checkpoints.write_checkpoint(arrays, prefix)
    kept = [p for p in self.all_checkpoints() if p != prefix] + [prefix]
    while len(kept) > self.keep_checkpoint_max:
      victim = next((p for p in kept if p not in protect), None)
      if victim is None or victim == prefix:
        break
      kept.remove(victim)
      for path in glob.glob(victim + ".*"):
        os.remove(path)
    write_checkpoint_index(self.output_dir, prefix, kept)
    return prefix

  def restore(self, path, with_optimizer):
    """Restores model (and optimizer) variables; returns the checkpoint's global_step."""
    variables = self._all_variables() if with_optimizer else dict(self.model_variables)
    checkpoints.restore_variables(variables, path, allow_unused=True)
    stored = checkpoints.list_checkpoint(path)
    if "global_step" in stored:
      return int(tf.train.load_checkpoint(path).get_tensor("global_step"))
    return 0


def write_checkpoint_index(directory, latest, all_paths):
  """Writes the `checkpoint` file (CheckpointState text proto) that
  tf.train.latest_checkpoint and Google's tools read; paths are relative."""
  lines = ['model_checkpoint_path: "%s"\n' % os.path.basename(latest)]
  lines += ['all_model_checkpoint_paths: "%s"\n' % os.path.basename(p) for p in all_paths]
  write_text_atomic(os.path.join(directory, "checkpoint"), "".join(lines))


def resolve_eval_checkpoint(output_dir, requested=None):
  """The checkpoint eval/predict restore: --eval_checkpoint, else best, else latest."""
  if requested:
    if not checkpoints.checkpoint_exists(requested):
      raise UsageError("--eval_checkpoint %s does not exist (no %s.index)." %
                       (requested, requested))
    return requested
  best = tf.train.latest_checkpoint(os.path.join(output_dir, BEST_DIR))
  if best:
    return best
  latest = tf.train.latest_checkpoint(output_dir)
  if not latest:
    raise UsageError("No model.ckpt-N in %s: run with --do_train first, or pass "
                     "--eval_checkpoint." % output_dir)
  return latest


# ============================================================================
# Prediction (shared by eval and predict)
# ============================================================================
@dataclasses.dataclass
class Predictions:
  logits: np.ndarray
  labels: np.ndarray
  is_real: np.ndarray


def predict_logits(model, strategy, dataset):
  """Runs the model over a finite dataset; returns logits, labels and is_real (in order)."""
  dist = strategy.experimental_distribute_dataset(dataset)
  step = _predict_step(model, strategy)
  logits, labels, weights = [], [], []
  for features, y, w in dist:
    out = step(features, y, w)
    logits.append(out[0].numpy())
    labels.append(out[1].numpy())
    weights.append(out[2].numpy())
  if not logits:
    raise UsageError("No examples to evaluate or predict.")
  return Predictions(np.concatenate(logits), np.concatenate(labels), np.concatenate(weights))


_PREDICT_STEPS = weakref.WeakKeyDictionary()  # model -> traced predict step


def _predict_step(model, strategy):
  """One traced predict function per model, reused across evaluations."""
  key = model
  if key not in _PREDICT_STEPS:
    @tf.function(reduce_retracing=True)
    def step(features, labels, weights):
      def replica_fn(features, labels, weights):
        return model(features, training=False), labels, weights
      out = strategy.run(replica_fn, args=(features, labels, weights))
      return tf.nest.map_structure(lambda t: strategy.gather(t, axis=0), out)
    _PREDICT_STEPS[key] = step
  return _PREDICT_STEPS[key]


def probabilities_of(predictions, task_type):
  return classifier.probabilities(tf.constant(predictions.logits), task_type).numpy()


def evaluate(model, strategy, dataset, task_type, label_list, thresholds=None, tune=False):
  """Dev metrics (and, if `tune`, multi-label thresholds tuned on this set)."""
  preds = predict_logits(model, strategy, dataset)
  real = preds.is_real > 0
  probs = probabilities_of(preds, task_type)[real]
  labels = preds.labels[real]
  loss = classifier.per_example_loss(tf.constant(labels), tf.constant(preds.logits[real]),
                                     task_type).numpy()
  if task_type == "multi_label" and tune:
    thresholds = metrics_lib.tune_thresholds(labels, probs)
  results = metrics_lib.compute_metrics(task_type, labels, probs, label_list, thresholds)
  results["loss"] = float(np.mean(loss))
  results["num_examples"] = int(real.sum())
  if thresholds is not None:
    results["thresholds"] = [float(t) for t in thresholds]
  return results


# ============================================================================
# Training
# ============================================================================
@dataclasses.dataclass
class TrainSettings:
  """What the training loop needs from a RunConfig, plus derived step counts."""
  output_dir: str
  train_files: list
  num_train_examples: int
  max_seq_length: int
  task_type: str
  num_labels: int
  train_batch_size: int
  num_train_epochs: float
  learning_rate: float
  warmup_proportion: float
  weight_decay: float = 0.01
  clip_norm: float = 1.0
  adam_bias_correction: bool = False
  layerwise_lr_decay: float = 1.0
  num_layers: int = 12
  save_checkpoints_steps: int = 1000
  iterations_per_loop: int = 1000
  keep_checkpoint_max: int = 5
  log_every_steps: int = 50
  eval_every_steps: int = 0
  early_stopping_patience: int = 0
  best_metric: Optional[str] = None
  seed: int = 12345
  dynamic_padding: bool = True
  drop_remainder: bool = False
  use_xla: bool = False
  float16_loss_scale: bool = False
  class_weights: Optional[list] = None   # single-label: loss weight per class id

  @property
  def num_train_steps(self):
    # Google: int(len(train_examples) / train_batch_size * num_train_epochs).
    return max(int(self.num_train_examples / self.train_batch_size * self.num_train_epochs), 1)

  @property
  def num_warmup_steps(self):
    return int(self.num_train_steps * self.warmup_proportion)

  @property
  def steps_per_epoch(self):
    return max(self.num_train_examples // self.train_batch_size, 1)


def train(model, model_variables, strategy, settings, evaluate_fn=None, init_fn=None):
  """Fine-tunes `model`; resumes from the latest checkpoint in output_dir if any.

  `model_variables` is {checkpoint name: variable} of the model. `evaluate_fn()`
  returns dev metrics (for --eval_every_steps, best checkpoint, early stopping);
  `init_fn()` loads the pretrained weights and runs only on a fresh start.
  Returns a summary dict (global_step, loss, examples/s, best metric).
  """
  s = settings
  trainable = {n: v for n, v in model_variables.items()
               if any(v is t for t in model.trainable_variables)}
  with strategy.scope():
    optimizer = AdamWeightDecay(
        trainable, WarmupLinearDecay(s.learning_rate, s.num_train_steps, s.num_warmup_steps),
        weight_decay_rate=s.weight_decay, clip_norm=s.clip_norm,
        bias_correction=s.adam_bias_correction,
        lr_multipliers=layerwise_multipliers(trainable, s.num_layers, s.layerwise_lr_decay))
    loss_scale = tf.Variable(2.0 ** 15 if s.float16_loss_scale else 1.0, trainable=False,
                             name="loss_scale",
                             aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
  manager = CheckpointManager(s.output_dir, model_variables, optimizer, s.keep_checkpoint_max,
                              write=distribute.is_chief(strategy))
  state = _load_training_state(s.output_dir)
  latest = manager.latest()
  if latest:
    start_step = manager.restore(latest, with_optimizer=True)
    logging.info("Resuming from %s at step %d of %d.", latest, start_step, s.num_train_steps)
  else:
    start_step = 0
    if init_fn is not None:
      init_fn()
  if start_step >= s.num_train_steps or state.get("stopped_early_at") == start_step:
    logging.info("Training already finished at step %d.", start_step)
    return dict(global_step=start_step, resumed_from=start_step, **state)

  dataset = make_dataset(s.train_files, s.max_seq_length, s.train_batch_size, is_training=True,
                         task_type=s.task_type, num_labels=s.num_labels,
                         drop_remainder=s.drop_remainder, dynamic_padding=s.dynamic_padding,
                         seed=s.seed)
  # The data order is a function of the seed: skipping the steps already taken
  # puts a resumed run at the same data position.
  dataset = dataset.skip(start_step)
  iterator = iter(strategy.experimental_distribute_dataset(dataset))
  train_loop = _make_train_loop(model, optimizer, strategy, s, loss_scale)
  writer = tf.summary.create_file_writer(os.path.join(s.output_dir, "train"))

  step = start_step
  eval_every = s.eval_every_steps or (s.steps_per_epoch if s.early_stopping_patience else 0)
  boundaries = [b for b in (s.iterations_per_loop, s.log_every_steps, s.save_checkpoints_steps,
                            eval_every) if b]
  progress = progress_bar(s.num_train_steps, "step", min_total=0)
  if progress is not None and step:
    progress.update(step)
  started, examples_seen, last_loss = time.time(), 0, float("nan")
  best_name = s.best_metric or "accuracy"
  while step < s.num_train_steps:
    # Run until the next log/checkpoint/eval boundary, in one tf.function call.
    next_stop = min([s.num_train_steps] + [(step // b + 1) * b for b in boundaries])
    n = next_stop - step
    last_loss = float(train_loop(iterator, tf.constant(n, tf.int32)))
    step = next_stop
    examples_seen += n * s.train_batch_size
    if progress is not None:
      progress.update(step, values=[("loss", last_loss)])
    if step % s.log_every_steps == 0 or step == s.num_train_steps:
      record = dict(step=step, loss=last_loss, learning_rate=float(optimizer.learning_rate()),
                    examples_per_second=examples_seen / (time.time() - started))
      logging.info("step %(step)d: loss %(loss).4f, lr %(learning_rate).3g, "
                   "%(examples_per_second).1f examples/s", record)
      with open(os.path.join(s.output_dir, "train_history.jsonl"), "a") as f:
        f.write(json.dumps(record) + "\n")
    with writer.as_default(step=step):
      tf.summary.scalar("loss", last_loss)
      tf.summary.scalar("learning_rate", optimizer.learning_rate())
      tf.summary.scalar("examples_per_second", examples_seen / (time.time() - started))
    if not np.isfinite(last_loss) and not s.float16_loss_scale:
      raise FloatingPointError("Training loss became %s at step %d; lower --learning_rate." %
                               (last_loss, step))
    evaluated = False
    if eval_every and evaluate_fn is not None and (step % eval_every == 0 or
                                                   step == s.num_train_steps):
      results = evaluate_fn()
      evaluated = True
      _log_eval(s.output_dir, step, results)
      value = results.get(best_name)
      improved = value is not None and (state.get("best_value") is None or
                                        value > state["best_value"])
      if improved:
        state.update(best_value=value, best_step=step, best_metric=best_name,
                     evaluations_without_improvement=0)
      else:
        state["evaluations_without_improvement"] = state.get(
            "evaluations_without_improvement", 0) + 1
    if step % s.save_checkpoints_steps == 0 or step == s.num_train_steps or evaluated:
      prefix = manager.save(step, protect=_protected(s.output_dir, state))
      if evaluated and state.get("best_step") == step:
        _copy_best(prefix, s.output_dir)
      _save_training_state(s.output_dir, state)
    if (s.early_stopping_patience and
        state.get("evaluations_without_improvement", 0) >= s.early_stopping_patience):
      logging.info("Early stopping at step %d: no %s improvement in %d evaluations (best %s at "
                   "step %s).", step, best_name, s.early_stopping_patience,
                   state.get("best_value"), state.get("best_step"))
      state["stopped_early_at"] = step
      if step % s.save_checkpoints_steps:
        manager.save(step, protect=_protected(s.output_dir, state))
      _save_training_state(s.output_dir, state)
      break
  elapsed = time.time() - started
  return dict(global_step=step, resumed_from=start_step, loss=last_loss,
              train_seconds=elapsed, examples_per_second=examples_seen / max(elapsed, 1e-9),
              **state)


def _make_train_loop(model, optimizer, strategy, s, loss_scale):
  variables = [optimizer.variables_by_name[n] for n in optimizer.names]

  def forward_backward(features, labels, weights):
    with tf.GradientTape() as tape:
      logits = model(features, training=True)
      per_example = classifier.per_example_loss(labels, logits, s.task_type)
      if s.class_weights:
        per_example *= tf.gather(tf.constant(s.class_weights, tf.float32),
                                 tf.cast(labels, tf.int32))
      loss = tf.reduce_sum(per_example * weights) / s.train_batch_size
      scaled = loss * loss_scale if s.float16_loss_scale else loss
    grads = tape.gradient(scaled, variables)
    return loss, [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
                  for g, v in zip(grads, variables)]

  if s.use_xla:  # compile the model's math; the loop and all-reduce stay outside
    forward_backward = tf.function(forward_backward, jit_compile=True, reduce_retracing=True)

  def replica_step(features, labels, weights):
    loss, grads = forward_backward(features, labels, weights)
    context = tf.distribute.get_replica_context()
    grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
    if s.float16_loss_scale:
      grads = [g / loss_scale for g in grads]
      finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])
      # A step with overflowing gradients changes nothing but the scale.
      grads = [tf.where(finite, g, tf.zeros_like(g)) for g in grads]
      context.merge_call(lambda _, ok: _update_loss_scale(loss_scale, ok), args=(finite,))
    grads = optimizer.clip(grads)
    context.merge_call(lambda _, g: optimizer.apply_gradients(g), args=(grads,))
    return loss

  def loop(iterator, steps):
    total = tf.constant(0.0)
    for _ in tf.range(steps):
      per_replica = strategy.run(replica_step, args=next(iterator))
      total += strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
    return total / tf.cast(steps, tf.float32)

  return tf.function(loop)


def _update_loss_scale(loss_scale, finite):
  finite = tf.distribute.get_strategy().experimental_local_results(finite)[0]
  loss_scale.assign(tf.where(finite, loss_scale, tf.maximum(loss_scale / 2.0, 1.0)))


def _protected(output_dir, state):
  best = state.get("best_step")
  return (os.path.join(output_dir, "model.ckpt-%d" % best),) if best is not None else ()


def _copy_best(prefix, output_dir):
  """Keeps a copy of the best checkpoint in output_dir/best/ (with its own index)."""
  best_dir = os.path.join(output_dir, BEST_DIR)
  tmp_dir = best_dir + ".tmp"
  shutil.rmtree(tmp_dir, ignore_errors=True)
  os.makedirs(tmp_dir)
  for path in glob.glob(prefix + ".*"):
    shutil.copy2(path, tmp_dir)
  write_checkpoint_index(tmp_dir, prefix, [prefix])
  shutil.rmtree(best_dir, ignore_errors=True)
  os.replace(tmp_dir, best_dir)


def _log_eval(output_dir, step, results):
  scalars = {k: v for k, v in results.items() if isinstance(v, (int, float))}
  logging.info("Eval at step %d: %s", step,
               ", ".join("%s=%.4f" % (k, v) for k, v in sorted(scalars.items())))
  writer = tf.summary.create_file_writer(os.path.join(output_dir, "eval"))
  with writer.as_default(step=step):
    for key, value in scalars.items():
      tf.summary.scalar(key, value)
  writer.flush()
  with open(os.path.join(output_dir, "eval_history.jsonl"), "a") as f:
    f.write(json.dumps(dict(step=step, **scalars)) + "\n")


def _load_training_state(output_dir):
  try:
    with open(os.path.join(output_dir, TRAINING_STATE_FILE)) as f:
      return json.load(f)
  except (OSError, ValueError):
    return {}


def _save_training_state(output_dir, state):
  write_text_atomic(os.path.join(output_dir, TRAINING_STATE_FILE), json.dumps(state, indent=1))
