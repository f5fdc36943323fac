"""The run directory's rules: identity, lock, stored settings, unreadable bookkeeping,
decided thresholds, temporaries. Each case checks the one line it prints."""

import json
import logging
import os

import numpy as np
import pytest

from bert_tf import run_dir
from bert_tf.config import RunConfig
from bert_tf.errors import UsageError
from bert_tf.predictor import Predictor
from bert_tf.runner import run_classifier
from test_training import _config, tiny_setup, write_sentiment_csv  # noqa: F401 (fixture)

FILES = ("model_info.json", "label_list.txt", "checkpoint", "bert_config.json",
         "train.tf_record", "run_config.json", "model.ckpt-16.index")


def _snapshot(out):
  return {name: open(os.path.join(out, name), "rb").read() for name in FILES
          if os.path.exists(os.path.join(out, name))}


@pytest.fixture
def trained(tiny_setup):  # noqa: F811
  out = str(tiny_setup["tmp"] / "run")
  run_classifier(_config(tiny_setup, out, do_train=True, num_train_epochs=1))
  return dict(tiny_setup, out=out)


def test_a_different_run_stops_before_writing_anything(trained):
  out, before = trained["out"], _snapshot(trained["out"])
  with pytest.raises(UsageError) as error:
    run_classifier(_config(trained, out, do_train=True, num_train_epochs=1, learning_rate=1e-3))
  message = str(error.value)
  assert message.startswith("--output_dir %s holds a different run (training.learning_rate: "
                            "0.002 -> 0.001): pass --overwrite_output_dir" % out), message
  other = trained["tmp"] / "other"
  other.mkdir()
  write_sentiment_csv(str(other / "train.csv"), 64, seed=9)
  with pytest.raises(UsageError, match=r"holds a different run \(data \(how many training "
                     r"examples\): 256 -> 58; data \(the training examples\): \w{12}\.\.\. -> "
                     r"\w{12}\.\.\.; task.label_list"):
    run_classifier(_config(trained, out, data_dir=str(other), do_train=True,
                           num_train_epochs=1, label_list="pos,neg"))
  with pytest.raises(UsageError, match=r"preprocessor.max_seq_length: 16 -> 32"):
    run_classifier(_config(trained, out, do_train=True, num_train_epochs=1, max_seq_length=32))
  assert _snapshot(out) == before  # the finished run is untouched


def test_float32_named_or_left_unset_is_the_same_run(trained):
  out = trained["out"]  # trained with --mixed_precision unset
  again = run_classifier(_config(trained, out, do_train=True, num_train_epochs=1,
                                 mixed_precision="float32"))
  assert again["train"]["resumed_from"] == 16
  # A run recorded by a version that kept "float32" as given resumes without the flag too.
  info_path = os.path.join(out, "model_info.json")
  info = json.load(open(info_path))
  info["identity"]["training"]["mixed_precision"] = "float32"
  with open(info_path, "w") as f:
    json.dump(info, f)
  again = run_classifier(_config(trained, out, do_train=True, num_train_epochs=1))
  assert again["train"]["resumed_from"] == 16
  with pytest.raises(UsageError, match=r"training.mixed_precision: None -> 'mixed_bfloat16'"):
    run_classifier(_config(trained, out, do_train=True, num_train_epochs=1,
                           mixed_precision="mixed_bfloat16"))


def test_the_same_command_resumes_and_overwrite_starts_over(trained):
  out = trained["out"]
  again = run_classifier(_config(trained, out, do_train=True, num_train_epochs=1))
  assert again["train"]["resumed_from"] == 16 and again["train"]["global_step"] == 16
  fresh = run_classifier(_config(trained, out, do_train=True, num_train_epochs=2,
                                 overwrite_output_dir=True))
  assert fresh["train"]["resumed_from"] == 0 and fresh["train"]["global_step"] == 32
  info = run_dir.RunDir(out).read_model_info()
  assert info.identity["training"]["num_train_epochs"] == 2
  status = json.load(open(os.path.join(out, "run_config.json")))["status"]
  assert status == "finished"


def test_eval_of_an_unfinished_training_warns(trained, caplog):
  run = run_dir.RunDir(trained["out"])
  caplog.set_level(logging.WARNING)
  run.eval_checkpoint()
  assert "did not finish" not in caplog.text  # finished
  stored = json.load(open(run.path("run_config.json")))
  run.write_run_config(json.dumps(stored), status="running")  # as a killed training leaves it
  found = run.eval_checkpoint()
  assert "The training in %s did not finish (stopped or still running): this uses %s." % (
      trained["out"], os.path.basename(found)) in caplog.text


def test_a_requested_checkpoint_is_checked_before_training(tmp_path):
  run = run_dir.RunDir(str(tmp_path / "new_run"))
  for to_come in ("model.ckpt-100", os.path.join("best", "model.ckpt-3")):
    run.check_checkpoint_to_come(run.path(to_come), 100)  # training may write these
  os.makedirs(str(tmp_path / "other"))
  (tmp_path / "other" / "model.ckpt-16.index").write_bytes(b"")
  run.check_checkpoint_to_come(str(tmp_path / "other" / "model.ckpt-16"), 100)  # exists
  for never in (str(tmp_path / "other" / "model.ckpt-5"), run.path("model.ckpt-5x"),
                run.path("sub", "model.ckpt-5"), run.path("model.ckpt-101")):
    with pytest.raises(UsageError, match="does not exist"):
      run.check_checkpoint_to_come(never, 100)
  run.check_checkpoint_to_come(run.path("model.ckpt-101"))  # before the steps are known


def test_overwrite_starts_over_even_when_the_old_run_cannot_be_read(trained):
  out = trained["out"]
  for name in ("checkpoint", "model_info.json"):
    with open(os.path.join(out, name), "w") as f:
      f.write("junk")
  with pytest.raises(UsageError, match=r"restore it, or train it again \(--do_train with "
                     r"--overwrite_output_dir starts over\)"):
    run_classifier(_config(trained, out, do_train=True, num_train_epochs=1))
  fresh = run_classifier(_config(trained, out, do_train=True, num_train_epochs=1,
                                 overwrite_output_dir=True))
  assert fresh["train"]["global_step"] == 16


def test_a_second_writer_is_refused_and_a_stale_lock_taken_over(trained, caplog):
  out = trained["out"]
  with run_dir.RunDir(out).lock():
    with pytest.raises(UsageError, match=r"--output_dir .* is in use by another run \(pid %d on "
                       % os.getpid()):
      run_classifier(RunConfig(output_dir=out, data_dir=trained["data_dir"], do_predict=True))
  with open(os.path.join(out, ".lock"), "w") as f:  # a holder killed without cleaning up
    f.write("pid 999999 on somewhere since 2026-01-01 00:00:00")
  caplog.set_level(logging.WARNING)
  run_classifier(RunConfig(output_dir=out, data_dir=trained["data_dir"], do_predict=True))
  assert "Taking over the lock of %s from a run that is no longer alive (pid 999999" % out in (
      caplog.text)
  assert not os.path.exists(os.path.join(out, ".lock"))


def test_unreadable_bookkeeping_is_an_error_not_a_fresh_start(trained):
  out = trained["out"]
  index = open(os.path.join(out, "checkpoint")).read()
  with open(os.path.join(out, "checkpoint"), "w") as f:
    f.write("garbage {{{")
  with pytest.raises(UsageError, match=r"checkpoint cannot be read \(.*\): restore it, or train "
                     r"it again \(--do_train with --overwrite_output_dir starts over\)"):
    run_classifier(_config(trained, out, do_train=True, num_train_epochs=1))
  with open(os.path.join(out, "checkpoint"), "w") as f:
    f.write('model_checkpoint_path: "model.ckpt-999"\n')
  with pytest.raises(UsageError, match=r"names model.ckpt-999 but its files are missing"):
    run_classifier(_config(trained, out, do_train=True, num_train_epochs=1))
  with open(os.path.join(out, "checkpoint"), "w") as f:
    f.write(index)  # one damaged file at a time
  info = open(os.path.join(out, "model_info.json")).read()
  with open(os.path.join(out, "model_info.json"), "w") as f:
    f.write(info[:len(info) // 2])  # truncated
  with pytest.raises(UsageError, match=r"model_info.json cannot be read \(.*\): restore it"):
    run_classifier(RunConfig(output_dir=out, data_dir=trained["data_dir"], do_predict=True))


def test_eval_and_predict_use_the_runs_settings(trained, caplog):
  out = trained["out"]
  with pytest.raises(UsageError, match=r"--max_seq_length=64 contradicts the trained run in "
                     r".* \(max_seq_length=16\): leave the flag out"):
    run_classifier(RunConfig(output_dir=out, data_dir=trained["data_dir"], do_predict=True,
                             max_seq_length=64))
  with pytest.raises(UsageError, match=r"--head_hidden_size=8 contradicts"):
    run_classifier(RunConfig(output_dir=out, data_dir=trained["data_dir"], do_predict=True,
                             head_hidden_size=8))
  run_classifier(RunConfig(output_dir=out, data_dir=trained["data_dir"], do_predict=True,
                           retune_thresholds=True))
  assert ("--retune_thresholds is read only by multi-label runs (this one is classification), "
          "so this run ignores it.") in caplog.text
  probs = np.loadtxt(os.path.join(out, "test_results.tsv"))
  texts = [l.strip() for l in open(os.path.join(trained["data_dir"], "test.csv"))][1:]
  np.testing.assert_allclose(probs, Predictor(out).predict_proba(texts), atol=1e-5)


def test_eval_only_keeps_the_thresholds_the_run_chose(tiny_setup):  # noqa: F811
  data = tiny_setup["tmp"] / "ml"
  data.mkdir()
  write_sentiment_csv(str(data / "train.csv"), 48, 1, multi_label=True)
  write_sentiment_csv(str(data / "dev.csv"), 16, 2, multi_label=True)
  write_sentiment_csv(str(data / "other.csv"), 24, 5, multi_label=True)
  out = str(tiny_setup["tmp"] / "ml_out")
  run_classifier(_config(tiny_setup, out, data_dir=str(data), label_column="pos,neg",
                         do_train=True, do_eval=True, num_train_epochs=1))
  path = os.path.join(out, "thresholds.json")
  assert set(json.loads(open(path).read())["pos"]) == {"threshold", "chosen_by"}
  # Thresholds the run decided (a sentinel value, so that their use is visible).
  run_dir.RunDir(out).save_thresholds(["pos", "neg"], [0.123, 0.877], ["test", "test"])
  chosen = open(path).read()
  eval_only = dict(output_dir=out, data_dir=str(data), label_column="pos,neg", do_eval=True,
                   dev_file=str(data / "other.csv"))
  result = run_classifier(RunConfig(**eval_only))
  assert open(path).read() == chosen  # not re-tuned on the other file
  per_label = result["eval"]["eval_per_label"]
  assert (per_label["pos"]["threshold"], per_label["neg"]["threshold"]) == (0.123, 0.877)
  assert Predictor(out).task.thresholds == [0.123, 0.877]  # and predictions use them
  with pytest.raises(UsageError, match=r"--label_column=pos,spam contradicts the trained run"):
    run_classifier(RunConfig(**dict(eval_only, label_column="pos,spam")))
  run_classifier(RunConfig(retune_thresholds=True, **eval_only))
  retuned = json.loads(open(path).read())
  assert retuned["pos"]["threshold"] != 0.123 and "dev positives" in retuned["pos"]["chosen_by"]


def test_eval_reads_labels_through_the_runs_labels_file(tiny_setup):  # noqa: F811
  data = tiny_setup["tmp"] / "ids"
  data.mkdir()
  for name, n, seed in (("train.csv", 32, 1), ("dev.csv", 8, 2)):
    path = write_sentiment_csv(str(data / name), n, seed)
    with open(path) as f:  # labels as ids into the labels file
      text = f.read().replace(",pos\n", ",1\n").replace(",neg\n", ",0\n")
    with open(path, "w") as f:
      f.write(text)
  (data / "labels.txt").write_text("neg\npos\n")
  (data / "reversed.txt").write_text("pos\nneg\n")
  out = str(tiny_setup["tmp"] / "ids_out")
  # --label_list orders the outputs; the ids still index into the file.
  trained = run_classifier(_config(tiny_setup, out, data_dir=str(data), do_train=True,
                                   do_eval=True, num_train_epochs=1, label_list="pos,neg",
                                   labels_file=str(data / "labels.txt")))
  eval_only = dict(output_dir=out, data_dir=str(data), do_eval=True)
  before = open(os.path.join(out, "eval_results.txt")).read()
  with pytest.raises(UsageError, match=r"--labels_file .*reversed.txt lists pos, neg, but the "
                     r"run in .* was trained with neg, pos in this order \(integer labels index "
                     r"into it\): pass its labels file"):
    run_classifier(RunConfig(labels_file=str(data / "reversed.txt"), **eval_only))
  assert open(os.path.join(out, "eval_results.txt")).read() == before
  evaluated = run_classifier(RunConfig(labels_file=str(data / "labels.txt"), **eval_only))
  assert evaluated["eval"] == trained["eval"]


def test_eval_splits_dev_as_training_did_or_stops(tiny_setup):  # noqa: F811
  train = os.path.join(tiny_setup["data_dir"], "train.csv")
  out = str(tiny_setup["tmp"] / "split_run")
  run_classifier(_config(tiny_setup, out, data_dir=None, train_file=train, do_train=True,
                         num_train_epochs=1, seed=7, max_train_examples=64))
  eval_only = dict(output_dir=out, train_file=train, do_eval=True)
  before = _snapshot(out)
  changed = tiny_setup["tmp"] / "changed.csv"
  changed.write_text(open(train).read() + "one more good film,pos\n")
  for other in (dict(seed=8), dict(split_seed=7, dev_split=0.2), dict(seed=7, test_split=0.1),
                dict(seed=7, train_file=str(changed))):
    with pytest.raises(UsageError, match=r"No dev file: dev would be split off .*\.csv, but "
                       r"what is left of it is not what the run in .* trained on"):
      run_classifier(RunConfig(**dict(eval_only, **other)))
  assert _snapshot(out) == before
  assert run_classifier(RunConfig(**eval_only, seed=7))["eval"]["eval_num_examples"] == 26
  # A run whose dev set was a file trained on all of train: no split of it is unseen.
  out = str(tiny_setup["tmp"] / "dev_file_run")
  run_classifier(_config(tiny_setup, out, data_dir=None, train_file=train, do_train=True,
                         dev_file=os.path.join(tiny_setup["data_dir"], "dev.csv"),
                         num_train_epochs=1, max_train_examples=32))
  with pytest.raises(UsageError, match=r"trained on all of its training data \(its dev came "
                     r"from --dev_file=.*dev.csv\): pass that file"):
    run_classifier(RunConfig(output_dir=out, train_file=train, do_eval=True))


def test_run_config_records_local_paths_absolute(tmp_path, monkeypatch):
  from bert_tf import runner  # pylint: disable=g-import-not-at-top
  monkeypatch.chdir(tmp_path)
  recorded = json.loads(runner._recorded(RunConfig(  # pylint: disable=protected-access
      output_dir="out", train_file="data/t.csv", labels_file="l.txt", do_train=True,
      model="all-MiniLM-L6-v2")))
  assert (recorded["train_file"], recorded["labels_file"], recorded["output_dir"]) == (
      str(tmp_path / "data" / "t.csv"), str(tmp_path / "l.txt"), str(tmp_path / "out"))
  assert recorded["model"] == "all-MiniLM-L6-v2" and recorded["dev_file"] is None


def test_output_dir_that_is_a_file_and_leftover_temporaries(trained, tmp_path):
  a_file = tmp_path / "not_a_dir"
  a_file.write_text("x")
  with pytest.raises(UsageError, match="--output_dir .* is a file, not a directory"):
    run_classifier(RunConfig(output_dir=str(a_file), data_dir=trained["data_dir"],
                             do_predict=True))
  out = trained["out"]
  leftover = os.path.join(out, ".tmp-train.tf_record-abc123")
  os.makedirs(leftover)
  open(os.path.join(leftover, "train.tf_record"), "w").write("half")
  run_classifier(RunConfig(output_dir=out, data_dir=trained["data_dir"], do_predict=True))
  assert not os.path.exists(leftover)


def test_a_directory_the_lock_created_goes_when_nothing_was_written(tmp_path):
  with run_dir.RunDir(str(tmp_path / "fresh")).lock():
    assert (tmp_path / "fresh").is_dir()
  assert not (tmp_path / "fresh").exists()
  (tmp_path / "users").mkdir()  # a directory the user made stays, empty or not
  with run_dir.RunDir(str(tmp_path / "users")).lock():
    pass
  assert (tmp_path / "users").is_dir()
  with run_dir.RunDir(str(tmp_path / "written")).lock() as run:
    open(run.path("eval_results.txt"), "w").close()
  assert (tmp_path / "written" / "eval_results.txt").exists()


def test_a_model_inside_the_output_dir_is_refused_before_anything_is_deleted(tmp_path):
  from bert_tf import pretrained  # pylint: disable=g-import-not-at-top
  run = tmp_path / "run"
  files = lambda folder: pretrained.ModelFiles(str(folder / "bert_config.json"),
                                               str(folder / "model.ckpt-2"),
                                               str(folder / "vocab.txt"), True)
  pretrained.check_outside(files(tmp_path / "model"), str(run))  # beside it: fine
  with pytest.raises(UsageError, match=r"The model .*best.model.ckpt-2 lies inside --output_dir "
                     r".*run: write the run into another directory, or a new run there would "
                     r"delete the model it starts from"):
    pretrained.check_outside(files(run / "best"), str(run))


def test_a_requested_checkpoint_is_the_runs_own(tmp_path):
  from bert_tf.run_dir import RunDir  # pylint: disable=g-import-not-at-top
  for folder in ("run", "run/best", "other"):
    (tmp_path / folder).mkdir()
    (tmp_path / folder / "model.ckpt-2.index").write_bytes(b"")
  run = RunDir(str(tmp_path / "run"))
  # A fresh directory reads any checkpoint (a Google run_classifier.py one, with --label_list).
  assert run.eval_checkpoint(str(tmp_path / "other" / "model.ckpt-2")).endswith("other/model.ckpt-2")
  (tmp_path / "run" / "model_info.json").write_text("{}")  # a trained run: its labels answer
  assert run.eval_checkpoint("model.ckpt-2") == str(tmp_path / "run" / "model.ckpt-2")
  assert run.eval_checkpoint(str(tmp_path / "run" / "best" / "model.ckpt-2")).endswith(
      "best/model.ckpt-2")
  with pytest.raises(UsageError, match=r"Checkpoint .*other.model.ckpt-2 is not one of .*run's "
                     r"\(a model.ckpt-N there or in best/\): another run's weights would answer "
                     r"with this run's labels"):
    run.eval_checkpoint(str(tmp_path / "other" / "model.ckpt-2"))


def test_overwrite_removes_only_a_runs_own_files(tmp_path):
  from bert_tf.run_dir import RunDir  # pylint: disable=g-import-not-at-top
  ours = ["model_info.json", "eval_results.txt", "model.ckpt-12.index",
          "model.ckpt-12.data-00000-of-00001", "train.tf_record", "train.tf_record.meta.json",
          "train.tf_record-00001-of-00003", "report.html", "predictions.csv"]
  users = ["notes.txt", "eval_results.xlsx", "model.ckpt-best-notes.txt",
           "train.tf_record.README"]
  for name in ours + users:
    (tmp_path / name).write_text("x")
  (tmp_path / "train").mkdir()
  for name in ("events.out.tfevents.1.host", "important.txt"):
    (tmp_path / "train" / name).write_text("x")
  RunDir(str(tmp_path)).clear()
  assert sorted(os.listdir(tmp_path)) == sorted(users + ["train"])
  assert os.listdir(tmp_path / "train") == ["important.txt"]  # the old run's curves are gone


def test_a_new_run_does_not_replace_files_of_its_names_that_no_run_wrote(tmp_path):
  from bert_tf.run_dir import RunDir  # pylint: disable=g-import-not-at-top
  run = RunDir(str(tmp_path))
  description = {"label_list.txt": b"neg\npos\n", "vocab.txt": b"[CLS]\n"}
  run.check_no_foreign_files(description)
  (tmp_path / "vocab.txt").write_bytes(b"[CLS]\n")  # as an interrupted start left it
  run.check_no_foreign_files(description)
  for name, text in (("predictions.csv", "mine"), ("report.html", "mine"),
                     ("label_list.txt", "my labels\n"), ("run_config.json", "{}")):
    (tmp_path / name).write_text(text)
  with pytest.raises(UsageError, match=r"holds run_config.json, predictions.csv, report.html, "
                     r"label_list.txt but no run: a run would replace them"):
    run.check_no_foreign_files(description)
  (tmp_path / "model_info.json").write_text("{}")  # with a run, they are its own
  run.check_no_foreign_files(description)


def test_training_and_eval_of_a_checkpoint_leave_a_users_files_alone(tiny_setup):  # noqa: F811
  out = tiny_setup["tmp"] / "mine"
  out.mkdir()
  (out / "label_list.txt").write_text("my labels\n")
  google = tiny_setup["model_dir"] + "/bert_model.ckpt"  # eval of a checkpoint trained elsewhere
  for flags in (dict(do_train=True, num_train_epochs=1),
                dict(do_eval=True, eval_checkpoint=google)):
    with pytest.raises(UsageError, match=r"holds label_list.txt but no run: a run would "
                       r"replace them"):
      run_classifier(_config(tiny_setup, str(out), **flags))
    assert os.listdir(out) == ["label_list.txt"]
    assert (out / "label_list.txt").read_text() == "my labels\n"


def test_the_dev_set_that_selects_checkpoints_is_part_of_the_run(tmp_path):
  from bert_tf.run_dir import ModelInfo, RunDir  # pylint: disable=g-import-not-at-top
  run = RunDir(str(tmp_path))
  (tmp_path / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-2"\n')
  (tmp_path / "model.ckpt-2.index").write_bytes(b"")
  base = dict(data="train-fingerprint", training=dict(learning_rate=1e-3))
  run.write_model_info(ModelInfo(task={}, preprocessor={},
                                 identity=dict(base, selection_data="dev-a")))
  run.check_same_run(dict(base, selection_data="dev-a"))
  with pytest.raises(UsageError, match=r"holds a different run \(selection_data \(the dev "
                     r"examples that pick checkpoints\): 'dev-a' -> 'dev-b'\)"):
    run.check_same_run(dict(base, selection_data="dev-b"))
  run.check_same_run(base)  # without --eval_every_steps now: no dev set selects
  run.write_model_info(ModelInfo(task={}, preprocessor={}, identity=base))  # an older run
  run.check_same_run(dict(base, selection_data="dev-b"))
  run.check_same_run(dict(base, data_examples=58))  # recorded before the counts were
  run.write_model_info(ModelInfo(task={}, preprocessor={}, identity=dict(base, data_examples=58)))
  with pytest.raises(UsageError, match=r"\(data \(how many training examples\): 58 -> 59\)"):
    run.check_same_run(dict(base, data_examples=59))


def test_the_training_state_read_is_the_one_saved_with_the_latest_checkpoint(tmp_path):
  """Each checkpoint's training state is kept until the checkpoint goes; a state saved for
  a checkpoint the index does not name yet is not the one read. A run's single state (as
  written before 2026-12-02) stays its latest checkpoint's."""
  run = run_dir.RunDir(str(tmp_path))
  for step in (8, 16, 24):
    open(run.checkpoint_prefix(step) + ".index", "w").close()
  (tmp_path / "training_state.json").write_text(json.dumps({"best_step": 8}))
  run.write_checkpoint_index(run.checkpoint_prefix(8), [run.checkpoint_prefix(8)])
  assert run.read_training_state() == {"best_step": 8}

  run.save_training_state({"best_step": 16}, 16, kept_steps=[8, 16])
  assert run.read_training_state() == {"best_step": 8}  # the index names 8, not yet 16
  run.write_checkpoint_index(run.checkpoint_prefix(16), [run.checkpoint_prefix(s) for s in (8, 16)])
  assert run.read_training_state() == {"best_step": 16}
  assert run.read_training_state(run.checkpoint_prefix(8)) == {"best_step": 8}

  # The trainer keeps the states of the checkpoints the index still names (8 here) until
  # the index changes: a run stopped before that resumes from them.
  run.save_training_state({"best_step": 16, "evaluations_without_improvement": 1}, 24,
                          kept_steps=[8, 16, 24])
  assert run.read_training_state(run.checkpoint_prefix(8)) == {"best_step": 8}
  run.write_checkpoint_index(run.checkpoint_prefix(24),
                             [run.checkpoint_prefix(s) for s in (16, 24)])
  run.save_training_state({"best_step": 16, "evaluations_without_improvement": 2}, 32,
                          kept_steps=[16, 24, 32])
  assert run.read_training_state(run.checkpoint_prefix(8)) == {}  # gone with its checkpoint
  assert run.read_training_state(run.checkpoint_prefix(16)) == {"best_step": 16}
  assert run.read_training_state() == {"best_step": 16, "evaluations_without_improvement": 1}


def test_a_finished_run_is_not_retrained_by_another_best_metric(tiny_setup):  # noqa: F811
  """best/ was picked by the run's metric: asked for another, the run says so in one line
  (rather than report the other as its main metric beside the first one's best/)."""
  out = str(tiny_setup["tmp"] / "run")
  selecting = dict(do_train=True, do_eval=True, num_train_epochs=1, eval_every_steps=8)
  run_classifier(_config(tiny_setup, out, **selecting))
  before = _snapshot(out)
  with pytest.raises(UsageError, match=r"picked its best checkpoint so far by accuracy: resume "
                     r"with --best_metric=accuracy"):
    run_classifier(_config(tiny_setup, out, best_metric="loss", **selecting))
  assert _snapshot(out) == before
  again = run_classifier(_config(tiny_setup, out, best_metric="eval_accuracy", **selecting))
  assert again["train"]["resumed_from"] == 16  # the same metric, named as eval_results names it
