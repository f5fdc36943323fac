"""Bad input, on the command line as a user meets it: exit 2, one line naming the file,
line or flag and what to do, no traceback, nothing written. Suspicious but legal input
warns. The table in the closing note of the robustness issue comes from these cases."""

import json
import os
import re
import shutil
import struct
import subprocess
import sys

import pytest

from bert_tf.errors import UsageError
from conftest import TINY_CONFIG, write_google_model
from tool_runner import run_tool

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  return write_google_model(str(tmp_path_factory.mktemp("bad") / "tiny"), TINY_CONFIG)[0]


def _cli(args, module=None):
  command = ["-m", module] if module else [os.path.join(REPO, "run_classifier.py")]
  proc = run_tool(command + args, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  lines = proc.stderr.strip().splitlines()
  return proc.returncode, lines[-1] if lines else "", proc.stdout + proc.stderr


def _train(model_dir, out, train_file, *extra):
  return _cli(["--do_train", "--model=" + model_dir, "--train_file=" + str(train_file),
               "--output_dir=" + str(out), "--max_seq_length=16", "--num_train_epochs=1",
               "--train_batch_size=8"] + list(extra))


def _write(path, text):
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  return path


GOOD = "text,label\n" + "".join("good film %d,pos\nbad film %d,neg\n" % (i, i) for i in range(8))
DATA_CASES = {
    "unclosed_quote": ("text,label\ngood film,pos\n\"bad film,neg\nok,pos\n",
                       r"train.csv line 3: malformed CSV/TSV \(unexpected end of data\): check "
                       "the quoting"),
    "unquoted_comma": ("text,label\ngood film,pos\nbad, really bad film,neg\n",
                       r"train.csv line 3: 3 fields, expected 2 \(as in the header\): quote texts "
                       r"that contain ',', or pass --skip_bad_rows"),
    "label_nan": ("text,label\ngood film,pos\nbad film,NaN\n",
                  r"train.csv line 3: the label is missing \('NaN'\); fill it in or remove the row"),
    "label_none": ("text,label\ngood film,pos\nbad film,None\n", r"the label is missing \('None'\)"),
}


@pytest.mark.parametrize("case", sorted(DATA_CASES))
def test_bad_csv_files(case, model_dir, tmp_path):
  content, expected = DATA_CASES[case]
  out = tmp_path / "out"
  rc, last, output = _train(model_dir, out, _write(tmp_path / "train.csv", content))
  assert rc == 2 and "Traceback" not in output, output[-3000:]
  assert last.startswith("error: ") and re.search(expected, last), last
  assert not os.path.exists(out)  # nothing half-written, not even an empty directory


def test_skip_bad_rows_counts_them(model_dir, tmp_path):
  bad = GOOD + "bad, really bad film,neg\n"
  rc, _, output = _train(model_dir, tmp_path / "out", _write(tmp_path / "train.csv", bad),
                         "--skip_bad_rows")
  assert rc == 0, output[-3000:]
  assert ("skipped 1 rows with a wrong number of fields or a repeated header "
          "(--skip_bad_rows)") in output


def test_json_text_that_is_a_list_and_infinite_regression_label(model_dir, tmp_path):
  path = _write(tmp_path / "train.jsonl", '{"text": "good", "label": "a"}\n'
                '{"text": ["not", "a", "text"], "label": "b"}\n')
  rc, last, _ = _train(model_dir, tmp_path / "o1", path)
  assert rc == 2 and "train.jsonl record 2: field 'text' is a JSON array, not a text." in last
  path = _write(tmp_path / "bool.jsonl", '{"text": true, "label": "a"}\n')
  rc, last, _ = _train(model_dir, tmp_path / "o3", path)
  assert rc == 2 and "bool.jsonl record 1: field 'text' is the JSON true, not a text." in last
  path = _write(tmp_path / "reg.csv", "text,score\ngood,1.5\nbad,inf\n")
  rc, last, _ = _train(model_dir, tmp_path / "o2", path, "--regression", "--label_column=score")
  assert rc == 2 and "reg.csv line 3: regression label 'inf' is not a finite number." in last


@pytest.mark.parametrize("flag,expected", [
    ("--learning_rate=nan", "error: --learning_rate must be a finite number, got nan."),
    ("--num_train_epochs=nan", "error: --num_train_epochs must be a finite number, got nan."),
    ("--max_seq_length=abc", "max_seq_length"),
    ("--no_such_flag=1", "no_such_flag"),
    ("--head_hidden_size=-3", "--head_hidden_size must be >= 0 (0: no hidden layer), got -3."),
    ("--best_metric=nonsense", "--best_metric=nonsense is not a dev metric of this task "
     "(classification); use one of accuracy, f1, f1_macro, f1_micro, loss, mcc, roc_auc."),
    ("--vocab_file=" + os.path.dirname(__file__), "is a directory; pass --vocab_file="),
    ("--do_lower_case=maybe", "error: flag --do_lower_case=maybe: maybe is not true or false"),
    ("--data_dir=/no/such/folder", "error: --data_dir /no/such/folder does not exist."),
])
def test_bad_flags(flag, expected, model_dir, tmp_path):
  rc, last, output = _train(model_dir, tmp_path / "out", _write(tmp_path / "t.csv", GOOD), flag)
  assert rc == 2 and expected in last and "Traceback" not in output, output[-2000:]
  assert not os.path.exists(str(tmp_path / "out")) or not os.listdir(str(tmp_path / "out"))


def test_eval_of_a_directory_without_a_run_names_the_checkpoint(model_dir, tmp_path):
  rc, last, output = _cli(["--do_eval", "--model=" + model_dir, "--output_dir=" + str(
      tmp_path / "none"), "--dev_file=%s" % _write(tmp_path / "d.csv", GOOD)])
  assert rc == 2 and "No model.ckpt-N in %s: run with --do_train first" % (tmp_path / "none") \
      in last, output[-2000:]
  assert not os.path.exists(str(tmp_path / "none"))


def test_unreadable_paths(model_dir, tmp_path):
  a_file = _write(tmp_path / "a_file", "x")
  rc, last, _ = _train(model_dir, a_file, _write(tmp_path / "t.csv", GOOD))
  assert rc == 2 and "is a file, not a directory" in last
  rc, last, _ = _train(model_dir, tmp_path / "o1", "/dev/zero")
  assert rc == 2 and "/dev/zero is not a regular file" in last
  long_line = _write(tmp_path / "long.csv", "text,label\n" + "a" * 2_100_000 + ",pos\n")
  rc, last, _ = _train(model_dir, tmp_path / "o2", long_line)
  assert rc == 2 and "long.csv line 2: malformed CSV/TSV (field larger than field limit" in last


def test_a_bad_model_stops_before_anything_is_written(model_dir, tmp_path):
  train = _write(tmp_path / "t.csv", GOOD)
  fewer_layers = write_google_model(str(tmp_path / "fewer"), TINY_CONFIG)[0]
  _write(os.path.join(fewer_layers, "bert_config.json"),
         json.dumps(dict(TINY_CONFIG, num_hidden_layers=1)))
  truncated = write_google_model(str(tmp_path / "truncated"), TINY_CONFIG)[0]
  data = os.path.join(truncated, "bert_model.ckpt.data-00000-of-00001")
  with open(data, "r+b") as f:
    f.truncate(os.path.getsize(data) // 2)
  for model, expected in ((fewer_layers, "unexpected 16: bert/encoder/layer_1/"),
                          (truncated, "cannot be read (truncated or corrupt?)")):
    out = tmp_path / ("out_" + os.path.basename(model))
    rc, last, output = _cli(["--do_train", "--model=" + model, "--train_file=" + str(train),
                             "--output_dir=" + str(out), "--max_seq_length=16"])
    assert rc == 2 and expected in last and "Traceback" not in output, output[-2000:]
    assert not os.path.exists(out)


def test_vocab_larger_than_the_model(tmp_path):
  small = write_google_model(str(tmp_path / "small"), dict(TINY_CONFIG))[0]
  config = json.load(open(os.path.join(small, "bert_config.json")))
  config["vocab_size"] = 20
  json.dump(config, open(os.path.join(small, "bert_config.json"), "w"))
  rc, last, _ = _train(small, tmp_path / "out", _write(tmp_path / "t.csv", GOOD))
  assert rc == 2 and "has vocab_size 20: the vocab and the model do not belong together" in last


def test_hostile_and_truncated_safetensors(tmp_path):
  hf = tmp_path / "hf"
  hf.mkdir()
  _write(hf / "config.json", json.dumps(dict(TINY_CONFIG, hidden_act="gelu",
                                             model_type="bert")))
  _write(hf / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n")
  with open(hf / "model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", 2 ** 62) + b"{}")  # a header "longer" than any memory
  rc, last, output = _cli(["--hf_dir=%s" % hf, "--output_dir=%s" % (tmp_path / "o")],
                          module="bert_tf.cli.convert")
  assert rc == 2 and "is not a valid safetensors file (header length" in last, output[-2000:]
  header = json.dumps({"w": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}})
  with open(hf / "model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(header)) + header.encode() + b"\0" * 100)  # truncated
  rc, last, _ = _cli(["--hf_dir=%s" % hf, "--output_dir=%s" % (tmp_path / "o")],
                     module="bert_tf.cli.convert")
  assert rc == 2 and "tensor w points outside the file or has the wrong size" in last


def test_hub_module_that_is_not_a_saved_model(model_dir, tmp_path):
  module = tmp_path / "module"
  module.mkdir()
  _write(module / "saved_model.pb", "not a proto")
  rc, last, output = _train(model_dir, tmp_path / "out", _write(tmp_path / "t.csv", GOOD),
                            "--model=", "--bert_hub_module_handle=%s" % module)
  assert rc == 2 and "cannot be loaded as a SavedModel" in last, output[-2000:]


def test_export_dir_that_is_a_file_or_a_run(tmp_path):
  a_file = _write(tmp_path / "a_file", "x")
  rc, last, _ = _cli(["--output_dir=%s" % tmp_path, "--export_dir=%s" % a_file],
                     module="bert_tf.cli.export")
  assert rc == 2 and "--export_dir %s is a file, not a directory" % a_file in last
  _write(tmp_path / "model_info.json", "{}")  # what makes a directory a run's
  for kind, export_dir in (("saved_model", tmp_path), ("hub", tmp_path), ("tflite", tmp_path),
                           ("tflite", tmp_path / "model.tflite")):
    rc, last, _ = _cli(["--output_dir=%s" % a_file, "--export_dir=%s" % export_dir,
                        "--format=" + kind], module="bert_tf.cli.export")
    assert rc == 2 and "--export_dir %s holds a training run: export into another " % tmp_path \
        in last, last


def test_a_model_directory_without_model_files(tmp_path):
  (tmp_path / "empty").mkdir()
  rc, last, _ = _cli(["--do_train", "--model=%s" % (tmp_path / "empty"), "--output_dir=%s" % (
      tmp_path / "out"), "--train_file=%s" % _write(tmp_path / "t.csv", GOOD)])
  assert rc == 2 and "%s is not a model directory (no bert_config.json, vocab.txt or " \
      "bert_model.ckpt in it)" % (tmp_path / "empty") in last, last
  assert not (tmp_path / "out").exists()



def test_a_model_directory_of_another_format_says_what_to_do(model_dir, tmp_path):
  from bert_tf import hub, pretrained  # pylint: disable=g-import-not-at-top
  hf, saved = tmp_path / "hf", tmp_path / "sm"
  for folder, names in ((hf, ("config.json", "vocab.txt", "model.safetensors")),
                        (saved, ("saved_model.pb",))):
    folder.mkdir()
    for name in names:
      (folder / name).write_text("{}")
  with pytest.raises(UsageError, match=r"hf holds a Hugging Face model \(config.json, no "
                     r"bert_config.json\): convert it once with bert-tf-convert --hf_dir="):
    pretrained.check_model_dir(str(hf))
  with pytest.raises(UsageError, match=r"sm is a SavedModel, not a Google-format directory: pass "
                     r"a TF-Hub BERT encoder as --bert_hub_module_handle="):
    pretrained.check_model_dir(str(saved))
  with pytest.raises(UsageError, match=r"is a directory without saved_model.pb: it holds a "
                     r"Google-format model, pass it as --model="):
    hub.resolve_handle(model_dir)


def test_export_flags_that_the_format_does_not_read(tmp_path):
  for flags, message in (
      (["--quantization=int8"], "--quantization is read only with --format=tflite, not "
                                "--format=saved_model: leave it out."),
      (["--format=tflite", "--version=3"], "--version is read only with --format=saved_model"),
      (["--format=tflite", "--dtype=bfloat16"], "--dtype is read only with --format=saved_model"),
      (["--format=hub", "--model=all-MiniLM-L6-v2"], "--model exports a pretrained model; "
                                                     "--output_dir exports a training run"),
      (["--format=hub", "--max_seq_length=64"], "--max_seq_length is the run's own")):
    rc, last, _ = _cli(["--output_dir=%s" % tmp_path, "--export_dir=%s" % (tmp_path / "e")]
                       + flags, module="bert_tf.cli.export")
    assert rc == 2 and message in last, (flags, last)
  # At its default value, the flag changes nothing: the export goes on (to the empty run's error).
  rc, last, _ = _cli(["--output_dir=%s" % tmp_path, "--export_dir=%s" % (tmp_path / "e"),
                      "--quantization=float32"], module="bert_tf.cli.export")
  assert rc == 2 and "read only with" not in last and str(tmp_path) in last, last
  rc, last, _ = _cli(["--format=hub", "--model=all-MiniLM-L6-v2", "--checkpoint=model.ckpt-3",
                      "--export_dir=%s" % (tmp_path / "e")], module="bert_tf.cli.export")
  assert rc == 2 and "--checkpoint picks a training run's model.ckpt-N: it needs --output_dir" \
      in last, last
  assert not (tmp_path / "e").exists()


def test_suspicious_but_legal_input_warns(model_dir, tmp_path):
  one_class = ("text,label\n" + "good film %d,pos\n" * 8 % tuple(range(8)) + "odd one,rare\n"
               + "odd two,1\nodd three,1.0\n")
  rc, _, output = _train(model_dir, tmp_path / "out", _write(tmp_path / "t.csv", one_class),
                         "--learning_rate=0.05", "--dev_split=0", "--label_list=pos,rare,1,1.0,x",
                         "--truncation=head_tail")
  assert rc == 0, output[-3000:]
  assert "3 label(s) occur only once (1, 1.0, rare); they cannot be learnt reliably" in output
  assert "--learning_rate=0.05 is far above BERT's usual 1e-5..1e-4" in output
  assert "the labels '1' and '1.0' are one number written differently" in output
  assert "1 label(s) of the label list never occur (x)" in output
  assert ("--truncation=head_tail keeps the first 128 tokens, all that --max_seq_length=16 "
          "holds, so it cuts like head: pass a smaller --head_tokens (e.g. 3)") in output


def test_options_that_nothing_reads_are_said(caplog):
  from bert_tf.config import RunConfig  # pylint: disable=g-import-not-at-top
  base = dict(output_dir="out", train_file="t.csv", do_train=True)
  RunConfig(**base, head_tokens=4, window_pooling="max", group_by_length=True,
            dynamic_padding=False)
  RunConfig(**base, regression=True, label_list="a,b")
  for said in ("--head_tokens is read only with --truncation=head_tail, so this run ignores",
               "--window_pooling is read only with --doc_stride, so",
               "--group_by_length is read only with --dynamic_padding",
               "--label_list is not read with --regression (a score has no labels), so"):
    assert said in caplog.text
  caplog.clear()
  RunConfig(**base, truncation="head_tail", head_tokens=4, window_pooling="max", doc_stride=8)
  RunConfig(**dict(base, do_train=False, do_predict=True), head_tokens=4)  # a run's own
  assert "this run ignores" not in caplog.text
  RunConfig(**base, truncation="head_tail", head_tokens=0)
  assert "--head_tokens=0 keeps only the end, as --truncation=tail does" in caplog.text


def test_more_suspicious_input_warns(model_dir, tmp_path):
  """Numbers as texts, a --data_dir file that --train_file shadows, a batch larger than the
  data and a tiny --max_seq_length: each legal, each said."""
  numbers = "text,label\n" + "".join("%d,%s\n" % (i, "ab"[i % 2]) for i in range(12))
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  _write(data_dir / "train.csv", GOOD)
  rc, _, output = _train(model_dir, tmp_path / "out", _write(tmp_path / "ids.csv", numbers),
                         "--data_dir=%s" % data_dir, "--dev_split=0", "--train_batch_size=16",
                         "--max_seq_length=6")
  assert rc == 0, output[-3000:]
  assert ("training data: 12 of the first 12 texts are numbers (e.g. '0'): is --text_column "
          "the column that holds the text?") in output
  assert "Reading --train_file=%s; %s in --data_dir is not read." % (
      tmp_path / "ids.csv", data_dir / "train.csv") in output
  assert "--train_batch_size=16 is more than the 12 training examples" in output
  assert "--max_seq_length=6 keeps at most 4 token(s) of a text after [CLS] and [SEP]" in output


def test_a_glue_task_reads_data_dir_only(model_dir, tmp_path):
  train = _write(tmp_path / "t.csv", GOOD)
  rc, last, _ = _train(model_dir, tmp_path / "out", train, "--task_name=sst-2",
                       "--data_dir=%s" % tmp_path)
  assert rc == 2 and last.endswith("--train_file is not read with --task_name=sst-2, which "
                                   "reads its own files from --data_dir: leave out --task_name "
                                   "to read your own files."), last
  rc, last, _ = _cli(["--do_train", "--model=" + model_dir, "--task_name=cola",
                      "--max_seq_length=16", "--output_dir=%s" % (tmp_path / "out")])
  assert rc == 2 and last.endswith("This task reads train.tsv from --data_dir: pass "
                                   "--data_dir."), last
  assert not os.path.exists(tmp_path / "out")


def test_a_full_disk_is_one_line_and_the_rerun_resumes(model_dir, tmp_path):
  """A file-size limit stands in for a full disk (EFBIG instead of ENOSPC): the write that
  hits it stops with one line, leaves no temporary, and the run finishes when rerun."""
  train = _write(tmp_path / "t.csv", GOOD)
  out = tmp_path / "out"
  args = ["--do_train", "--model=" + model_dir, "--train_file=%s" % train, "--output_dir=%s" % out,
          "--max_seq_length=16", "--num_train_epochs=1", "--train_batch_size=8"]
  script = ("import resource, runpy, signal, sys\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (100000, 100000))\n"
            "sys.argv = ['run_classifier.py'] + %r\n"
            "runpy.run_path(%r, run_name='__main__')\n" % (args, os.path.join(REPO,
                                                                               "run_classifier.py")))
  # A real process: the file-size limit would also cap run_tool's captured output files.
  proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                        timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  last = proc.stderr.strip().splitlines()[-1]
  assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
  assert re.match(r"error: Cannot write .*: File too large; free some space .* and rerun", last)
  assert not [n for n in os.listdir(out) if n.startswith(".tmp-")]
  rc, _, output = _train(model_dir, out, train)
  assert rc == 0, output[-2000:]



def test_a_run_inside_its_class_folders_is_refused(model_dir, tmp_path):
  for label in ("pos", "neg"):
    (tmp_path / "train" / label).mkdir(parents=True)
    for i in range(4):
      _write(tmp_path / "train" / label / ("%d.txt" % i), "%s film %d" % (label, i))
  for out in (tmp_path / "train", tmp_path / "train" / "run"):
    rc, last, _ = _train(model_dir, out, tmp_path / "train")
    assert rc == 2 and "--output_dir %s is inside the train data folder %s: the run's files " \
        "would be read as data" % (out, tmp_path / "train") in last, last
  assert sorted(p.name for p in (tmp_path / "train").iterdir()) == ["neg", "pos"]


def test_eval_with_other_label_flags_than_training_names_the_contradiction(model_dir, tmp_path):
  train = _write(tmp_path / "t.csv", GOOD)
  rc, _, output = _train(model_dir, tmp_path / "out", train, "--dev_split=0")
  assert rc == 0, output[-2000:]
  rc, last, _ = _cli(["--do_eval", "--output_dir=%s" % (tmp_path / "out"), "--dev_file=%s" % train,
                      "--regression"])
  assert rc == 2 and "The run in %s is classification but the data flags describe regression" % (
      tmp_path / "out") in last, last


def test_a_hub_handle_that_is_not_an_encoder_stops_before_writing(model_dir, tmp_path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  class Doubler(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def __call__(self, x):
      return tf.math.multiply(x, tf.constant(2.0))

  tf.saved_model.save(Doubler(), str(tmp_path / "doubler"))
  rc, last, _ = _cli(["--do_train", "--bert_hub_module_handle=%s" % (tmp_path / "doubler"),
                      "--vocab_file=%s/vocab.txt" % model_dir, "--do_lower_case=true",
                      "--train_file=%s" % _write(tmp_path / "t.csv", GOOD),
                      "--output_dir=%s" % (tmp_path / "out"), "--max_seq_length=16"])
  assert rc == 2 and "is not a BERT encoder: it cannot be called with input_word_ids" in last, last
  assert not (tmp_path / "out").exists()

def test_remote_paths_are_refused_not_written_as_local_folders(tmp_path):
  from bert_tf.config import RunConfig
  from bert_tf.errors import UsageError
  for name in ("output_dir", "train_file"):
    kwargs = dict(output_dir=str(tmp_path), train_file="x.csv", do_train=True)
    kwargs[name] = "gs://bucket/" + name
    with pytest.raises(UsageError, match="--%s=gs://bucket/%s: remote paths" % (name, name)):
      RunConfig(**kwargs)


def test_model_files_found_as_the_model_says(tmp_path):
  from bert_tf import checkpoints, pretrained  # pylint: disable=g-import-not-at-top
  from bert_tf.config import RunConfig  # pylint: disable=g-import-not-at-top
  cased, weights = write_google_model(str(tmp_path / "cased"), do_lower_case=False)
  run = lambda **model: pretrained.resolve_model_files(RunConfig(
      output_dir=str(tmp_path / "out"), do_train=True, train_file="t.csv", **model))
  google_flags = dict(init_checkpoint=cased + "/bert_model.ckpt",
                      bert_config_file=cased + "/bert_config.json", vocab_file=cased + "/vocab.txt")
  # Google's three flags read the casing the model's directory records, as --model does.
  assert run(**google_flags).do_lower_case is False
  assert run(**google_flags, do_lower_case=True).do_lower_case is True
  # --init_checkpoint as the directory (with or without a slash), or as a file of the prefix.
  for given in (cased, cased + "/", cased + "/bert_model.ckpt.index"):
    files = run(init_checkpoint=given)
    assert (files.vocab_file, files.do_lower_case) == (os.path.join(cased, "vocab.txt"), False)
    assert checkpoints.list_checkpoint(files.init_checkpoint)
  # Several checkpoints and no index: which one is meant is unclear.
  checkpoints.write_checkpoint(weights, os.path.join(cased, "model.ckpt-9"))
  with pytest.raises(UsageError, match=r"cased holds 2 checkpoints \(bert_model.ckpt, "
                     r"model.ckpt-9\) and no `checkpoint` index naming the latest: pass one"):
    checkpoints.list_checkpoint(cased)
  for text, said in (('{"do_lower_case": "false"}',
                      r'do_lower_case must be true or false \(JSON\), got "false"'),
                     ("{do_lower_case: false}", r"cannot be read as JSON: Expecting property"),
                     ("[]", r"does not hold a JSON object")):
    _write(os.path.join(cased, "tokenizer_config.json"), text)
    with pytest.raises(UsageError, match=r"tokenizer_config.json(: | )" + said):
      run(model=cased)
  with pytest.raises(UsageError, match=r"^Model directory \./nowhere does not exist\.$"):
    run(model="./nowhere")
  # A cased fine-tuning run as the start of another: its casing is in model_info.json.
  finetuned = tmp_path / "finetuned"
  finetuned.mkdir()
  for name in ("bert_config.json", "vocab.txt"):
    shutil.copy(os.path.join(cased, name), str(finetuned))
  checkpoints.write_checkpoint(weights, str(finetuned / "model.ckpt-3"))
  _write(finetuned / "model_info.json", json.dumps(dict(
      task=dict(kind="classification", label_list=["neg", "pos"]),
      preprocessor=dict(do_lower_case=False, max_seq_length=16))))
  assert run(init_checkpoint=str(finetuned / "model.ckpt-3")).do_lower_case is False


def test_sentence_pairs_on_a_model_with_one_token_type(tmp_path):
  one_type = write_google_model(str(tmp_path / "one_type"), dict(TINY_CONFIG, type_vocab_size=1))[0]
  pairs = _write(tmp_path / "pairs.csv", "text,other,label\n" + "".join(
      "good film,fine film %d,pos\nbad film,dull film %d,neg\n" % (i, i) for i in range(8)))
  rc, last, output = _train(one_type, tmp_path / "out", pairs, "--text_b_column=other")
  assert rc == 2 and last.endswith("bert_config.json has type_vocab_size 1, but the data are "
                                   "sentence pairs (the second text is token type 1): train "
                                   "single texts, or use a model with two token types."), output
  assert not os.path.exists(tmp_path / "out")


def test_models_of_other_kinds_are_named(model_dir, tmp_path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from bert_tf import checkpoints, modeling, pretrained  # pylint: disable=g-import-not-at-top
  run = tmp_path / "run"
  run.mkdir()
  for name in ("model_info.json", "bert_config.json", "vocab.txt"):
    _write(run / name, "{}")
  with pytest.raises(UsageError, match=r"run is a training run's output_dir, not a model "
                     r"directory: to start from its weights, pass --init_checkpoint=.*/run/model"):
    pretrained.check_model_dir(str(run))
  keras_style = tmp_path / "tf2" / "ckpt"
  tf.train.Checkpoint(v=tf.Variable([1.0])).write(str(keras_style))
  with pytest.raises(UsageError, match=r"is a TF2 object-based checkpoint \(tf.train.Checkpoint"):
    checkpoints.read_variables({"bert/x": [1]}, str(keras_style))
  config = json.load(open(os.path.join(model_dir, "bert_config.json")))
  with pytest.raises(UsageError, match=r"^b: hidden_dropout_prob must be a number, got '0.1'"):
    modeling.BertConfig.from_dict(dict(config, hidden_dropout_prob="0.1"), "b")
