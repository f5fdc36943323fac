"""tf.distribute on CPU: two real workers over gRPC on 127.0.0.1, and the TPU input
pipeline (fixed shapes, padding examples that never count)."""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import distribute
from bert_tf.runner import run_classifier
from test_training import REPO, _cli_args, _config, tiny_setup, write_sentiment_csv  # noqa: F401


def _free_ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _start_workers(args, log_dir, attempt, args_of_worker_1=None):
  """Two workers on free ports of 127.0.0.1; worker 0 (the chief) runs `args`."""
  cluster = {"worker": ["127.0.0.1:%d" % p for p in _free_ports(2)]}
  procs = []
  for index, args in enumerate((args, args_of_worker_1 or args)):
    tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
    log = open(os.path.join(log_dir, "worker%d-%d.log" % (index, attempt)), "w+")
    env = dict(os.environ, TF_CONFIG=tf_config, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    procs.append((subprocess.Popen([sys.executable, os.path.join(REPO, "run_classifier.py")] +
                                   args, stdout=log, stderr=subprocess.STDOUT, env=env), log))
  return procs


def _finish(procs):
  outputs = []
  for proc, log in procs:
    rc = proc.wait(timeout=300)
    log.seek(0)
    outputs.append(log.read())
    assert rc == 0, outputs[-1][-3000:]
  return outputs


def _weights(out, step):
  reader = tf.train.load_checkpoint(os.path.join(out, "model.ckpt-%d" % step))
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}


@pytest.mark.slow  # five processes, ~50 s: `make test-all` (keeps CI under 15 minutes)
def test_two_workers_train_like_one_process_and_resume_after_a_kill(tiny_setup):
  """Two MultiWorkerMirroredStrategy workers (gRPC on 127.0.0.1), global batch 16 (with
  gradient accumulation over 2 micro-batches), killed
  (both, SIGKILL) after their first checkpoint and restarted: the chief alone wrote the run,
  it resumed, and the final weights and dev metrics are those of one process."""
  tmp = tiny_setup["tmp"]
  # Accumulation too: each worker's 8 examples per step as 2 micro-batches of 4.
  extra = ["--do_eval=true", "--do_predict=true", "--save_checkpoints_steps=8",
           "--gradient_accumulation_steps=2"]
  single = str(tmp / "single")
  proc = subprocess.run([sys.executable, os.path.join(REPO, "run_classifier.py")] +
                        _cli_args(tiny_setup, single, extra), capture_output=True, text=True,
                        timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert proc.returncode == 0, proc.stderr[-3000:]

  workers = str(tmp / "workers")
  args = _cli_args(tiny_setup, workers, extra + ["--strategy=multi_worker"])
  procs = _start_workers(args, str(tmp), 0)
  index, deadline = os.path.join(workers, "checkpoint"), time.time() + 300
  while not (os.path.exists(index) and "model.ckpt-" in open(index).read()):
    assert all(p.poll() is None for p, _ in procs) and time.time() < deadline, \
        "training ended before the kill"
    time.sleep(0.05)
  for proc, _ in procs:
    proc.kill()
    proc.wait()
  killed_at = int(tf.train.latest_checkpoint(workers).rsplit("-", 1)[1])
  assert killed_at < 64
  chief_log, other_log = _finish(_start_workers(args, str(tmp), 1))

  for log in (chief_log, other_log):
    assert "CollectiveAllReduceStrategy with 2 replica(s)" in log  # MultiWorkerMirrored
    assert "Resuming from %s" % os.path.join(workers, "model.ckpt-%d" % killed_at) in log
  ours, theirs = _weights(workers, 64), _weights(single, 64)
  assert ours.keys() == theirs.keys()
  # float32 sums in another order (micro-batches of 4 per worker, then the all-reduce, vs
  # micro-batches of 8): 1.4e-5 without accumulation, up to 1.1e-4 with it, after 64 steps.
  for name in ours:
    np.testing.assert_allclose(ours[name], theirs[name], atol=5e-4, rtol=0, err_msg=name)
  a = json.load(open(os.path.join(single, "eval_results.json")))
  b = json.load(open(os.path.join(workers, "eval_results.json")))
  assert b["global_step"] == a["global_step"] == 64 and b["eval_accuracy"] == a["eval_accuracy"]
  np.testing.assert_allclose(b["eval_loss"], a["eval_loss"], rtol=1e-3, atol=1e-4)  # ~0.009
  # Written once, by the chief: one TensorBoard file per start, the other worker's
  # records in its own temporary directory (gone), the predictions complete.
  assert len(os.listdir(os.path.join(workers, "train"))) == 2
  assert open(os.path.join(workers, "test_results.tsv")).read().count("\n") == 10

  # A worker that does not see the chief's directory would start over: both stop instead.
  elsewhere = _cli_args(tiny_setup, str(tmp / "elsewhere"), extra + ["--strategy=multi_worker"])
  for proc, log in _start_workers(args, str(tmp), 2, args_of_worker_1=elsewhere):
    assert proc.wait(timeout=300) == 2
    log.seek(0)
    assert "The workers disagree on the step training starts from (0, 64)" in log.read()


@pytest.mark.slow  # three processes, ~25 s
def test_a_chief_that_stops_before_the_barrier_stops_its_workers(tiny_setup):
  """The chief refuses --output_dir (it holds a different run) before the first barrier;
  the other worker, which does not own the directory, must not wait for it: it stops
  too, with one line and no traceback."""
  out = str(tiny_setup["tmp"] / "taken")
  first = subprocess.run([sys.executable, os.path.join(REPO, "run_classifier.py")] +
                         _cli_args(tiny_setup, out, ["--num_train_epochs=0.5"]),
                         capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert first.returncode == 0, first.stderr[-3000:]
  args = _cli_args(tiny_setup, out, ["--strategy=multi_worker", "--learning_rate=1e-3"])
  logs = []
  for proc, log in _start_workers(args, str(tiny_setup["tmp"]), 0):
    logs.append((proc.wait(timeout=240), log.seek(0) or log.read()))
  (chief_rc, chief), (worker_rc, worker) = logs
  assert chief_rc == 2 and "holds a different run" in chief, chief[-3000:]
  assert worker_rc == 2 and "Traceback" not in worker, worker[-3000:]
  assert "error: Another worker stopped (" in worker, worker[-3000:]


def test_tpu_input_pipeline_pads_to_full_batches_and_padding_never_counts(tiny_setup, monkeypatch):
  """The fixed-shape (TPU) pipeline on the CPU: dev (30) and test (10) padded with
  is_real_example=0 examples to full batches of 8, every batch full; the metrics and
  predictions equal those of the dynamic pipeline, so padded examples never count."""
  data = tiny_setup["tmp"] / "data"
  write_sentiment_csv(str(data / "dev.csv"), 30, seed=2)
  # Training without dynamic padding in both runs: the same batches, so the same weights.
  common = dict(do_train=True, do_eval=True, do_predict=True, num_train_epochs=1,
                dynamic_padding=False)
  dynamic = run_classifier(_config(tiny_setup, str(tiny_setup["tmp"] / "dynamic"), **common))

  batch_shapes = []
  batch = tf.data.Dataset.batch

  def recording_batch(self, batch_size, drop_remainder=False, *args, **kwargs):
    batch_shapes.append(drop_remainder)
    return batch(self, batch_size, drop_remainder, *args, **kwargs)

  monkeypatch.setattr(distribute, "needs_fixed_shapes", lambda strategy: True)
  monkeypatch.setattr(tf.data.Dataset, "batch", recording_batch)
  out = str(tiny_setup["tmp"] / "fixed")
  fixed = run_classifier(_config(tiny_setup, out, **common))
  assert batch_shapes and all(batch_shapes)  # drop_remainder everywhere: static shapes

  meta = json.load(open(os.path.join(out, "eval.tf_record.meta.json")))
  assert (meta["num_examples"], meta["num_real_examples"]) == (32, 30)
  meta = json.load(open(os.path.join(out, "predict.tf_record.meta.json")))
  assert (meta["num_examples"], meta["num_real_examples"]) == (16, 10)
  assert fixed["eval"]["eval_num_examples"] == 30 and fixed["predict"]["num_examples"] == 10
  for name in ("eval_accuracy", "eval_loss", "eval_f1"):
    np.testing.assert_allclose(fixed["eval"][name], dynamic["eval"][name], rtol=1e-4)
  rows = lambda d: open(os.path.join(d, "test_results.tsv")).read().splitlines()
  ours, theirs = rows(out), rows(str(tiny_setup["tmp"] / "dynamic"))
  assert len(ours) == len(theirs) == 10
  np.testing.assert_allclose(np.loadtxt(ours), np.loadtxt(theirs), atol=1e-4)


def test_tf_config_with_several_workers_needs_the_multi_worker_strategy(monkeypatch, tmp_path):
  from bert_tf.config import RunConfig
  from bert_tf.errors import UsageError
  import pytest
  monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]},
                                              "task": {"type": "worker", "index": 1}}))
  config = RunConfig(output_dir=str(tmp_path), train_file="x.csv", do_train=True,
                     strategy="default")
  with pytest.raises(UsageError, match="TF_CONFIG describes 2 workers but --strategy=default"):
    distribute.get_strategy(config)
