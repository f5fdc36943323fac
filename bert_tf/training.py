"""Train, evaluate and predict under a tf.distribute strategy, with Google-layout checkpoints.

Checkpoints: `output_dir/model.ckpt-<step>.{index,data-*}` holding `bert/...`,
`output_weights`, `output_bias`, `<var>/adam_m`, `<var>/adam_v` and `global_step`
(the layout of a checkpoint fine-tuned by Google's run_classifier.py), plus the
`checkpoint` index file that tf.train.latest_checkpoint reads. A rerun resumes
from the latest one at the same step, optimizer state and data position.
"""

import dataclasses
import os
import time
import weakref

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import checkpoints
from bert_tf import distribute
from bert_tf import modeling
from bert_tf import run_dir
from bert_tf.dataset import make_dataset
from bert_tf.errors import UsageError, interrupts_deferred
from bert_tf.metrics import LOWER_IS_BETTER, dev_metric_name
from bert_tf.optimization import AdamWeightDecay, WarmupLinearDecay, layerwise_multipliers
from bert_tf.progress import progress_bar


# ============================================================================
# Checkpoints in Google's layout
# ============================================================================
SLOT_SUFFIXES = ("/adam_m", "/adam_v")


def step_of(path):
  """A checkpoint's global_step (from the tensor, else from the name model.ckpt-N)."""
  if "global_step" in checkpoints.list_checkpoint(path):
    return int(tf.train.load_checkpoint(path).get_tensor("global_step"))
  return run_dir.checkpoint_step(path) or 0


class CheckpointManager:
  """Writes, lists, prunes and restores `model.ckpt-<step>` in the run directory."""

  def __init__(self, run, model_variables, optimizer=None, keep_checkpoint_max=5, write=True):
    self.run = run
    self.write = write  # False on multi-worker non-chief workers
    self.model_variables = model_variables    # {checkpoint name: variable}
    self.optimizer = optimizer
    self.keep_checkpoint_max = keep_checkpoint_max

  def _all_variables(self):
    variables = dict(self.model_variables)
    if self.optimizer is not None:
      variables.update(self.optimizer.slot_variable_map())
    return variables

  def latest(self):
    return self.run.latest_checkpoint()

  def save(self, step, protect=(), training_state=None):
    """Writes model.ckpt-<step> (atomically) and the `training_state` that goes with it,
    updates `checkpoint`, which makes it the latest, then deletes the checkpoints past
    keep_checkpoint_max. Ctrl-C meanwhile takes effect once that is done: the checkpoint is
    not lost.

    Weights that are not finite are never written: the last good checkpoint stays.
    """
    prefix = self.run.checkpoint_prefix(step)
    if not self.write:
      return prefix
    with interrupts_deferred():
      self.write_weights(prefix, with_optimizer=True, step=step)
      indexed = self.run.checkpoint_paths()
      kept = [p for p in indexed if p != prefix] + [prefix]
      pruned = []
      while len(kept) > self.keep_checkpoint_max:
        victim = next((p for p in kept if p not in protect), None)
        if victim is None or victim == prefix:
          break
        kept.remove(victim)
        pruned.append(victim)
      if training_state is not None:  # the index's checkpoints keep theirs until it changes
        self.run.save_training_state(training_state, step,
                                     [run_dir.checkpoint_step(p) for p in indexed + kept])
      self.run.write_checkpoint_index(prefix, kept)
      # Deleted once the index no longer names them: a run killed before resumes from them.
      for victim in pruned:
        self.run.remove_checkpoint(victim)
    return prefix

  def write_weights(self, prefix, with_optimizer=False, step=None):
    """A checkpoint at `prefix`: the model's variables (+ Adam slots and global_step)."""
    variables = self._all_variables() if with_optimizer else dict(self.model_variables)
    if self.optimizer is not None:  # the step, also in a weights-only checkpoint
      variables["global_step"] = self.optimizer.iterations
    arrays = {name: var.numpy() for name, var in variables.items()}
    bad = [name for name, a in arrays.items() if a.dtype.kind == "f" and not np.isfinite(a).all()]
    if bad:
      raise UsageError("Training diverged by step %s (%s holds NaN/inf); the last good checkpoint "
                       "is %s. Lower --learning_rate (or leave --mixed_precision=mixed_float16)." %
                       (step, bad[0], self.latest() or "none"))
    checkpoints.write_checkpoint(arrays, prefix)

  def drop_optimizer_state(self):
    """Rewrites the kept checkpoints with the model's weights only (a finished run needs
    no Adam slots: about 1/3 of the size), keeping their global_step. Those already
    rewritten are left as they are: a rewrite that a kill stopped is finished by the rerun."""
    for prefix in self.run.checkpoint_paths():
      reader = tf.train.load_checkpoint(prefix)
      shapes = reader.get_variable_to_shape_map()
      names = [n for n in shapes if not n.endswith(SLOT_SUFFIXES)]
      if len(names) < len(shapes):
        checkpoints.write_checkpoint({n: reader.get_tensor(n) for n in names}, prefix)

  def restore(self, path, with_optimizer):
    """Restores model (and optimizer) variables; returns the checkpoint's global_step."""
    variables = self._all_variables() if with_optimizer else dict(self.model_variables)
    checkpoints.restore_variables(variables, path, allow_unused=True)
    return step_of(path)


# ============================================================================
# Prediction (shared by eval and predict)
# ============================================================================
@dataclasses.dataclass
class Predictions:
  logits: np.ndarray
  labels: np.ndarray
  is_real: np.ndarray


def predict_logits(model, strategy, dataset, num_examples=None):
  """Runs the model over a finite dataset; returns logits, labels and is_real (in order).
  With `num_examples`, a progress bar counts them (on a terminal, for long sets)."""
  dist = strategy.experimental_distribute_dataset(dataset)
  step = _predict_step(model, strategy)
  logits, labels, weights = [], [], []
  progress = progress_bar(num_examples, "example", min_total=2000) if num_examples else None
  for features, y, w in dist:
    out = step(features, y, w)
    logits.append(out[0].numpy())
    labels.append(out[1].numpy())
    weights.append(out[2].numpy())
    if progress is not None:
      progress.add(len(weights[-1]))
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


def predict_probabilities(model, strategy, dataset, task, num_examples=None):
  """The task's probabilities of the real (not TPU-padding) examples, in order."""
  preds = predict_logits(model, strategy, dataset, num_examples)
  return task.probabilities(tf.constant(preds.logits[preds.is_real > 0])).numpy()


def evaluate(model, strategy, dataset, task):
  """The task's dev metrics, loss and example count; also the probabilities and labels."""
  preds = predict_logits(model, strategy, dataset)
  real = preds.is_real > 0
  probs = task.probabilities(tf.constant(preds.logits[real])).numpy()
  if not np.isfinite(probs).all():
    raise UsageError("The model's outputs are not finite (NaN/inf) on %d of %d dev examples: "
                     "the checkpoint diverged; retrain with a lower --learning_rate." % (
                         int((~np.isfinite(probs)).any(axis=-1).sum()), len(probs)))
  labels = preds.labels[real]
  loss = task.per_example_loss(tf.constant(labels), tf.constant(preds.logits[real])).numpy()
  results = task.metrics(labels, probs)
  results["loss"] = float(np.mean(loss))
  results["num_examples"] = int(real.sum())
  return results, probs, labels


# ============================================================================
# Training
# ============================================================================
@dataclasses.dataclass
class TrainJob:
  """One training: the run's options and directory, its task and training records."""
  config: object            # RunConfig (the options are read from it, not copied)
  run: object               # RunDir
  task: object              # tasks.Task
  train_files: list
  num_train_examples: int
  max_seq_length: int
  num_layers: int = 12      # for --layerwise_lr_decay
  fixed_shapes: bool = False  # TPU: full batches, no dynamic padding
  windows: int = 0          # window records per text (long texts), else 0

  @property
  def num_train_steps(self):
    # Google: int(len(train_examples) / train_batch_size * num_train_epochs).
    c = self.config
    return max(int(self.num_train_examples / c.train_batch_size * c.num_train_epochs), 1)

  @property
  def num_warmup_steps(self):
    return int(self.num_train_steps * self.config.warmup_proportion)

  @property
  def steps_per_epoch(self):
    return max(self.num_train_examples // self.config.train_batch_size, 1)

  @property
  def accumulation_steps(self):
    return self.config.gradient_accumulation_steps

  @property
  def micro_batch_size(self):
    """Examples per forward/backward pass: the batch split over accumulation steps."""
    return self.config.train_batch_size // self.accumulation_steps

  @property
  def float16_loss_scale(self):
    return self.config.mixed_precision == "mixed_float16"


def train(model, model_variables, strategy, job, evaluate_fn=None, init_fn=None):
  """Fine-tunes `model`; resumes from the latest checkpoint in the run directory if any.

  `model_variables` is {checkpoint name: variable} of the model. `evaluate_fn()`
  returns dev metrics (for --eval_every_steps, best checkpoint, early stopping);
  `init_fn()` loads the pretrained weights and runs only on a fresh start.
  Returns a summary dict (global_step, loss, examples/s, best metric).
  """
  optimizer, loss_scale = _make_optimizer(model, model_variables, strategy, job)
  manager = CheckpointManager(job.run, model_variables, optimizer, job.config.keep_checkpoint_max,
                              write=distribute.is_chief(strategy))
  state = job.run.read_training_state()
  latest = manager.latest()
  start_step = step_of(latest) if latest else 0
  distribute.check_workers_agree(strategy, start_step, "the step training starts from")
  if start_step >= job.num_train_steps or (latest and state.get("stopped_early_at") == start_step):
    # Finished (its checkpoints may hold no optimizer state any more): nothing to restore.
    logging.warning("%s already holds this training, finished at step %d: nothing to train.",
                    job.run.directory, start_step)
    if not job.config.save_optimizer_state and manager.write:
      manager.drop_optimizer_state()
    return dict(global_step=start_step, resumed_from=start_step, **state)
  if latest:
    manager.restore(latest, with_optimizer=True)
    logging.info("Resuming from %s at step %d of %d.", latest, start_step, job.num_train_steps)
  elif init_fn is not None:
    init_fn()
  if manager.write:
    job.run.truncate_histories(start_step)
  loop = _TrainingLoop(job, manager, optimizer, state, evaluate_fn)
  return loop.run(_make_train_loop(model, optimizer, strategy, job, loss_scale),
                  _train_iterator(job, strategy, start_step), start_step)


def _train_iterator(job, strategy, start_step):
  c = job.config
  dataset = make_dataset(job.train_files, job.max_seq_length, job.micro_batch_size,
                         is_training=True, task=job.task, drop_remainder=job.fixed_shapes,
                         dynamic_padding=c.dynamic_padding and not job.fixed_shapes, seed=c.seed,
                         windows=job.windows, group_by_length=c.group_by_length)
  # The data order is a function of the seed: skipping the micro-batches already taken
  # puts a resumed run at the same data position.
  skipped = start_step * job.accumulation_steps
  return iter(strategy.experimental_distribute_dataset(dataset.skip(skipped)))


class _TrainingLoop:
  """Steps in chunks up to the next log/checkpoint/eval boundary; after each chunk:
  stop on divergence, log, evaluate, checkpoint (and best/), stop early."""

  def __init__(self, job, manager, optimizer, state, evaluate_fn):
    self.job, self.c, self.run_dir = job, job.config, job.run
    self.manager, self.optimizer, self.state = manager, optimizer, state
    self.evaluate_fn = evaluate_fn
    self.best_name = self.c.best_metric or job.task.main_metric
    self.eval_every = self.c.eval_every_steps or (
        job.steps_per_epoch if self.c.early_stopping_patience else 0)
    self.writer = (tf.summary.create_file_writer(job.run.tensorboard_dir("train"))
                   if manager.write else None)

  def run(self, train_loop, iterator, start_step):
    job, c = self.job, self.c
    boundaries = [b for b in (c.iterations_per_loop, c.log_every_steps,
                              c.save_checkpoints_steps, self.eval_every) if b]
    progress = progress_bar(job.num_train_steps, "step", always=True)
    if progress is not None and start_step:
      progress.update(start_step)
    step, started, examples_seen, loss = start_step, time.time(), 0, float("nan")
    while step < job.num_train_steps:
      # Run until the next log/checkpoint/eval boundary, in one tf.function call.
      next_stop = min([job.num_train_steps] + [(step // b + 1) * b for b in boundaries])
      loss = float(train_loop(iterator, tf.constant(next_stop - step, tf.int32)))
      examples_seen += (next_stop - step) * c.train_batch_size
      step, speed = next_stop, examples_seen / (time.time() - started)
      if progress is not None:
        progress.update(step, values=[("loss", loss), ("examples/s", speed)])
      if self._after_chunk(step, loss, speed, quiet=progress is not None):
        break
    if not c.save_optimizer_state and self.manager.write:
      self.manager.drop_optimizer_state()
    elapsed = time.time() - started
    return dict(global_step=step, resumed_from=start_step, loss=loss, train_seconds=elapsed,
                examples_per_second=examples_seen / max(elapsed, 1e-9), **self.state)

  def _after_chunk(self, step, loss, speed, quiet):
    """Logs, evaluates and checkpoints at `step`; True when training should stop early."""
    c, job, write = self.c, self.job, self.manager.write
    # The loss here is unscaled: not finite means the forward pass diverged (a float16
    # gradient overflow only skips a step). Stop before writing anything from it.
    if not np.isfinite(loss):
      raise UsageError("Training loss became %s at step %d; the last good checkpoint is %s. "
                       "Lower --learning_rate." % (loss, step, self.manager.latest() or "none"))
    last = step == job.num_train_steps
    if write and (step % c.log_every_steps == 0 or last):
      _log_train(self.run_dir, self.writer, step, loss, float(self.optimizer.learning_rate()),
                 speed, quiet)
    evaluated = bool(self.eval_every and self.evaluate_fn is not None and
                     (step % self.eval_every == 0 or last))
    if evaluated:
      results = self.evaluate_fn()
      if write:
        _log_eval(self.run_dir, step, results)
      _update_best(self.state, self.best_name, results, step)
    stop = bool(c.early_stopping_patience and self.state.get(
        "evaluations_without_improvement", 0) >= c.early_stopping_patience)
    if stop:  # only after an evaluation, which checkpoints below
      logging.info("Early stopping at step %d: no %s improvement in %d evaluations (best %s at "
                   "step %s).", step, self.best_name, c.early_stopping_patience,
                   self.state.get("best_value"), self.state.get("best_step"))
      self.state["stopped_early_at"] = step
    if step % c.save_checkpoints_steps == 0 or last or evaluated:
      # best/ and the training state are written before the checkpoint index names this
      # step: a resume reads a checkpoint with its own state, and redoes what came after.
      with interrupts_deferred():
        if write and evaluated and self.state.get("best_step") == step:
          self.run_dir.save_best(step, self.manager.write_weights)
        self.manager.save(step, protect=_protected(self.run_dir, self.state),
                          training_state=self.state)
    return stop


def _make_optimizer(model, model_variables, strategy, job):
  c = job.config
  trainable = {n: v for n, v in model_variables.items()
               if any(v is t for t in model.trainable_variables)}
  with strategy.scope():
    optimizer = AdamWeightDecay(
        trainable, WarmupLinearDecay(c.learning_rate, job.num_train_steps, job.num_warmup_steps),
        weight_decay_rate=c.weight_decay, clip_norm=c.clip_norm,
        bias_correction=c.adam_bias_correction,
        lr_multipliers=layerwise_multipliers(trainable, job.num_layers, c.layerwise_lr_decay))
    loss_scale = tf.Variable(2.0 ** 15 if job.float16_loss_scale else 1.0, trainable=False,
                             name="loss_scale",
                             aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
  return optimizer, loss_scale


def _update_best(state, best_name, results, step):
  """Tracks the best evaluation by `best_name`; a name the task does not report is an error."""
  name = dev_metric_name(best_name)
  if name not in results:
    raise UsageError("--best_metric=%s is not a dev metric of this task; use one of %s." % (
        best_name, ", ".join(sorted(k for k, v in results.items() if isinstance(v, float)))))
  value = results[name]
  sign = -1 if name in LOWER_IS_BETTER else 1
  best = state.get("best_value")
  improved = np.isfinite(value) and (best is None or sign * value > sign * best)
  if improved:
    state.update(best_value=value, best_step=step, best_metric=best_name,
                 evaluations_without_improvement=0)
  else:
    state["evaluations_without_improvement"] = state.get("evaluations_without_improvement", 0) + 1


def forward_backward_fn(model, optimizer, job, loss_scale):
  """(features, labels, weights) -> (loss, dense gradients aligned with optimizer.names): the
  math of one micro-batch, the part --use_xla compiles."""
  variables = [optimizer.variables_by_name[n] for n in optimizer.names]

  def forward_backward(features, labels, weights):
    with tf.GradientTape() as tape:
      logits = model(features, training=True)
      per_example = job.task.per_example_loss(labels, logits)
      loss = tf.reduce_sum(per_example * weights) / job.config.train_batch_size
      scaled = loss * loss_scale if job.float16_loss_scale else loss
    grads = tape.gradient(scaled, variables)
    return loss, [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
                  for g, v in zip(grads, variables)]

  if job.config.use_xla:  # compile the model's math; the loop and all-reduce stay outside
    return tf.function(forward_backward, jit_compile=True, reduce_retracing=True)
  return forward_backward


def _make_train_loop(model, optimizer, strategy, job, loss_scale):
  forward_backward = forward_backward_fn(model, optimizer, job, loss_scale)
  with strategy.scope():
    micro_batches = tf.Variable(0, dtype=tf.int64, trainable=False, name="micro_batches")
  # Dropout masks keyed by the micro-batch's number: a resumed run redraws its steps' masks.
  modeling.key_dropout_by(model, modeling.DropoutClock(micro_batches))

  def replica_apply(grads):
    """All-reduce, unscale (float16), clip and apply one optimizer step."""
    context = tf.distribute.get_replica_context()
    grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
    if job.float16_loss_scale:
      grads = [g / loss_scale for g in grads]
      finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])
      # A step with overflowing gradients changes nothing but the scale.
      grads = [tf.where(finite, g, tf.zeros_like(g)) for g in grads]
      context.merge_call(lambda _, ok: _update_loss_scale(loss_scale, ok), args=(finite,))
    grads = optimizer.clip(grads)
    context.merge_call(lambda _, g: optimizer.apply_gradients(g), args=(grads,))

  def add(loss, grads, more_loss, more_grads):
    return loss + more_loss, [a + b for a, b in zip(grads, more_grads)]

  def optimizer_step(iterator):
    """One optimizer step over --gradient_accumulation_steps micro-batches: their
    gradients (each of a loss already divided by the full batch size) add up to the
    full batch's."""
    first = optimizer.iterations * job.accumulation_steps
    micro_batches.assign(first)
    loss, grads = strategy.run(forward_backward, args=next(iterator))
    for i in range(1, job.accumulation_steps):
      micro_batches.assign(first + i)
      more_loss, more_grads = strategy.run(forward_backward, args=next(iterator))
      loss, grads = strategy.run(add, args=(loss, grads, more_loss, more_grads))
    strategy.run(replica_apply, args=(grads,))
    return loss

  def loop(iterator, steps):
    total = tf.constant(0.0)
    for _ in tf.range(steps):
      total += strategy.reduce(tf.distribute.ReduceOp.SUM, optimizer_step(iterator), axis=None)
    return total / tf.cast(steps, tf.float32)

  return tf.function(loop)


def _update_loss_scale(loss_scale, finite):
  finite = tf.distribute.get_strategy().experimental_local_results(finite)[0]
  loss_scale.assign(tf.where(finite, loss_scale, tf.maximum(loss_scale / 2.0, 1.0)))


def _protected(run, state):
  best = state.get("best_step")
  return (run.checkpoint_prefix(best),) if best is not None else ()


def _log_train(run, writer, step, loss, learning_rate, speed, quiet):
  record = dict(step=step, loss=loss, learning_rate=learning_rate, examples_per_second=speed)
  (logging.debug if quiet else logging.info)(
      "step %(step)d: loss %(loss).4f, lr %(learning_rate).3g, %(examples_per_second).1f "
      "examples/s", record)
  run.append_history(run_dir.TRAIN_HISTORY, record)
  with writer.as_default(step=step):
    tf.summary.scalar("loss", loss)
    tf.summary.scalar("learning_rate", learning_rate)
    tf.summary.scalar("examples_per_second", speed)


def _log_eval(run, step, results):
  scalars = {k: v for k, v in results.items()
             if isinstance(v, (int, float)) and not isinstance(v, bool)}
  logging.info("Eval at step %d: %s", step, ", ".join(
      "%s=%s" % (k, v if isinstance(v, int) else "%.4f" % v) for k, v in sorted(scalars.items())))
  writer = tf.summary.create_file_writer(run.tensorboard_dir("eval"))
  with writer.as_default(step=step):
    for key, value in scalars.items():
      tf.summary.scalar(key, value)
  writer.flush()
  run.append_history(run_dir.EVAL_HISTORY, dict(step=step, **scalars))
