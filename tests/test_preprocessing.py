"""Preprocessor: truncation, packing, the model check, parallel encoding."""

import logging
import os
import signal

import numpy as np
import pytest

from bert_tf import preprocessing, tokenization
from bert_tf.config import BertConfig
from bert_tf.errors import UsageError
from bert_tf.preprocessing import Preprocessor
from bert_tf.processors import InputExample, PaddingInputExample
from conftest import TINY_CONFIG, TINY_VOCAB


def test_truncation_strategies():
  tokens = list(range(10))
  assert preprocessing.truncate_single(tokens, 6, "head") == [0, 1, 2, 3, 4, 5]
  assert preprocessing.truncate_single(tokens, 6, "tail") == [4, 5, 6, 7, 8, 9]
  assert preprocessing.truncate_single(tokens, 6, "head_tail", head_tokens=2) == [0, 1, 6, 7, 8, 9]
  assert preprocessing.truncate_single(tokens, 20, "tail") == tokens
  a, b = list(range(7)), list(range(3))
  preprocessing.truncate_seq_pair(a, b, 6)
  assert (a, b) == ([0, 1, 2], [0, 1, 2])


def test_pack_pairs_and_single_texts(tiny_vocab_file):
  p = Preprocessor.from_vocab(tiny_vocab_file, True, 8)
  cls, sep = p.tokenizer.vocab["[CLS]"], p.tokenizer.vocab["[SEP]"]
  ids, b_start = p.pack([10, 11, 12, 13], [20, 21, 22])
  assert ids == [cls, 10, 11, 12, sep, 20, 21, sep] and b_start == 5  # longest first
  ids, b_start = p.pack([10] * 20)
  assert ids == [cls] + [10] * 6 + [sep] and b_start == 8
  encoded = p.encode([InputExample("a", "good movie", "bad"), PaddingInputExample()], 1, False)
  assert encoded.segment_ids[0].tolist() == [0, 0, 0, 0, 1, 1, 0, 0]
  assert encoded.is_real_example.tolist() == [1, 0] and encoded.input_ids[1].sum() == 0


def test_settings_are_validated_and_checked_against_the_model(tiny_vocab_file):
  tok = tokenization.FullTokenizer(tiny_vocab_file, True)
  with pytest.raises(UsageError, match="--max_seq_length must be between 3 and 512"):
    Preprocessor(tok, 2)
  with pytest.raises(UsageError, match="--truncation must be one of"):
    Preprocessor(tok, 16, "middle")
  config = BertConfig.from_dict(TINY_CONFIG)  # max_position_embeddings 40
  with pytest.raises(UsageError, match="only trained up to sequence length 40"):
    Preprocessor(tok, 64).check_model(config)
  small = BertConfig.from_dict(dict(TINY_CONFIG, vocab_size=len(TINY_VOCAB) - 5))
  with pytest.raises(UsageError, match="do not belong together"):
    Preprocessor(tok, 16).check_model(small)
  assert Preprocessor(tok, 16).settings() == dict(do_lower_case=True, max_seq_length=16,
                                                  truncation="head", head_tokens=128,
                                                  clean_text=False)
  assert Preprocessor(tok, 16, doc_stride=8).settings()["max_windows"] == 8


def test_parallel_encoding_equals_serial(tiny_vocab_file, monkeypatch):
  p = Preprocessor.from_vocab(tiny_vocab_file, True, 16)
  examples = [InputExample(str(i), "good movie " * (i % 7), "bad" if i % 3 else None)
              for i in range(300)]
  serial = p.encode(examples, num_workers=1, show_progress=False)
  monkeypatch.setattr(preprocessing, "_PARALLEL_MIN_CHARS", 0)  # force worker processes
  parallel = p.encode(examples, num_workers=2, show_progress=False)
  for name in ("input_ids", "input_mask", "segment_ids"):
    np.testing.assert_array_equal(getattr(parallel, name), getattr(serial, name))


_FORKED = []  # armed: the next fork's parent gets a SIGINT inside an at-fork handler


def _interrupt_after_fork():
  if _FORKED:
    _FORKED.clear()
    os.kill(os.getpid(), signal.SIGINT)


os.register_at_fork(after_in_parent=_interrupt_after_fork)  # (no way to unregister: inert)


def test_ctrl_c_while_workers_fork_stops_the_encoding(tiny_vocab_file, monkeypatch):
  """Python drops a KeyboardInterrupt raised in an at-fork handler ("Exception ignored");
  Ctrl-C while the workers fork waits for the fork, then stops the encoding."""
  p = Preprocessor.from_vocab(tiny_vocab_file, True, 16)
  examples = [InputExample(str(i), "good movie", None) for i in range(50)]
  monkeypatch.setattr(preprocessing, "_PARALLEL_MIN_CHARS", 0)  # force worker processes
  _FORKED.append(True)
  with pytest.raises(KeyboardInterrupt):
    p.encode(examples, num_workers=2, show_progress=False)
  assert not _FORKED
  assert len(p.encode(examples, num_workers=2, show_progress=False).input_ids) == 50


@pytest.mark.parametrize("truncation", preprocessing.TRUNCATIONS)
def test_encode_equals_packing_each_example(tiny_vocab_file, truncation, monkeypatch):
  """The numpy packing against `pack` example by example, on texts and pairs of every
  length around max_seq_length, non-ASCII and control characters, empty text_b."""
  monkeypatch.setattr(preprocessing, "_NUMPY_CHUNK_POSITIONS", 60)  # many chunks
  rng = np.random.default_rng(3)
  words = ["good", "movie", "bad", "the", "unaffable", "café", "!", "a\x00b", "\x1e", "中"]
  text = lambda n: " ".join(rng.choice(words, n))
  examples = []
  for i in range(400):
    n_a, n_b = rng.integers(0, 14, 2)
    text_b = text(n_b) if i % 3 else rng.choice([None, "", "\x00"])
    examples.append(PaddingInputExample() if i % 37 == 5 else
                    InputExample(str(i), text(n_a), text_b))
  for length in (3, 4, 9, 12):
    p = Preprocessor.from_vocab(tiny_vocab_file, True, length, truncation, head_tokens=3)
    encoded = p.encode(examples, num_workers=1, show_progress=False)
    to_ids = p.tokenizer.tokenize_to_ids
    for i, e in enumerate(examples):
      if isinstance(e, PaddingInputExample):
        assert encoded.input_mask[i].sum() == 0
        continue
      ids, b_start = p.pack(to_ids(e.text_a), to_ids(e.text_b) if e.text_b else None)
      row = ids + [0] * (length - len(ids))
      assert encoded.input_ids[i].tolist() == row, (length, e.text_a, e.text_b)
      assert encoded.input_mask[i].tolist() == [1] * len(ids) + [0] * (length - len(ids))
      assert encoded.segment_ids[i].tolist() == [
          int(b_start <= j < len(ids)) for j in range(length)]


def test_what_the_recipe_does_to_training_texts_is_said(tiny_vocab_file, caplog):
  caplog.set_level(logging.INFO)
  texts = lambda *t: [InputExample(str(i), a, b) for i, (a, b) in enumerate(t)]
  p = Preprocessor.from_vocab(tiny_vocab_file, True, 8, "head_tail", head_tokens=2)
  p.warn_about_texts(texts(("a good movie", None), ("the film was bad", None),
                           ("中国好", None)), "train")
  assert caplog.text == ""  # every token known, nothing cut
  p.warn_about_texts(texts(*[("a good movie", None)] * 8, ("这部电影非常精彩", None)), "train")
  assert ("train: 25%% of the tokens of 9 texts are [UNK] to %s (e.g. '这部电影非常精彩'): the "
          "model cannot read them" % tiny_vocab_file) in caplog.text
  # 6 tokens fit length 8; pairs cut the longest first, whatever --truncation says.
  caplog.clear()
  p.warn_about_texts(texts(("a good movie and a bad film", None), ("good", None)), "train")
  assert ("train: 1 of 2 texts are cut to --max_seq_length=8 (--truncation=head_tail; "
          "--doc_stride reads long texts whole, as windows).") in caplog.text
  caplog.clear()
  p.warn_about_texts(texts(("a good movie", "a bad film"),), "train")
  assert "--truncation=head_tail is not used: sentence pairs keep Google's own cut." in caplog.text
  assert "train: 1 of 1 texts are cut to --max_seq_length=8" in caplog.text
  # Windows: 2 of 6 tokens every 2, at most 2 windows: 8 tokens read, the rest lost.
  caplog.clear()
  windows = Preprocessor.from_vocab(tiny_vocab_file, True, 8, doc_stride=2, max_windows=2)
  windows.warn_about_texts(texts(("a good movie and a bad film , i love it", None),), "train")
  assert ("train: 1 of 1 texts lose their end past 8 tokens (2 windows of 6 every 2): raise "
          "--max_windows.") in caplog.text
