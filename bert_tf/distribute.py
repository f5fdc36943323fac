"""The tf.distribute strategy for a run: default, mirrored, TPU or multi-worker.

Batch-size flags are global batch sizes, as in Google's run_classifier.py: each
of N replicas sees batch_size / N examples per step.
"""

import json
import os
import re

import tensorflow as tf
from absl import logging

from bert_tf.errors import UsageError


def workers_in_tf_config():
  """How many workers TF_CONFIG describes (0 without it); known before any strategy."""
  try:
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
  except ValueError:
    raise UsageError("The TF_CONFIG environment variable is not valid JSON.") from None
  return sum(len(v) for k, v in cluster.items() if k in ("worker", "chief"))


def is_chief_process():
  """Whether TF_CONFIG (if any) makes this process the one that owns the output directory:
  the chief, or worker 0 when there is no chief. Known before any strategy is built."""
  try:
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}"))
  except ValueError:
    raise UsageError("The TF_CONFIG environment variable is not valid JSON.") from None
  task, cluster = tf_config.get("task", {}), tf_config.get("cluster", {})
  if not task or not cluster:
    return True
  if "chief" in cluster:
    return task.get("type") == "chief"
  return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def get_strategy(config):
  """Chooses and builds the strategy named by --strategy (auto picks one)."""
  kind = config.strategy
  workers = workers_in_tf_config()
  if workers > 1 and kind not in ("auto", "multi_worker"):
    raise UsageError("TF_CONFIG describes %d workers but --strategy=%s trains in one process (each "
                     "worker would train alone): use --strategy=multi_worker, or unset TF_CONFIG."
                     % (workers, kind))
  if kind == "auto":
    if config.use_tpu:
      kind = "tpu"
    elif workers > 1:
      kind = "multi_worker"
    elif len(tf.config.list_logical_devices("GPU")) > 1:
      kind = "mirrored"
    else:
      kind = "default"
  if kind == "tpu":
    if not (config.tpu_name or config.master):
      raise UsageError("--strategy=tpu needs --tpu_name (or --master).")
    try:
      resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
          tpu=config.tpu_name or config.master, zone=config.tpu_zone, project=config.gcp_project,
          **({"job_name": config.tpu_job_name} if config.tpu_job_name else {}))
      tf.config.experimental_connect_to_cluster(resolver)
      tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError) as e:
      raise UsageError("Cannot reach TPU %r: %s" % (config.tpu_name or config.master,
                                                    str(e).splitlines()[0])) from None
    strategy = tf.distribute.TPUStrategy(resolver)
  elif kind == "multi_worker":
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
  elif kind == "mirrored":
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    strategy = tf.distribute.MirroredStrategy(devices=devices)
  else:
    strategy = tf.distribute.get_strategy()
  logging.info("Strategy: %s with %d replica(s).", type(strategy).__name__,
               strategy.num_replicas_in_sync)
  return strategy


def check_batch_sizes(config, strategy):
  n = strategy.num_replicas_in_sync
  for name in ("train_batch_size", "eval_batch_size", "predict_batch_size"):
    value = getattr(config, name)
    if value % n:
      raise UsageError("--%s=%d is not divisible by the %d replicas of the strategy." %
                       (name, value, n))
  micro = config.train_batch_size // config.gradient_accumulation_steps
  if micro % n:
    raise UsageError("--train_batch_size / --gradient_accumulation_steps = %d examples per "
                     "micro-batch is not divisible by the %d replicas of the strategy." % (micro, n))


def needs_fixed_shapes(strategy):
  """TPUs compile one program per shape: every batch full (eval/predict padded with
  is_real_example=0 examples), drop_remainder, no dynamic padding. Decided by the
  strategy, whichever flag chose it."""
  return isinstance(strategy, tf.distribute.TPUStrategy)


def _multi_worker(strategy):
  return getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)()


def barrier(strategy):
  """Multi-worker: returns once every worker has called it (an all-reduce), so a worker
  reads the run directory only after the chief has written what it needs. Else no-op."""
  if _multi_worker(strategy):
    _among_workers(tf.function(lambda: strategy.reduce(
        tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(1.0)), axis=None)))


def _among_workers(collective):
  """Runs a collective of constants: it fails only when a worker has gone (TensorFlow
  aborts it once a peer's connection closes), so say that in one line, not a traceback."""
  try:
    return collective()
  except tf.errors.OpError as e:
    reason = (re.sub(r"\{\{[^}]*\}\}\s*", "", e.message).strip().splitlines() or
              [type(e).__name__])[0]
    raise UsageError("Another worker stopped (%s): this one stops too; the log of the worker "
                     "that stopped first says why." % reason) from None


def check_workers_agree(strategy, value, what):
  """Multi-worker: stops unless every worker computed the same integer `value` (say, the
  step it resumes from: a worker that cannot see the chief's checkpoints would start
  over and train other weights)."""
  if not _multi_worker(strategy):
    return
  gather = tf.function(lambda: strategy.gather(
      strategy.run(lambda: tf.constant([value], tf.int64)), axis=0))
  values = sorted(set(_among_workers(gather).numpy().tolist()))
  if len(values) > 1:
    raise UsageError("The workers disagree on %s (%s): --output_dir must be one directory that "
                     "every worker reads (a shared file system)." % (
                         what, ", ".join(map(str, values))))


def is_chief(strategy):
  """Whether this process writes checkpoints and results (multi-worker: the chief only)."""
  resolver = getattr(strategy, "cluster_resolver", None)
  role = getattr(resolver, "task_type", None) if resolver is not None else None
  if not role:
    return True
  cluster = resolver.cluster_spec().as_dict()
  if "chief" in cluster:
    return role == "chief"
  return role == "worker" and resolver.task_id == 0
