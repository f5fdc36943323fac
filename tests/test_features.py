"""Features and TFRecords against Google's run_classifier.py; cache; tf.data pipeline."""

import os

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import dataset, features, preprocessing, tasks, tokenization
from bert_tf.preprocessing import Preprocessor
from bert_tf.processors import InputExample, PaddingInputExample
from conftest import TINY_VOCAB
from google_reference import google_full_tokenizer, google_run_classifier

TEXTS = ["the good movie", "a bad film !", "unwanted running is not very fun",
         "i love this movie , it was great and fun but very very long " * 4, "中国 好", "",
         "hello world"]


def recipe(tokenizer, length, labels=("0", "1"), kind="classification", **options):
  """(task, preprocessor) as a run would build them."""
  return tasks.make_task(kind, labels), Preprocessor(tokenizer, length, **options)


SINGLE = tasks.SingleLabel(["0", "1"])


def _examples(pairs=False):
  out = []
  for i, text in enumerate(TEXTS):
    text_b = TEXTS[(i + 3) % len(TEXTS)] if pairs else None
    out.append(InputExample("train-%d" % i, text, text_b, ["0", "1"][i % 2]))
  return out


@pytest.mark.parametrize("pairs", [False, True])
@pytest.mark.parametrize("max_seq_length", [8, 16, 64])
def test_features_match_google_convert_single_example(tiny_vocab_file, pairs, max_seq_length):
  google = google_run_classifier()
  google_tok = google_full_tokenizer(tiny_vocab_file, True)
  ours_tok = tokenization.FullTokenizer(tiny_vocab_file, True)
  examples = _examples(pairs)
  arrays = features.featurize(examples, *recipe(ours_tok, max_seq_length), num_workers=1)
  ours_list = features.convert_examples_to_features(examples, ["0", "1"], max_seq_length, ours_tok)
  for i, example in enumerate(examples):
    g_example = google["InputExample"](example.guid, example.text_a, example.text_b, example.label)
    g = google["convert_single_example"](10, g_example, ["0", "1"], max_seq_length, google_tok)
    assert arrays.input_ids[i].tolist() == g.input_ids
    assert arrays.input_mask[i].tolist() == g.input_mask
    assert arrays.segment_ids[i].tolist() == g.segment_ids
    assert arrays.label_ids[i] == g.label_id
    one = features.convert_single_example(10, example, ["0", "1"], max_seq_length, ours_tok)
    assert (one.input_ids, one.segment_ids, one.label_id) == (g.input_ids, g.segment_ids, g.label_id)
    assert ours_list[i].input_ids == g.input_ids


def test_tfrecord_parses_with_googles_input_fn(tmp_path, tiny_vocab_file):
  google = google_run_classifier()
  tok = tokenization.FullTokenizer(tiny_vocab_file, True)
  examples = _examples(pairs=True) + [PaddingInputExample()]
  out = str(tmp_path / "train.tf_record")
  info = features.file_based_convert_examples_to_features(examples, *recipe(tok, 16), out)
  assert info.num_examples == 8 and info.num_real_examples == 7 and not info.reused
  input_fn = google["file_based_input_fn_builder"](out, 16, False, False)
  batch = next(iter(input_fn({"batch_size": 100})))
  arrays = features.featurize(examples, *recipe(tok, 16), num_workers=1)
  np.testing.assert_array_equal(batch["input_ids"].numpy(), arrays.input_ids)
  np.testing.assert_array_equal(batch["input_mask"].numpy(), arrays.input_mask)
  np.testing.assert_array_equal(batch["segment_ids"].numpy(), arrays.segment_ids)
  np.testing.assert_array_equal(batch["label_ids"].numpy(), arrays.label_ids)
  assert batch["is_real_example"].numpy().tolist() == [1] * 7 + [0]


def test_multi_label_and_regression_round_trip(tmp_path, tiny_vocab_file):
  tok = tokenization.FullTokenizer(tiny_vocab_file, True)
  labels = ["toxic", "obscene", "insult"]
  examples = [InputExample("a", "bad movie", None, ["toxic", "insult"]),
              InputExample("b", "good", None, []), InputExample("c", "fun", None, None)]
  out = str(tmp_path / "ml.tf_record")
  task, preprocessor = recipe(tok, 8, labels, "multi_label")
  features.file_based_convert_examples_to_features(examples, task, preprocessor, out)
  ds = dataset.make_dataset(out, 8, 10, is_training=False, task=task, dynamic_padding=False)
  feats, y, w = next(iter(ds))
  np.testing.assert_array_equal(y.numpy(), [[1, 0, 1], [0, 0, 0], [0, 0, 0]])
  assert feats["input_word_ids"].shape == (3, 8) and feats["input_word_ids"].dtype == tf.int32
  np.testing.assert_array_equal(w.numpy(), [1, 1, 1])

  reg = [InputExample("a", "good", "fun", 4.25), InputExample("b", "bad", "boring", 0.5)]
  out = str(tmp_path / "reg.tf_record")
  task, preprocessor = recipe(tok, 8, (), "regression")
  features.file_based_convert_examples_to_features(reg, task, preprocessor, out)
  _, y, _ = next(iter(dataset.make_dataset(out, 8, 10, False, task=task)))
  np.testing.assert_allclose(y.numpy(), [4.25, 0.5])


def test_cache_reuse_and_rebuild(tmp_path, tiny_vocab_file):
  tok = tokenization.FullTokenizer(tiny_vocab_file, True)
  out = str(tmp_path / "train.tf_record")
  build = lambda tokenizer, length: features.file_based_convert_examples_to_features(
      _examples(), *recipe(tokenizer, length), out)
  assert not build(tok, 16).reused
  mtime = os.path.getmtime(out)
  assert build(tok, 16).reused and os.path.getmtime(out) == mtime
  assert not build(tok, 32).reused          # max_seq_length changed
  assert build(tok, 32).reused
  other_vocab = tmp_path / "vocab2.txt"
  other_vocab.write_text("\n".join(TINY_VOCAB + ["extra"]) + "\n")
  assert not build(tokenization.FullTokenizer(str(other_vocab), True), 32).reused
  assert not build(tokenization.FullTokenizer(str(other_vocab), False), 32).reused


def test_sharded_records_and_parallel_featurize(tmp_path, tiny_vocab_file, monkeypatch):
  tok = tokenization.FullTokenizer(tiny_vocab_file, True)
  examples = [InputExample(str(i), TEXTS[i % len(TEXTS)], None, "01"[i % 2]) for i in range(25)]
  out = str(tmp_path / "train.tf_record")
  info = features.file_based_convert_examples_to_features(examples, *recipe(tok, 16), out,
                                                          examples_per_shard=10)
  assert [os.path.basename(p) for p in info.paths] == [
      "train.tf_record-00000-of-00003", "train.tf_record-00001-of-00003",
      "train.tf_record-00002-of-00003"]
  ds = dataset.make_dataset(info.paths, 16, 100, False, SINGLE, dynamic_padding=False)
  feats, y, _ = next(iter(ds))
  serial = features.featurize(examples, *recipe(tok, 16), num_workers=1)
  np.testing.assert_array_equal(feats["input_word_ids"].numpy(), serial.input_ids)
  np.testing.assert_array_equal(y.numpy(), serial.label_ids)
  many = examples * 1000
  monkeypatch.setattr(preprocessing, "_PARALLEL_MIN_CHARS", 0)  # force worker processes
  parallel = features.featurize(many, *recipe(tok, 16), num_workers=2, show_progress=False)
  np.testing.assert_array_equal(parallel.input_ids, np.tile(serial.input_ids, (1000, 1)))
  np.testing.assert_array_equal(parallel.label_ids, np.tile(serial.label_ids, 1000))


def test_dynamic_padding_trims_batches(tmp_path, tiny_vocab_file):
  tok = tokenization.FullTokenizer(tiny_vocab_file, True)
  examples = [InputExample(str(i), "good movie", None, "0") for i in range(4)]
  out = str(tmp_path / "eval.tf_record")
  features.file_based_convert_examples_to_features(examples, *recipe(tok, 64), out)
  feats, _, _ = next(iter(dataset.make_dataset(out, 64, 4, False, SINGLE, dynamic_padding=True)))
  assert feats["input_word_ids"].shape == (4, 4)  # [CLS] good movie [SEP]
  train = dataset.make_dataset(out, 64, 2, True, SINGLE, dynamic_padding=True, seed=1)
  feats, _, _ = next(iter(train))
  assert feats["input_mask"].shape == (2, 4)


def test_trimmed_batches_are_fixed_paddings_and_grouping_pads_less(tmp_path, tiny_vocab_file):
  tok = tokenization.FullTokenizer(tiny_vocab_file, True)
  words = ["good", "bad", "movie", "film", "great", "fun", "boring", "love", "hate"]
  examples = [InputExample(str(i), " ".join(words[(i + j) % 9] for j in range(1 + i * 7 % 30)),
                           None, "0") for i in range(64)]
  out = str(tmp_path / "train.tf_record")
  features.file_based_convert_examples_to_features(examples, *recipe(tok, 64), out)

  def epoch(**options):
    batches = dataset.make_dataset(out, 64, 4, True, SINGLE, seed=3, repeat=False, **options)
    return [f["input_word_ids"].numpy() for f, _, _ in batches]

  fixed, trimmed = epoch(dynamic_padding=False), epoch(dynamic_padding=True)
  grouped = epoch(dynamic_padding=True, group_by_length=True)
  assert len(fixed) == len(trimmed) == 16
  for full, cut in zip(fixed, trimmed):  # the same examples, in the same order, cut
    assert cut.shape[1] == (full != 0).sum(axis=1).max() < 64
    np.testing.assert_array_equal(full[:, :cut.shape[1]], cut)
    assert not full[:, cut.shape[1]:].any()
  rows = lambda batches: sorted(tuple(r[r != 0]) for b in batches for r in b)
  assert rows(grouped) == rows(fixed)  # every example once
  padded = lambda batches: sum(b.size - (b != 0).sum() for b in batches)
  assert padded(grouped) < padded(trimmed) / 2
