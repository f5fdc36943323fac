"""SavedModel (text in / ids in), TFLite, TF-Hub export and fine-tuning, predictor."""

import json
import os
import time
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints, export, hub, modeling, predictor, text_graph
from bert_tf.config import RunConfig
from bert_tf.errors import UsageError
from bert_tf.runner import run_classifier
from conftest import TINY_CONFIG, TINY_VOCAB, write_google_model
from test_training import write_sentiment_csv
from tool_runner import run_tool

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXTS = ["the good movie", "a bad film !", "unwanted running is not very fun", "中国 好", ""]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  tmp = tmp_path_factory.mktemp("export")
  model_dir, _ = write_google_model(str(tmp / "tiny"), TINY_CONFIG)
  data = tmp / "data"
  data.mkdir()
  write_sentiment_csv(str(data / "train.csv"), 64, seed=1)
  out = str(tmp / "run")
  run_classifier(RunConfig(
      output_dir=out, data_dir=str(data), task_name="file", do_train=True,
      init_checkpoint=model_dir + "/bert_model.ckpt", bert_config_file=model_dir +
      "/bert_config.json", vocab_file=model_dir + "/vocab.txt", max_seq_length=16,
      train_batch_size=16, learning_rate=1e-3, num_train_epochs=1, save_checkpoints_steps=4))
  return dict(tmp=tmp, out=out, model_dir=model_dir, data=str(data))


def test_saved_model_signatures_match_predictor(trained):
  export_dir = str(trained["tmp"] / "serving")
  path = export.export_saved_model(trained["out"], export_dir)
  assert path.endswith(os.path.join("serving", "1"))
  assert export.export_saved_model(trained["out"], export_dir).endswith("2")  # next version
  with pytest.raises(UsageError, match=r"holds SavedModel versions \(1, 2\): pass one of them, "
                                       r"e.g. .*serving.2"):
    predictor.Predictor(export_dir)
  reference = predictor.Predictor(trained["out"]).predict_proba(TEXTS)

  import tensorflow_text  # noqa: F401  (the string-in signature's ops)
  loaded = tf.saved_model.load(path)
  text_sig = loaded.signatures["serving_default"]
  out = text_sig(text_a=tf.constant(TEXTS))
  assert np.abs(out["probabilities"].numpy() - reference).max() <= 1e-5
  assert [x.decode() for x in out["label_names"].numpy()] == [
      ["neg", "pos"][i] for i in reference.argmax(1)]
  library = text_sig.graph.as_graph_def().library
  assert any("pack_tokens" in node.name for f in library.function for node in f.node_def), (
      "the SavedModel computes its padding")
  ids_sig = loaded.signatures["serve_ids"]
  features = text_graph.BertTextPreprocessor(trained["out"] + "/vocab.txt", True, 16)(
      tf.constant(TEXTS))
  ids_out = ids_sig(**features)
  np.testing.assert_allclose(ids_out["probabilities"].numpy(), reference, atol=1e-5)
  # The model_info the predictor needs travels with the export.
  info = json.load(open(os.path.join(path, "assets.extra", "model_info.json")))
  assert info["task"]["label_list"] == ["neg", "pos"]
  saved_predictor = predictor.Predictor(path)
  np.testing.assert_allclose(saved_predictor.predict_proba(TEXTS), reference, atol=1e-5)


def _bf16_slow_here(monkeypatch):
  """This CPU multiplies bfloat16 at 0.6x float32's speed (and has no GPU)."""
  from bert_tf import hardware  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(hardware, "bf16_matmul_speedup", lambda: 0.6)
  monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2", "avx512_bf16"})
  devices = tf.config.list_logical_devices
  monkeypatch.setattr(tf.config, "list_logical_devices",
                      lambda kind=None: [] if kind == "GPU" else devices(kind))


def test_bfloat16_prediction_and_export_agree_with_float32(trained, tmp_path, monkeypatch,
                                                           caplog):
  import tf_keras  # pylint: disable=g-import-not-at-top
  _bf16_slow_here(monkeypatch)
  reference = predictor.Predictor(trained["out"]).predict_proba(TEXTS)
  assert "slower" not in caplog.text
  bf16 = predictor.Predictor(trained["out"], dtype="bfloat16")
  assert ("--dtype=bfloat16 will likely make prediction slower on this CPU: its bfloat16 matrix "
          "products ran at 0.60x float32's speed (AVX-512 BF16 without AMX). Leave --dtype out "
          "to predict in float32.") in caplog.text
  kernels = [v for v in bf16.model.weights if "kernel" in v.name]
  assert kernels and {v.dtype for v in kernels} == {tf.bfloat16}  # stored, not cast per call
  assert tf_keras.mixed_precision.global_policy().name == "float32"  # the caller's, put back
  probs = bf16.predict_proba(TEXTS)
  # Computed in bfloat16 (so not float32's to the last bit), yet the same answers.
  assert probs.dtype == np.float32 and 0 < np.abs(probs - reference).max() < 0.02

  path = export.export_saved_model(trained["out"], str(tmp_path / "serving"), dtype="bfloat16")
  info = json.load(open(os.path.join(path, "assets.extra", "model_info.json")))
  assert info["dtype"] == "bfloat16"
  stored = tf.train.load_checkpoint(os.path.join(path, "variables", "variables"))
  assert tf.bfloat16 in set(stored.get_variable_to_dtype_map().values())  # half the size
  caplog.clear()
  served = predictor.Predictor(path).predict_proba(TEXTS)
  assert np.abs(served - reference).max() < 0.02
  assert "This bfloat16 SavedModel will likely make prediction slower" in caplog.text
  with pytest.raises(UsageError, match=r"--dtype=float32: .*serving.1 was exported in bfloat16 "
                                       r"and computes in it: leave --dtype out"):
    predictor.Predictor(path, dtype="float32")
  for model_dir in (trained["out"], path):
    with pytest.raises(UsageError, match=r"--dtype=float16: a model predicts in float32 or "
                                         r"bfloat16"):
      predictor.Predictor(model_dir, dtype="float16")
  # An export from before dtypes were recorded is float32's.
  old = export.export_saved_model(trained["out"], str(tmp_path / "old"))
  info_path = os.path.join(old, "assets.extra", "model_info.json")
  info = json.load(open(info_path))
  assert info.pop("dtype") == "float32"
  with open(info_path, "w") as f:
    json.dump(info, f)
  np.testing.assert_allclose(predictor.Predictor(old, dtype="float32").predict_proba(TEXTS),
                             reference, atol=1e-5)
  with pytest.raises(UsageError, match=r"old.1 was exported in float32"):
    predictor.Predictor(old, dtype="bfloat16")


def test_serving_limits(trained, tmp_path, monkeypatch):
  import tensorflow_text  # noqa: F401
  path = export.export_saved_model(trained["out"], str(tmp_path / "limited"), max_batch_texts=3,
                                   max_text_chars=40)
  signature = tf.saved_model.load(path).signatures["serving_default"]
  assert signature(text_a=tf.constant(TEXTS[:3]))["probabilities"].shape == (3, 2)
  with pytest.raises(tf.errors.InvalidArgumentError, match="too many texts in one request; the "
                     "limit is 3"):
    signature(text_a=tf.constant(TEXTS[:4]))
  with pytest.raises(tf.errors.InvalidArgumentError, match="longer than the limit of 40"):
    signature(text_a=tf.constant(["good " * 9]))
  from bert_tf.errors import UsageError
  monkeypatch.setattr(predictor, "MAX_TEXT_CHARS", 40)
  with pytest.raises(UsageError, match="Text 1 has 45 characters; the limit is 40"):
    predictor.Predictor(trained["out"]).predict(["good", "good " * 9])


def test_tflite_float_and_int8(trained):
  ref = predictor.Predictor(trained["out"])
  from bert_tf.features import featurize
  from bert_tf.processors import InputExample
  arrays = featurize([InputExample(str(i), t) for i, t in enumerate(TEXTS)], ref.task,
                     ref.preprocessor, num_workers=1, show_progress=False)
  expected = ref.predict_proba(TEXTS)
  # Quantization error is judged against how much the outputs vary between texts (a few
  # hundredths after this short training): a broken model fails, rounding does not.
  spread = float(expected.max() - expected.min())
  assert spread > 1e-2
  for quantization, tolerance in (("float32", 1e-5), ("float16", 0.05 * spread),
                                  ("int8", 0.1 * spread)):
    path = export.export_tflite(trained["out"], str(trained["tmp"] / ("m_%s.tflite" % quantization)),
                                quantization)
    interpreter = export.tflite_interpreter(path)
    got = np.concatenate([export.run_tflite(interpreter, dict(
        input_word_ids=arrays.input_ids[i:i + 1], input_mask=arrays.input_mask[i:i + 1],
        input_type_ids=arrays.segment_ids[i:i + 1])) for i in range(len(TEXTS))])
    assert np.abs(got - expected).max() <= tolerance, quantization
  # String in: tf-text's FastBertTokenizer inside the model (custom ops), float and int8.
  for quantization, tolerance in (("float32", 1e-4), ("int8", 0.1 * spread)):
    path = export.export_tflite(trained["out"], str(trained["tmp"] / "text.tflite"),
                                quantization, text_input=True)
    interpreter = export.tflite_interpreter(path, text_input=True)
    got = np.concatenate([export.run_tflite_text(interpreter, t) for t in TEXTS])
    assert np.abs(got - expected).max() <= tolerance, quantization


def test_a_trained_runs_hub_encoder_has_every_position(trained, tmp_path):
  # The classifier's encoder computes [CLS] alone in its last layer; its export must not.
  encoder_dir, _ = export.export_run_to_hub(trained["out"], str(tmp_path / "hub"))
  exported = hub.load_hub_encoder(encoder_dir, trainable=False)
  model = predictor.load_trained_model(trained["out"])
  # Built apart: a full encoder, restored from the run's checkpoint by Google's names.
  full = modeling.build_encoder(model.bert_config)
  checkpoints.restore_variables(modeling.google_variable_map(full), model.checkpoint,
                                allow_unused=True)
  features = text_graph.BertTextPreprocessor(trained["out"] + "/vocab.txt", True, 16)(
      tf.constant(TEXTS))
  got, want = exported(features), full(features)
  assert export.encoder_of(model.model)(features)["sequence_output"].shape[1] == 1  # [CLS]
  assert got["sequence_output"].shape == (len(TEXTS), 16, TINY_CONFIG["hidden_size"])
  for name in ("sequence_output", "pooled_output"):
    np.testing.assert_allclose(got[name], want[name], atol=1e-5)
  with pytest.raises(UsageError, match="already holds a TF-Hub export"):
    export.export_run_to_hub(trained["out"], str(tmp_path / "hub"))  # not over another
  shutil.rmtree(str(tmp_path / "hub" / "preprocessor"))  # as if interrupted: redone
  assert export.export_run_to_hub(trained["out"], str(tmp_path / "hub"))[1].endswith("preprocessor")
  # A user's own encoder/ or preprocessor/ is never replaced.
  for name in ("encoder", "preprocessor"):
    (tmp_path / name / name).mkdir(parents=True)
    with pytest.raises(UsageError,
                       match="holds its own %s/, which a TF-Hub export would replace" % name):
      export.export_run_to_hub(trained["out"], str(tmp_path / name))
    assert os.listdir(str(tmp_path / name)) == [name]


def test_tflite_does_not_share_a_folder_with_another_models_labels(trained, tmp_path):
  (tmp_path / "labels.txt").write_text("acting\nplot\nmusic\n")  # another run's export
  with pytest.raises(UsageError, match="holds another model's labels.txt"):
    export.export_tflite(trained["out"], str(tmp_path / "model_ids_int8.tflite"), "int8")
  assert sorted(os.listdir(tmp_path)) == ["labels.txt"]
  (tmp_path / "bin").mkdir()
  (tmp_path / "bin" / "vocab.txt").write_bytes(b"\xff\xfe\x00")  # not text at all
  with pytest.raises(UsageError, match="holds another model's vocab.txt"):
    export.export_tflite(trained["out"], str(tmp_path / "bin" / "m.tflite"))
  # The same labels and vocab, from another run: its .tflite would be replaced unseen.
  (tmp_path / "same").mkdir()
  (tmp_path / "same" / "labels.txt").write_text("neg\npos\n")
  (tmp_path / "same" / "model_ids_float32.json").write_text('{"run": "0123456789abcdef"}')
  with pytest.raises(UsageError, match=r"holds model_ids_float32.tflite, exported from another "
                     r"run: export this run into another --export_dir"):
    export.export_tflite(trained["out"], str(tmp_path / "same" / "model_ids_float32.tflite"))


def test_tflite_conversion_temporaries_stay_beside_the_export(trained, tmp_path, monkeypatch):
  """TF's converter saves the model into tempfile's folder: beside the export, where what a
  killed export left (here an hour old) is removed by the next one."""
  import tempfile  # pylint: disable=g-import-not-at-top
  stale = tmp_path / ".tmp-m.tflite-killed"
  stale.mkdir()
  (stale / "saved_model.pb").write_bytes(b"x")
  os.utime(stale, (time.time() - 7200,) * 2)
  used, mkdtemp = [], tempfile.mkdtemp
  monkeypatch.setattr(tempfile, "mkdtemp", lambda *a, **k: used.append(
      k.get("dir") or tempfile.gettempdir()) or mkdtemp(*a, **k))
  export.export_tflite(trained["out"], str(tmp_path / "m.tflite"))
  assert all(d.startswith(str(tmp_path)) for d in used), used
  assert any(os.path.basename(d).startswith(".tmp-m.tflite-") for d in used), used  # TF's
  assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]
  assert tempfile.gettempdir() != str(tmp_path) and os.path.exists(tmp_path / "m.tflite")


def test_hub_export_loads_as_keras_layer_and_fine_tunes(trained, tmp_path, caplog):
  encoder_dir, preprocessor_dir = export.export_pretrained_to_hub(
      trained["model_dir"], str(tmp_path / "hub"), max_seq_length=16)
  ours = modeling.load_encoder(trained["model_dir"])
  hub_encoder = hub.load_hub_encoder(encoder_dir, trainable=True)
  vocab_file, lower = hub.module_vocab(encoder_dir)
  assert lower is True and open(vocab_file).read() == open(
      trained["model_dir"] + "/vocab.txt").read()
  import tensorflow_hub
  import tensorflow_text  # noqa: F401
  preprocess = tensorflow_hub.KerasLayer(preprocessor_dir)
  inputs = preprocess(tf.constant(TEXTS))
  np.testing.assert_allclose(hub_encoder(inputs)["pooled_output"].numpy(),
                             ours(inputs)["pooled_output"].numpy(), atol=1e-5)
  with pytest.raises(UsageError, match=r"is a BERT preprocessor \(it takes strings\), not an "
                     r"encoder: pass the encoder's handle"):
    hub.check_encoder(preprocessor_dir)
  # A run's inputs the encoder cannot take stop before training (its 40 positions, 53 ids).
  hub.check_encoder(encoder_dir, 40, len(TINY_VOCAB) - 1, pairs=True)
  with pytest.raises(UsageError, match=r"does not take --max_seq_length=41 positions: lower"):
    hub.check_encoder(encoder_dir, 41, 5)
  with pytest.raises(UsageError, match=r"does not take word ids up to 99, the vocab's largest"):
    hub.check_encoder(encoder_dir, 16, 99)
  from bert_tf import pretrained  # pylint: disable=g-import-not-at-top
  files = pretrained.resolve_model_files(RunConfig(
      output_dir=str(tmp_path / "unused"), do_train=True, train_file="t.csv",
      bert_hub_module_handle=encoder_dir, do_lower_case=False))
  assert files.do_lower_case is False and ("--do_lower_case=False contradicts the casing TF-Hub "
                                           "module %s records" % encoder_dir) in caplog.text
  with pytest.raises(UsageError, match=r"Cannot use --max_seq_length=41 because the BERT model "
                     r"was only trained up to sequence length 40"):
    export.export_pretrained_to_hub(trained["model_dir"], str(tmp_path / "hub41"),
                                    max_seq_length=41)

  out = str(tmp_path / "hub_run")
  config = RunConfig(output_dir=out, data_dir=trained["data"], task_name="file", do_train=True,
                     do_predict=True, test_file=trained["data"] + "/train.csv",
                     bert_hub_module_handle=encoder_dir, max_seq_length=16,
                     train_batch_size=16, learning_rate=1e-3, num_train_epochs=1)
  result = run_classifier(config)
  assert result["train"]["global_step"] == 3  # int(57 train rows / 16) after the dev split
  stored = tf.train.load_checkpoint(os.path.join(out, "model.ckpt-3"))
  names = stored.get_variable_to_shape_map()
  assert "output_weights" in names and any(n.startswith("hub/") for n in names)
  # The encoder itself was fine-tuned, not only the head.
  changed = [n for n in names if n.startswith("hub/") and not n.endswith(("adam_m", "adam_v"))
             and "word_embeddings" in n]
  assert changed
  before = dict((v.name.split(":")[0], v.numpy()) for v in ours.variables)
  after = stored.get_tensor(changed[0])
  assert not any(np.array_equal(after, b) for b in before.values() if b.shape == after.shape)
  # Predict-only later on that output_dir finds the hub module from model_info.json.
  again = run_classifier(RunConfig(output_dir=out, data_dir=trained["data"], task_name="file",
                                   do_predict=True, test_file=trained["data"] + "/train.csv",
                                   max_seq_length=16))
  assert again["predict"]["num_examples"] == 64
  with pytest.raises(UsageError, match=r"--dtype=bfloat16: .*hub_run was trained on a TF-Hub "
                                       r"encoder, which computes in its SavedModel's own dtype"):
    predictor.Predictor(out, dtype="bfloat16")


def test_hub_handle_without_network_is_one_clear_line():
  from bert_tf.errors import UsageError
  with pytest.raises(UsageError, match="Cannot download TF-Hub module .*local directory"):
    hub.resolve_handle("https://tfhub.dev/tensorflow/bert_en_uncased_L-12_H-768_A-12/4")
  with pytest.raises(UsageError, match="no such directory"):
    hub.resolve_handle("/nonexistent/module")


def test_predictor_cli(trained, tmp_path):
  texts = tmp_path / "texts.txt"
  # Blank lines keep their place, also those of zero-width characters alone.
  texts.write_text("the good movie\n\na bad film\n\u200b\u00ad\n", encoding="utf-8")
  proc = run_tool(["-m", "bert_tf.cli.predict", "--model_dir=" + trained["out"],
                   "--input_file=" + str(texts)], cwd=REPO)
  assert proc.returncode == 0, proc.stderr[-2000:]
  lines = [json.loads(l) for l in proc.stdout.splitlines()]
  assert [l["text"] for l in lines] == ["the good movie", "", "a bad film", "\u200b\u00ad"]
  assert "model.ckpt-3 loaded in" in proc.stderr  # says which checkpoint answered
  assert lines[1] == {"text": "", "empty": True}  # in its place, with no answer
  assert lines[3] == {"text": "\u200b\u00ad", "empty": True}
  assert "blank" not in proc.stderr  # marked, so not also warned about
  assert all(l["label"] in ("neg", "pos") and abs(sum(l["probabilities"].values()) - 1) < 1e-5
             for l in lines[0:3:2])
  # bfloat16, from the run and from its bfloat16 SavedModel, each the Predictor's answer.
  exported = run_tool(["-m", "bert_tf.cli.export", "--output_dir=" + trained["out"],
                       "--export_dir=" + str(tmp_path / "bf16"), "--dtype=bfloat16"], cwd=REPO)
  assert exported.returncode == 0, exported.stderr[-2000:]
  for model_dir, options in ((trained["out"], ["--dtype=bfloat16"]), (str(tmp_path / "bf16" / "1"),
                                                                      [])):
    proc = run_tool(["-m", "bert_tf.cli.predict", "--model_dir=" + model_dir,
                     "--text=the good movie"] + options, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    in_bf16 = json.loads(proc.stdout)["probabilities"]
    expected = predictor.Predictor(model_dir, dtype="bfloat16").predict(["the good movie"])[0]
    assert all(abs(in_bf16[k] - p) < 1e-6 for k, p in expected["probabilities"].items())
    assert in_bf16 != lines[0]["probabilities"]  # not float32's
  proc = run_tool(["-m", "bert_tf.cli.predict", "--model_dir=" + trained["out"], "--text=good",
                   "--text_b=film"], cwd=REPO)
  last = proc.stderr.strip().splitlines()[-1]
  assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-1000:]
  assert last.startswith("error: --text_b:") and "single texts; leave --text_b out" in last, last
  for content, expected in ((b"", "is empty: put one text per line"),
                            (b"good\x00film\n", "holds NUL bytes"),
                            (b"good\ncaf\xe9\n", "line 2: bytes are not valid utf-8")):
    texts.write_bytes(content)
    proc = run_tool(["-m", "bert_tf.cli.predict", "--model_dir=/nowhere",
                     "--input_file=" + str(texts)], cwd=REPO)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2 and last.startswith("error: --input_file"), proc.stderr[-1000:]
    assert expected in last and "Traceback" not in proc.stderr, last


def _train_kind(trained, out, data, **options):
  return run_classifier(RunConfig(
      output_dir=out, data_dir=data, task_name="file", do_train=True, max_seq_length=16,
      init_checkpoint=trained["model_dir"] + "/bert_model.ckpt", train_batch_size=16,
      learning_rate=1e-3, num_train_epochs=1, dev_split=0.0, **options))


def test_multi_label_thresholds_drive_every_output(trained, tmp_path):
  from bert_tf.run_dir import RunDir
  data = tmp_path / "ml"
  data.mkdir()
  write_sentiment_csv(str(data / "train.csv"), 32, 1, multi_label=True)
  write_sentiment_csv(str(data / "test.csv"), 12, 3, multi_label=True)
  out = str(tmp_path / "ml_run")
  _train_kind(trained, out, str(data), label_column="pos,neg")
  reference = predictor.Predictor(out).predict_proba(TEXTS)
  # Thresholds that split these probabilities differently from 0.5, per label: halfway
  # between two middle ones, far from each (the export's probabilities differ by < 1e-5).
  middle = np.sort(reference, axis=0)[len(TEXTS) // 2 - 1:len(TEXTS) // 2 + 1]
  cut = [float(c) for c in middle.mean(axis=0)]
  assert (np.abs(reference - np.array(cut)) > 1e-5).all()
  RunDir(out).save_thresholds(["pos", "neg"], cut, ["test", "test"])
  expected = (reference >= np.array(cut)).astype(int)
  assert expected.tolist() != (reference >= 0.5).astype(int).tolist()
  decided = predictor.Predictor(out).predict(TEXTS)
  assert [[l in d["labels"] for l in ("pos", "neg")] for d in decided] == expected.astype(
      bool).tolist()
  import tensorflow_text  # noqa: F401
  signature = tf.saved_model.load(export.export_saved_model(out, str(tmp_path / "s"))
                                  ).signatures["serving_default"]
  served = signature(text_a=tf.constant(TEXTS))
  np.testing.assert_allclose(served["probabilities"].numpy(), reference, atol=1e-5)
  assert served["label_ids"].numpy().tolist() == expected.tolist()
  run_classifier(RunConfig(output_dir=out, data_dir=str(data), label_column="pos,neg",
                           do_predict=True))
  import csv
  rows = list(csv.DictReader(open(os.path.join(out, "predictions.csv"))))
  probs = np.array([[float(r["prob_pos"]), float(r["prob_neg"])] for r in rows])
  for row, p in zip(rows, probs):
    assert row["prediction"] == ";".join(l for l, c, x in zip(("pos", "neg"), cut, p) if x >= c)
  assert "label" in rows[0]  # the true labels are kept next to the predictions


def test_pair_and_regression_exports_match_the_predictor(trained, tmp_path):
  data = tmp_path / "pairs"
  data.mkdir()
  rows = ["a,b,label"] + ["%s,%s,%s" % (TEXTS[i % 3], TEXTS[(i + 1) % 3], "xy"[i % 2])
                          for i in range(32)]
  (data / "train.csv").write_text("\n".join(rows) + "\n")
  out = str(tmp_path / "pair_run")
  # Tail truncation and --clean_text: what a pair whose second text is empty is cut to, and
  # what the TF-Hub export's preprocessor must do too.
  _train_kind(trained, out, str(data), text_column="a", text_b_column="b", truncation="tail",
              clean_text=True)
  import tensorflow_text  # noqa: F401
  first = TEXTS + ["see http://x.y/z " + " ".join(TEXTS[:3])] * 2
  second = ["good fun", "", "bad"] + TEXTS[:2] + ["", "\u200b"]
  reference = predictor.Predictor(out).predict_proba(first, second)
  signature = tf.saved_model.load(export.export_saved_model(out, str(tmp_path / "s1"))
                                  ).signatures["serving_default"]
  served = signature(text_a=tf.constant(first), text_b=tf.constant(second))
  np.testing.assert_allclose(served["probabilities"].numpy(), reference, atol=1e-5)
  hub_preprocessor = tf.saved_model.load(export.export_run_to_hub(out, str(tmp_path / "h"))[1])
  run_preprocessor = predictor.load_trained_model(out).preprocessor.in_graph()
  for name, ids in run_preprocessor(tf.constant(first)).items():
    np.testing.assert_array_equal(hub_preprocessor(tf.constant(first))[name], ids)

  reg = tmp_path / "reg"
  reg.mkdir()
  (reg / "train.csv").write_text("text,score\n" + "".join(
      "%s,%d\n" % ("good " * k, k) for k in range(1, 9)) * 4)
  out = str(tmp_path / "reg_run")
  _train_kind(trained, out, str(reg), label_column="score", regression=True)
  reference = predictor.Predictor(out).predict_proba(TEXTS)
  signature = tf.saved_model.load(export.export_saved_model(out, str(tmp_path / "s2"))
                                  ).signatures["serving_default"]
  np.testing.assert_allclose(signature(text_a=tf.constant(TEXTS))["score"].numpy(),
                             reference[:, 0], atol=1e-5)
  # As the pair model's next version, TF Serving would switch its clients to a score.
  with pytest.raises(UsageError, match=r"s1.1 serves another model \(kind: \w+ -> regression; "
                     r"labels: \['x', 'y'\] -> \[\]; text_pair: True -> False\): as its next "
                     r"version, TF Serving would switch its clients to other outputs"):
    export.export_saved_model(out, str(tmp_path / "s1"))
  assert os.listdir(tmp_path / "s1") == ["1"]


def test_a_killed_export_leaves_nothing_half_written(trained, tmp_path):
  """SIGKILL during a SavedModel export at random moments: no version directory is ever
  half there, the rerun removes the temporaries and writes version 1."""
  import random
  import signal
  import time
  rng = random.Random(7)
  export_dir = tmp_path / "serving"
  command = [sys.executable, "-m", "bert_tf.cli.export", "--output_dir=" + trained["out"],
             "--export_dir=%s" % export_dir]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  for _ in range(3):
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(4.0, 9.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for version in (p for p in export_dir.glob("*") if p.name.isdigit()):
      assert (version / "saved_model.pb").exists() and (version / "variables").exists()
  assert subprocess.run(command, cwd=REPO, env=env, capture_output=True).returncode == 0
  names = sorted(p.name for p in export_dir.iterdir())
  assert not [n for n in names if n.startswith(".tmp-")], names
  assert all((export_dir / n / "saved_model.pb").exists() for n in names)


@pytest.mark.parametrize("version", [0, -1, "2"])
def test_a_version_tf_serving_would_ignore_is_refused_before_loading(version, tmp_path):
  with pytest.raises(UsageError, match="--version must be a positive integer"):
    export.export_saved_model(str(tmp_path / "no_run"), str(tmp_path / "export"), version=version)
  assert not os.path.exists(tmp_path / "export")
