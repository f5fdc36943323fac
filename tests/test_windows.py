"""Long texts as overlapping windows whose logits are pooled per text (--doc_stride)."""

import os
import random

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import export, tokenization
from bert_tf.errors import UsageError
from bert_tf.predictor import Predictor
from bert_tf import preprocessing
from bert_tf.preprocessing import Preprocessor
from bert_tf.processors import InputExample, PaddingInputExample
from bert_tf.runner import run_classifier
from test_training import FILLER, NEGATIVE, POSITIVE, _config, tiny_setup  # noqa: F401


def test_windows_cover_the_text_and_end_with_it(tiny_vocab_file):
  tok = tokenization.FullTokenizer(tiny_vocab_file, True)
  p = Preprocessor(tok, max_seq_length=12, doc_stride=5, max_windows=8)
  ids = list(range(100, 130))  # 30 tokens; windows of 10
  windows = p.windows(ids)
  assert [w[0][1] for w in windows] == [100, 105, 110, 115, 120]  # the last starts at 30 - 10
  assert all(len(w[0]) == 12 and w[0][0] == tok.vocab["[CLS]"] for w in windows)
  assert windows[-1][0][-2] == 129  # the text's last token is in the last window
  assert len(p.windows(ids[:4])) == 1 and len(p.windows(ids[:4])[0][0]) == 6
  assert len(Preprocessor(tok, 12, doc_stride=1, max_windows=3).windows(ids)) == 3
  with pytest.raises(UsageError, match="--doc_stride must be between 0"):
    Preprocessor(tok, 12, doc_stride=11)


def test_encoded_windows_equal_windowing_each_text(tiny_vocab_file, monkeypatch):
  """The batch-tokenized windows against `windows` text by text: texts of every length
  around the window, non-ASCII and control characters, padding examples, many chunks."""
  monkeypatch.setattr(preprocessing, "_WINDOW_CHUNK_TEXTS", 7)
  rng = np.random.default_rng(5)
  words = ["good", "movie", "bad", "the", "unaffable", "café", "!", "a\x00b", "\x1e", "中",
           "ｇｏｏｄ", "!!!!!!!"]  # --clean_text makes these "good" and "!!!"
  examples = [PaddingInputExample() if i % 17 == 3 else
              InputExample(str(i), " ".join(rng.choice(words, rng.integers(0, 40))))
              for i in range(120)]
  for clean in (False, True):
    p = Preprocessor.from_vocab(tiny_vocab_file, True, 12, doc_stride=4, max_windows=5,
                                clean_text=clean)
    encoded = p.encode(examples, num_workers=1, show_progress=False)
    rows = encoded.input_ids.reshape(len(examples), 5, 12)
    for i, e in enumerate(examples):
      windows = []
      if not isinstance(e, PaddingInputExample):
        text = preprocessing.clean_text(e.text_a) if clean else e.text_a
        windows = p.windows(p.tokenizer.tokenize_to_ids(text))
      expected = [ids + [0] * (12 - len(ids)) for ids, _ in windows]
      expected += [[0] * 12] * (5 - len(windows))
      assert rows[i].tolist() == expected, (clean, e.text_a)


def _long_texts(path, n, seed, with_label=True):
  """41 tokens; the sentiment word is the 28th, past what a 16-token head keeps."""
  rng = random.Random(seed)
  lines = ["text,label" if with_label else "text"]
  for i in range(n):
    words = [rng.choice(FILLER) for _ in range(27)]
    words += [rng.choice(POSITIVE if i % 2 == 0 else NEGATIVE)]
    words += [rng.choice(FILLER) for _ in range(13)]
    lines.append(" ".join(words) + ("," + ("pos" if i % 2 == 0 else "neg") if with_label else ""))
  with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")


def test_pooled_windows_read_what_truncation_cuts_off(tiny_setup):
  """The head (16 tokens) never sees the word and stays at chance; windows of 16 every 7
  tokens, mean-pooled, learn it. The TFRecords hold 6 window records per text with a
  doc_id; the Predictor gives test_results.tsv's probabilities; exports refuse."""
  data = tiny_setup["tmp"] / "data"
  _long_texts(str(data / "train.csv"), 256, 1)
  _long_texts(str(data / "dev.csv"), 64, 2)
  _long_texts(str(data / "test.csv"), 10, 3, with_label=False)
  common = dict(do_train=True, do_eval=True, num_train_epochs=6)
  head = run_classifier(_config(tiny_setup, str(tiny_setup["tmp"] / "head"), **common))
  out = str(tiny_setup["tmp"] / "windows")
  windows = run_classifier(_config(tiny_setup, out, doc_stride=7, max_windows=6,
                                   do_predict=True, **common))
  assert head["eval"]["eval_accuracy"] <= 0.7 < 0.95 <= windows["eval"]["eval_accuracy"]
  assert windows["eval"]["eval_num_examples"] == 64 and windows["predict"]["num_examples"] == 10

  records = list(tf.data.TFRecordDataset(os.path.join(out, "predict.tf_record")))
  assert len(records) == 10 * 6
  doc_ids = [tf.train.Example.FromString(r.numpy()).features.feature["doc_id"].int64_list.value[0]
             for r in records]
  assert doc_ids == [i for i in range(10) for _ in range(6)]

  test_texts = [l for l in open(str(data / "test.csv")).read().splitlines()[1:]]
  probs = Predictor(out).predict_proba(test_texts)
  np.testing.assert_allclose(probs, np.loadtxt(os.path.join(out, "test_results.tsv")),
                             atol=1e-5)
  with pytest.raises(UsageError, match="reads long texts as windows"):
    export.export_saved_model(out, str(tiny_setup["tmp"] / "serving"))


def test_windows_refuse_sentence_pairs(tiny_setup):
  data = tiny_setup["tmp"] / "data"
  with open(str(data / "pairs.csv"), "w") as f:
    f.write("a,b,label\nthe movie,a film,pos\nit was,very bad,neg\n")
  with pytest.raises(UsageError, match="--doc_stride reads long single texts"):
    run_classifier(_config(tiny_setup, str(tiny_setup["tmp"] / "pairs"), data_dir=None,
                           train_file=str(data / "pairs.csv"), text_column="a",
                           text_b_column="b", doc_stride=4, do_train=True))
  # Too short for a pair: one text would be cut away whole.
  out = tiny_setup["tmp"] / "pairs4"
  with pytest.raises(UsageError, match="--max_seq_length=4 cannot hold a sentence pair"):
    run_classifier(_config(tiny_setup, str(out), data_dir=None, max_seq_length=4,
                           train_file=str(data / "pairs.csv"), text_column="a",
                           text_b_column="b", do_train=True))
  assert not out.exists() or not os.listdir(str(out))
