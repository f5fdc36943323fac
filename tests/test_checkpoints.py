"""Google TF1 checkpoints: exact round trip, clear errors, HF conversion."""

import json
import os
import struct

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints, modeling
from bert_tf.errors import UsageError
from conftest import TINY_CONFIG, TINY_VOCAB, random_google_weights, write_google_model
from tool_runner import run_tool


def test_round_trip_is_exact(tmp_path):
  model_dir, weights = write_google_model(str(tmp_path / "m"))
  encoder = modeling.load_encoder(model_dir)
  prefix = str(tmp_path / "out" / "bert_model.ckpt")
  modeling.save_google_checkpoint(encoder, prefix)
  reader = tf.train.load_checkpoint(prefix)
  assert set(reader.get_variable_to_shape_map()) == set(weights)
  for name, value in weights.items():
    np.testing.assert_array_equal(reader.get_tensor(name), value)
  assert not [f for f in os.listdir(tmp_path / "out") if f.startswith(".tmp")]


def test_missing_and_misshaped_variables_are_named(tmp_path):
  model_dir, weights = write_google_model(str(tmp_path / "m"))
  broken = dict(weights)
  del broken["bert/encoder/layer_1/output/dense/kernel"]
  broken["bert/pooler/dense/bias"] = np.zeros(5, np.float32)
  checkpoints.write_checkpoint(broken, os.path.join(model_dir, "bert_model.ckpt"))
  with pytest.raises(UsageError) as info:
    modeling.load_encoder(model_dir)
  message = str(info.value)
  assert "\n" not in message
  assert "missing 1: bert/encoder/layer_1/output/dense/kernel" in message
  assert "bert/pooler/dense/bias [5] vs model [24]" in message


def test_truncated_checkpoint_is_a_one_line_error(tmp_path):
  model_dir, _ = write_google_model(str(tmp_path / "m"))
  data = os.path.join(model_dir, "bert_model.ckpt.data-00000-of-00001")
  with open(data, "r+b") as f:
    f.truncate(os.path.getsize(data) // 2)
  with pytest.raises(UsageError) as info:
    modeling.load_encoder(model_dir)
  assert "\n" not in str(info.value) and "bert_model.ckpt" in str(info.value)


def test_wrong_checkpoint_path(tmp_path):
  with pytest.raises(UsageError, match="not found"):
    checkpoints.list_checkpoint(str(tmp_path / "nothing" / "bert_model.ckpt"))


def test_unused_checkpoint_variables_are_allowed_for_encoders(tmp_path):
  # Google's pre-training checkpoints also hold cls/predictions/...; they are skipped.
  model_dir, weights = write_google_model(str(tmp_path / "m"))
  extra = dict(weights, **{"cls/predictions/output_bias": np.zeros(3, np.float32)})
  checkpoints.write_checkpoint(extra, os.path.join(model_dir, "bert_model.ckpt"))
  modeling.load_encoder(model_dir)


def test_encoder_weights_the_model_has_no_place_for_are_an_error(tmp_path):
  # A config with fewer layers than its checkpoint would drop layer_1 without a word.
  model_dir, weights = write_google_model(str(tmp_path / "m"))
  # Optimizer slots (ours, TF1 Adam's) and buffers such as position_ids are skipped.
  extra = {name + suffix: value for name, value in weights.items()
           for suffix in ("/adam_m", "/Adam_1")}
  extra["bert/embeddings/position_ids"] = np.arange(4, dtype=np.float32)
  checkpoints.write_checkpoint(dict(weights, **extra), os.path.join(model_dir, "bert_model.ckpt"))
  modeling.load_encoder(model_dir)
  config = json.load(open(os.path.join(model_dir, "bert_config.json")))
  config["num_hidden_layers"] = 1
  json.dump(config, open(os.path.join(model_dir, "bert_config.json"), "w"))
  with pytest.raises(UsageError, match=r"unexpected 48: bert/encoder/layer_1/"):
    modeling.load_encoder(model_dir)
  with pytest.raises(UsageError, match=r"unexpected 48: bert/encoder/layer_1/"):
    modeling.check_google_checkpoint(modeling.BertConfig.from_dict(config),
                                     os.path.join(model_dir, "bert_model.ckpt"))
  # Inside a layer the model has, a variable it has no place for is another architecture's.
  adapter = {"bert/encoder/layer_0/adapter/dense/kernel": np.zeros([2, 2], np.float32),
             "bert/embeddings/embedding_hidden_mapping_in/kernel": np.zeros([2, 2], np.float32)}
  checkpoints.write_checkpoint(dict(weights, **adapter), os.path.join(model_dir, "bert_model.ckpt"))
  with pytest.raises(UsageError, match=r"unexpected 2: bert/embeddings/embedding_hidden_mapping_in"
                     r"/kernel, bert/encoder/layer_0/adapter/dense/kernel"):
    modeling.check_google_checkpoint(modeling.BertConfig.from_dict(dict(TINY_CONFIG)),
                                     os.path.join(model_dir, "bert_model.ckpt"))


def test_checkpoint_check_knows_the_shapes_without_building(tmp_path):
  config = modeling.BertConfig.from_dict(dict(TINY_CONFIG, num_hidden_layers=3))
  built = modeling.google_variable_map(modeling.build_encoder(config))
  assert modeling.google_variable_shapes(config) == {n: list(v.shape) for n, v in built.items()}
  model_dir, _ = write_google_model(str(tmp_path / "m"))
  data = os.path.join(model_dir, "bert_model.ckpt.data-00000-of-00001")
  with open(data, "r+b") as f:
    f.truncate(os.path.getsize(data) // 2)
  with pytest.raises(UsageError, match="cannot be read"):
    modeling.check_google_checkpoint(modeling.BertConfig.from_dict(TINY_CONFIG),
                                     os.path.join(model_dir, "bert_model.ckpt"))


def _write_safetensors(path, arrays):
  header, blobs, offset = {}, [], 0
  for name, value in arrays.items():
    data = np.ascontiguousarray(value, np.float32).tobytes()
    header[name] = {"dtype": "F32", "shape": list(value.shape),
                    "data_offsets": [offset, offset + len(data)]}
    blobs.append(data)
    offset += len(data)
  raw = json.dumps(header).encode()
  with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def _google_to_hf(weights):
  """Google names -> HF BertModel names (the inverse mapping, written out by hand)."""
  hf = {}
  for name, value in weights.items():
    n = name[len("bert/"):].replace("layer_", "layer.").replace("/", ".")
    if n.endswith(".gamma"):
      n = n[:-len("gamma")] + "weight"
    elif n.endswith(".beta"):
      n = n[:-len("beta")] + "bias"
    elif n.endswith(".kernel"):
      n, value = n[:-len("kernel")] + "weight", value.T
    elif n.endswith("_embeddings"):
      n += ".weight"
    hf[n] = value
  return hf


def _tiny_hf_dir(tmp_path, weights):
  hf_dir = tmp_path / "hf"
  hf_dir.mkdir()
  _write_safetensors(str(hf_dir / "model.safetensors"), _google_to_hf(weights))
  hf_config = dict(TINY_CONFIG, hidden_act="gelu", model_type="bert")
  (hf_dir / "config.json").write_text(json.dumps(hf_config))
  (hf_dir / "vocab.txt").write_text("\n".join(TINY_VOCAB) + "\n")
  return hf_dir


def test_convert_hf_directory_from_command_line(tmp_path):
  weights = random_google_weights(TINY_CONFIG, seed=3)
  hf_dir = _tiny_hf_dir(tmp_path, weights)
  out = tmp_path / "google"
  result = run_tool(["-m", "bert_tf.cli.convert", "--hf_dir", str(hf_dir), "--output_dir", str(out)],
                    cwd=os.path.dirname(os.path.dirname(__file__)))
  assert result.returncode == 0, result.stderr
  assert sorted(os.listdir(out)) == ["bert_config.json", "bert_model.ckpt.data-00000-of-00001",
                                     "bert_model.ckpt.index", "tokenizer_config.json", "vocab.txt"]
  # HF's "gelu" is the exact erf form: the converted config must say so.
  assert json.load(open(out / "bert_config.json"))["hidden_act"] == "gelu_exact"
  reader = tf.train.load_checkpoint(str(out / "bert_model.ckpt"))
  for name, value in weights.items():
    np.testing.assert_array_equal(reader.get_tensor(name), value)
  # A model already there is replaced only when asked; the casing comes from tokenizer.json
  # when tokenizer_config.json does not say it.
  (hf_dir / "tokenizer.json").write_text(json.dumps({"normalizer": {"lowercase": False}}))
  convert = lambda *flags: run_tool(["-m", "bert_tf.cli.convert", "--hf_dir", str(hf_dir),
                                     "--output_dir", str(out)] + list(flags))
  result = convert()
  assert result.returncode == 2 and result.stderr.splitlines()[-1] == (
      "error: --output_dir %s already holds a model (bert_model.ckpt): pass "
      "--overwrite_output_dir to replace it, or a new directory." % out), result.stderr[-2000:]
  assert json.load(open(out / "tokenizer_config.json")) == {"do_lower_case": True}
  assert convert("--overwrite_output_dir").returncode == 0
  assert json.load(open(out / "tokenizer_config.json")) == {"do_lower_case": False}
  (hf_dir / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": "false"}))
  result = convert("--overwrite_output_dir")
  assert result.returncode == 2 and "tokenizer_config.json: do_lower_case must be true or false " \
      '(JSON), got "false".' in result.stderr, result.stderr[-2000:]
  (hf_dir / "tokenizer_config.json").unlink()
  # A directory holding anything but an earlier conversion is the user's: never replaced.
  (out / "thesis.txt").write_text("mine")
  for target, message in ((out, r"holds files a conversion does not write \(thesis.txt\)"),
                          (hf_dir, "is --hf_dir: write the conversion into a new directory")):
    with pytest.raises(UsageError, match=message):
      checkpoints.convert_hf_to_google(str(hf_dir), str(target))
  assert (out / "thesis.txt").read_text() == "mine" and (hf_dir / "config.json").exists()
  # Weights under other names (sentence-transformers' "0.auto_model."), or missing layers.
  for name, arrays in (("prefixed", {"0.auto_model." + k: v for k, v in
                                     _google_to_hf(weights).items()}),
                       ("short", {k: v for k, v in _google_to_hf(weights).items()
                                  if "layer.1." not in k}),
                       ("deep", dict(_google_to_hf(weights), **{
                           k.replace("layer.1.", "layer.2."): v
                           for k, v in _google_to_hf(weights).items() if "layer.1." in k}))):
    (tmp_path / name).mkdir()
    _write_safetensors(str(tmp_path / name / "model.safetensors"), arrays)
    for copied in ("config.json", "vocab.txt"):
      (tmp_path / name / copied).write_text((hf_dir / copied).read_text())
  with pytest.raises(UsageError, match="holds no BERT weights under Hugging Face's names"):
    checkpoints.convert_hf_to_google(str(tmp_path / "prefixed"), str(tmp_path / "x"))
  result = run_tool(  # the door checks every weight against config.json
      ["-m", "bert_tf.cli.convert", "--hf_dir", str(tmp_path / "short"), "--output_dir",
       str(tmp_path / "x")], cwd=os.path.dirname(os.path.dirname(__file__)))
  assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
  assert "short/model.safetensors does not match %s: 16 weight(s): missing bert/encoder/layer_1/" % (
      tmp_path / "short" / "config.json") in result.stderr
  assert not (tmp_path / "x").exists()
  result = run_tool(["-m", "bert_tf.cli.convert", "--hf_dir", str(tmp_path / "deep"),
                     "--output_dir", str(tmp_path / "x")])
  assert result.returncode == 2 and "weight(s): unexpected bert/encoder/layer_2/" in \
      result.stderr, result.stderr[-2000:]
  assert not (tmp_path / "x").exists()


def test_convert_rejects_incomplete_directory(tmp_path):
  with pytest.raises(UsageError, match="model.safetensors is missing"):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "vocab.txt").write_text("a\n")
    checkpoints.convert_hf_to_google(str(tmp_path), str(tmp_path / "out"))


def test_a_named_model_resolved_by_two_at_once_is_converted_once(tmp_path, monkeypatch):
  """A grid's runs or parallel tests starting together: one converts, the other waits."""
  import concurrent.futures  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  from bert_tf import pretrained  # pylint: disable=g-import-not-at-top
  hf_dir = _tiny_hf_dir(tmp_path, random_google_weights(TINY_CONFIG, seed=3))
  monkeypatch.setenv("BERT_TF_CACHE", str(tmp_path / "cache"))
  monkeypatch.setitem(pretrained._SOURCES, "tiny", lambda: str(hf_dir))  # pylint: disable=protected-access
  converted, convert = [], checkpoints.convert_hf_to_google

  def slow_convert(*args, **kwargs):
    converted.append(args[1])
    time.sleep(0.5)  # the other caller arrives meanwhile
    return convert(*args, **kwargs)
  monkeypatch.setattr(checkpoints, "convert_hf_to_google", slow_convert)
  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    targets = list(pool.map(pretrained.resolve, ["tiny", "tiny"]))
  assert targets[0] == targets[1] == str(tmp_path / "cache" / "tiny")
  assert converted == [targets[0]]
  assert checkpoints.checkpoint_exists(os.path.join(targets[0], "bert_model.ckpt"))
