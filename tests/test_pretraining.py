"""Within-task masked-LM pretraining: Google's masking (against Google's own function), the
instances, the job end to end on a tiny BERT, resume, and the run directory's rules."""

import csv
import random
import shutil

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from bert_tf import modeling
from bert_tf import pretraining
from bert_tf import training
from bert_tf.config import RunConfig
from bert_tf.errors import UsageError
from bert_tf.pretraining import Instances, PretrainSpec, Vocabulary, make_instances, mask_tokens
from bert_tf.tokenization import FullTokenizer
from conftest import TINY_CONFIG, TINY_VOCAB, write_google_model
from google_reference import google_create_masked_lm_predictions

WORDS = ["the", "a", "good", "bad", "movie", "film", "great", "is", "not", "very", "it", "was",
         "fun", "boring", "and", "but", "love", "hate", "this", "that"]


@pytest.fixture
def tokenizer(tiny_vocab_file):
  return FullTokenizer(tiny_vocab_file, do_lower_case=True)


def _random_ids(rng, vocabulary, length):
  body = [rng.randrange(5, vocabulary.size) for _ in range(length)]
  return [vocabulary.cls_id] + body + [vocabulary.sep_id]


# ============================================================================
# Masking
# ============================================================================
def test_masking_equals_googles_create_masked_lm_predictions(tokenizer):
  google = google_create_masked_lm_predictions()
  vocabulary = Vocabulary.of(tokenizer)
  vocab_words = list(tokenizer.vocab)  # in id order, as Google's list(vocab.keys())
  rng = random.Random(0)
  for trial in range(300):
    ids = _random_ids(rng, vocabulary, rng.randint(1, 60))
    prob, max_predictions = rng.choice([0.15, 0.3]), rng.choice([3, 20])
    ours = mask_tokens(ids, random.Random(trial), vocabulary, prob, max_predictions, False)
    tokens, positions, labels = google(tokenizer.convert_ids_to_tokens(ids), prob,
                                       max_predictions, vocab_words, random.Random(trial))
    assert tokenizer.convert_ids_to_tokens(ours[0]) == tokens
    assert ours[1] == positions
    assert tokenizer.convert_ids_to_tokens(ours[2]) == labels


def test_whole_word_masking_masks_every_piece_of_a_word(tokenizer):
  vocabulary = Vocabulary.of(tokenizer)
  ids = tokenizer.tokenize_to_ids("unwanted running " * 12 + "the movie")
  ids = [vocabulary.cls_id] + ids + [vocabulary.sep_id]
  words = []  # [start, end) of each word
  for i in range(1, len(ids) - 1):
    if vocabulary.continuation[ids[i]]:
      words[-1][1] = i + 1
    else:
      words.append([i, i + 1])
  assert any(end - start > 1 for start, end in words)
  for seed in range(50):
    _, positions, labels = mask_tokens(ids, random.Random(seed), vocabulary, 0.15, 20, True)
    chosen = set(positions)
    assert 0 < len(positions) <= round(len(ids) * 0.15)
    for start, end in words:
      covered = chosen & set(range(start, end))
      assert not covered or covered == set(range(start, end)), (seed, start, end, positions)
    assert labels == [ids[p] for p in positions]


def test_masking_rates_are_googles_15_percent_and_80_10_10(tokenizer):
  vocabulary = Vocabulary.of(tokenizer)
  rng = random.Random(1)
  counts = dict(predicted=0, tokens=0, mask=0, kept=0, other=0)
  for seed in range(400):
    ids = _random_ids(rng, vocabulary, 98)
    masked, positions, labels = mask_tokens(ids, random.Random(seed), vocabulary, 0.15, 20, False)
    assert len(positions) == 15 and 0 not in positions and len(ids) - 1 not in positions
    counts["predicted"] += len(positions)
    for p in positions:
      kind = ("mask" if masked[p] == vocabulary.mask_id else
              "kept" if masked[p] == ids[p] else "other")
      counts[kind] += 1
    unchanged = [i for i in range(len(ids)) if i not in positions]
    assert all(masked[i] == ids[i] for i in unchanged)
  n = counts["predicted"]
  assert abs(counts["mask"] / n - 0.8) < 0.02
  # A random replacement can draw the original token (1 in 53 here): it counts as kept.
  assert abs(counts["kept"] / n - 0.1) < 0.02 and abs(counts["other"] / n - 0.1) < 0.02


# ============================================================================
# Instances and batches
# ============================================================================
def test_long_texts_become_several_instances_and_every_token_is_read(tokenizer):
  text = " ".join(WORDS * 3)  # 60 tokens
  ids, b_starts = make_instances([(text, None), ("good movie", "bad film")], tokenizer, 16)
  cls_id, sep_id = tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"]
  singles = ids[:-1]
  assert [len(x) for x in singles] == [16, 16, 16, 16, 6]
  assert all(x[0] == cls_id and x[-1] == sep_id for x in ids)
  assert np.concatenate([x[1:-1] for x in singles]).tolist() == tokenizer.tokenize_to_ids(text)
  assert b_starts[:-1] == [len(x) for x in singles]  # no segment B
  pair = ids[-1].tolist()
  assert pair == ([cls_id] + tokenizer.tokenize_to_ids("good movie") + [sep_id] +
                  tokenizer.tokenize_to_ids("bad film") + [sep_id]) and b_starts[-1] == 4


def test_batches_have_googles_feature_names_and_resume_at_the_same_masks(tokenizer):
  texts = [(" ".join(random.Random(i).choices(WORDS, k=5 + i % 20)), None) for i in range(40)]
  instances = Instances(*make_instances(texts, tokenizer, 24), Vocabulary.of(tokenizer),
                        PretrainSpec(max_predictions_per_seq=4), batch_size=8)
  per_epoch = instances.batches_per_epoch
  assert per_epoch == -(-len(instances) // 8)
  stream = instances.batches(seed=3)
  first = [next(stream) for _ in range(2 * per_epoch)]
  batch = first[0]
  assert sorted(batch) == ["input_ids", "input_mask", "masked_lm_ids", "masked_lm_positions",
                           "masked_lm_weights", "segment_ids"]
  assert batch["masked_lm_positions"].shape == (8, 4)
  rows = batch["input_mask"].sum(axis=1)
  assert batch["input_ids"].shape[1] == rows.max()  # padded to the batch's longest
  # A resumed stream (from batch 7) continues with exactly the same masked batches.
  resumed = instances.batches(seed=3, start_batch=per_epoch + 1)
  for expected in first[per_epoch + 1:]:
    got = next(resumed)
    for name in expected:
      np.testing.assert_array_equal(got[name], expected[name])
  # Each epoch draws fresh masks: the same instances, masked otherwise.
  def rows(batches):
    return sorted(tuple(ids[mask > 0]) for b in batches
                  for ids, mask in zip(b["input_ids"], b["input_mask"]))
  epoch_0, epoch_1 = rows(first[:per_epoch]), rows(first[per_epoch:])
  assert len(epoch_0) == len(epoch_1) == len(instances) > 40  # some texts are two instances
  assert epoch_0 != epoch_1


# ============================================================================
# The job, end to end on a tiny BERT
# ============================================================================
def _data(tmp_path, n=80):
  rng = random.Random(0)
  path = tmp_path / "train.csv"
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["text", "label"])
    for i in range(n):
      # A repetitive corpus: a masked word is easy to guess from its neighbours.
      writer.writerow([" ".join(["this movie is very good and fun"] * rng.randint(1, 4)),
                       "pos" if i % 2 else "neg"])
  extra = tmp_path / "extra.txt"
  extra.write_text("this film was great\n\nthat film is not boring\n", encoding="utf-8")
  return str(path), str(extra)


def _config(tmp_path, model_dir, out="mlm", **kwargs):
  train_file, extra = _data(tmp_path)
  defaults = dict(output_dir=str(tmp_path / out), model=model_dir, train_file=train_file,
                  do_train=True, max_seq_length=24, train_batch_size=8, learning_rate=2e-3,
                  num_train_epochs=4, save_checkpoints_steps=10, progress="off")
  defaults.update(kwargs)
  return RunConfig(**defaults), PretrainSpec(unlabelled_file=extra, max_predictions_per_seq=4)


def test_pretraining_learns_and_writes_a_google_model_that_fine_tuning_starts_from(
    tmp_path, tiny_model_dir):
  config, spec = _config(tmp_path, tiny_model_dir)
  result = pretraining.pretrain(config, spec)
  ev = result["eval"]
  assert ev["masked_lm_loss"] < ev["initial_masked_lm_loss"] - 0.5
  assert ev["masked_lm_accuracy"] > ev["initial_masked_lm_accuracy"] + 0.2
  out = result["model_dir"]
  stored = tf.train.load_checkpoint(out + "/bert_model.ckpt").get_variable_to_shape_map()
  assert {"cls/predictions/output_bias", "cls/predictions/transform/dense/kernel"} <= set(stored)
  assert not any(name.endswith("/adam_m") for name in stored)  # a model, not a training state
  assert "eval_results.txt" in {p.name for p in tmp_path.joinpath("mlm").iterdir()}
  # --model=<dir> fine-tunes from the pretrained encoder (not the base one).
  encoder = modeling.load_encoder(out)
  reader = tf.train.load_checkpoint(out + "/bert_model.ckpt")
  base = tf.train.load_checkpoint(tiny_model_dir + "/bert_model.ckpt")
  name = "bert/encoder/layer_1/output/dense/kernel"
  kernel = modeling.google_variable_map(encoder)[name].numpy()
  np.testing.assert_array_equal(kernel, reader.get_tensor(name))
  assert np.abs(kernel - base.get_tensor(name)).max() > 1e-3
  from bert_tf.runner import run_classifier  # pylint: disable=g-import-not-at-top
  fine = run_classifier(RunConfig(output_dir=str(tmp_path / "ft"), model=out,
                                  train_file=config.train_file, do_train=True, do_eval=True,
                                  max_seq_length=24, num_train_epochs=1, progress="off"))
  assert fine["eval"]["eval_num_examples"] == 8


def test_an_interrupted_pretraining_resumes_to_the_same_model(tmp_path, monkeypatch):
  """Dropout on: its masks are keyed by the step's number, which a resumed run goes on from."""
  assert TINY_CONFIG["hidden_dropout_prob"] and TINY_CONFIG["attention_probs_dropout_prob"]
  model_dir, _ = write_google_model(str(tmp_path / "model"), config=TINY_CONFIG)
  straight, spec = _config(tmp_path, model_dir, out="straight", num_train_epochs=2)
  pretraining.pretrain(straight, spec)

  resumed, _ = _config(tmp_path, model_dir, out="resumed", num_train_epochs=2)
  original_save = training.CheckpointManager.save

  def save_then_die(self, step, protect=()):
    original_save(self, step, protect)
    raise KeyboardInterrupt("killed after step %d" % step)
  monkeypatch.setattr(training.CheckpointManager, "save", save_then_die)
  with pytest.raises(KeyboardInterrupt):
    pretraining.pretrain(resumed, spec)
  monkeypatch.setattr(training.CheckpointManager, "save", original_save)
  assert not (tmp_path / "resumed" / "bert_model.ckpt.index").exists()
  result = pretraining.pretrain(resumed, spec)
  assert result["resumed_from"] == 10
  a = tf.train.load_checkpoint(str(tmp_path / "straight" / "bert_model.ckpt"))
  b = tf.train.load_checkpoint(str(tmp_path / "resumed" / "bert_model.ckpt"))
  for name in a.get_variable_to_shape_map():
    np.testing.assert_allclose(a.get_tensor(name), b.get_tensor(name), atol=1e-5, err_msg=name)


def test_mixed_bfloat16_pretraining_learns_like_float32_in_float32_weights(
    tmp_path, tiny_model_dir):
  """bfloat16 products; float32 weights, masked-LM softmax and loss. It learns as float32
  does, to weights that differ by bfloat16's rounding; the process's dtype policy is put
  back. mixed_float16 (which would need loss scaling) stops with one line."""
  fp32, spec = _config(tmp_path, tiny_model_dir, out="fp32")
  bf16, _ = _config(tmp_path, tiny_model_dir, out="bf16", mixed_precision="mixed_bfloat16")
  a, b = pretraining.pretrain(fp32, spec)["eval"], pretraining.pretrain(bf16, spec)["eval"]
  assert keras.mixed_precision.global_policy().name == "float32"
  assert b["masked_lm_loss"] < b["initial_masked_lm_loss"] - 0.5
  assert abs(b["masked_lm_loss"] - a["masked_lm_loss"]) < 0.1, (a, b)
  name = "bert/encoder/layer_1/output/dense/kernel"
  ra, rb = (tf.train.load_checkpoint(str(tmp_path / out / "bert_model.ckpt")).get_tensor(name)
            for out in ("fp32", "bf16"))
  assert rb.dtype == np.float32
  assert 0 < np.abs(ra - rb).max() < 0.05  # bfloat16 products moved it, a little
  fp16, _ = _config(tmp_path, tiny_model_dir, out="fp16", mixed_precision="mixed_float16")
  with pytest.raises(UsageError, match="^Pretraining takes --mixed_precision=mixed_bfloat16 "):
    pretraining.pretrain(fp16, spec)
  assert not (tmp_path / "fp16").exists()


def test_head_warmup_trains_only_a_fresh_head_first(tmp_path, tiny_model_dir):
  config, spec = _config(tmp_path, tiny_model_dir)
  spec = PretrainSpec(unlabelled_file=spec.unlabelled_file, max_predictions_per_seq=4,
                      num_train_steps=3, head_warmup_steps=3)
  pretraining.pretrain(config, spec)
  base = tf.train.load_checkpoint(tiny_model_dir + "/bert_model.ckpt")
  after = tf.train.load_checkpoint(str(tmp_path / "mlm" / "bert_model.ckpt"))
  for name in base.get_variable_to_shape_map():  # the encoder keeps still, no weight decay
    np.testing.assert_array_equal(after.get_tensor(name), base.get_tensor(name), err_msg=name)
  assert np.abs(after.get_tensor("cls/predictions/transform/dense/kernel")).sum() > 0
  assert np.abs(after.get_tensor("cls/predictions/output_bias")).max() > 0  # starts at zeros


def test_a_different_pretraining_or_a_fine_tuning_directory_is_refused(tmp_path, tiny_model_dir):
  config, spec = _config(tmp_path, tiny_model_dir, num_train_epochs=1)
  first = pretraining.pretrain(config, spec)
  other, _ = _config(tmp_path, tiny_model_dir, num_train_epochs=1, learning_rate=1e-4)
  with pytest.raises(UsageError, match="holds a different pretraining .*learning_rate"):
    pretraining.pretrain(other, spec)
  # The same command again finds it finished: the model stays as it was.
  before = (tmp_path / "mlm" / "bert_model.ckpt.index").read_bytes()
  again = pretraining.pretrain(config, spec)
  assert again["resumed_from"] == again["global_step"] == first["global_step"]
  assert again["eval"]["masked_lm_loss"] == first["eval"]["masked_lm_loss"]
  assert (tmp_path / "mlm" / "bert_model.ckpt.index").read_bytes() == before
  from bert_tf import run_dir  # pylint: disable=g-import-not-at-top
  fine_tuned = tmp_path / "ft"
  fine_tuned.mkdir()
  (fine_tuned / run_dir.MODEL_INFO).write_text('{"task": {}, "preprocessor": {}}')
  with pytest.raises(UsageError, match="holds a fine-tuning run"):
    pretraining.pretrain(_config(tmp_path, tiny_model_dir, out="ft")[0], spec)


def test_bad_masking_options_and_files_stop_before_anything_is_written(tmp_path, tiny_model_dir):
  with pytest.raises(UsageError, match="--masked_lm_prob"):
    PretrainSpec(masked_lm_prob=1.5)
  with pytest.raises(UsageError, match="--head_warmup_steps must be >= 0, got -1"):
    PretrainSpec(head_warmup_steps=-1)
  config, _ = _config(tmp_path, tiny_model_dir)
  with pytest.raises(UsageError, match="missing.txt does not exist"):
    pretraining.pretrain(config, PretrainSpec(unlabelled_file=str(tmp_path / "missing.txt")))
  with pytest.raises(UsageError, match="is a folder: pass text files, one text per line"):
    pretraining.pretrain(config, PretrainSpec(unlabelled_file=str(tmp_path)))
  # The training file (its header and labels would become texts), or one file twice.
  with pytest.raises(UsageError, match=r"train.csv is the training data, whose texts are "
                     r"pretrained on already \(.*train.csv\)"):
    pretraining.pretrain(config, PretrainSpec(unlabelled_file=config.train_file))
  extra, copy = str(tmp_path / "extra.txt"), str(tmp_path / "extra_copy.txt")
  shutil.copy(extra, copy)
  with pytest.raises(UsageError, match="extra.txt and .*extra_copy.txt, which hold the same texts"):
    pretraining.pretrain(config, PretrainSpec(unlabelled_file=extra + "," + copy))
  with pytest.raises(UsageError, match="names .*extra.txt twice: give each file once"):
    pretraining.pretrain(config, PretrainSpec(unlabelled_file=extra + "," + extra))
  vocab = [t for t in TINY_VOCAB if t != "[MASK]"] + ["[unused1]"]
  no_mask, _ = write_google_model(str(tmp_path / "no_mask"), vocab=vocab)
  config, spec = _config(tmp_path, no_mask, out="no_mask_run")
  with pytest.raises(UsageError, match=r"vocab.txt has no \[MASK\] token"):
    pretraining.pretrain(config, spec)
  config, spec = _config(tmp_path, tiny_model_dir, out="tpu", strategy="multi_worker")
  with pytest.raises(UsageError, match="one process"):
    pretraining.pretrain(config, spec)
  empty = tmp_path / "empty.csv"
  empty.write_text("text,label\n\u200b,pos\n\u200b,neg\n", encoding="utf-8")
  config, _ = _config(tmp_path, tiny_model_dir, out="no_tokens", train_file=str(empty),
                      dev_split=0.0)
  with pytest.raises(UsageError, match="empty.csv: no examples found"):  # blank texts skipped
    pretraining.pretrain(config, PretrainSpec())
  for name in ("mlm", "no_mask_run", "tpu", "no_tokens"):
    assert not (tmp_path / name / "pretraining_info.json").exists(), name


def test_the_models_own_directory_is_never_the_output(tmp_path, tiny_model_dir):
  before = open(tiny_model_dir + "/bert_model.ckpt.index", "rb").read()
  config, spec = _config(tmp_path, tiny_model_dir, output_dir=tiny_model_dir,
                         overwrite_output_dir=True)
  with pytest.raises(UsageError, match="the directory the model comes from"):
    pretraining.pretrain(config, spec)
  from bert_tf.runner import run_classifier  # pylint: disable=g-import-not-at-top
  with pytest.raises(UsageError, match="the directory the model comes from"):
    run_classifier(RunConfig(output_dir=tiny_model_dir, model=tiny_model_dir,
                             train_file=config.train_file, do_train=True, max_seq_length=24,
                             overwrite_output_dir=True, progress="off"))
  assert open(tiny_model_dir + "/bert_model.ckpt.index", "rb").read() == before


def test_a_finished_model_is_kept_even_without_its_checkpoints(tmp_path, tiny_model_dir):
  config, spec = _config(tmp_path, tiny_model_dir, num_train_epochs=1)
  pretraining.pretrain(config, spec)
  out = tmp_path / "mlm"
  for path in out.glob("model.ckpt-*"):  # a user frees the space of the training state
    path.unlink()
  (out / "checkpoint").unlink()
  other, _ = _config(tmp_path, tiny_model_dir, num_train_epochs=1, learning_rate=1e-4)
  with pytest.raises(UsageError, match="holds a different pretraining"):
    pretraining.pretrain(other, spec)
  assert pretraining.pretrain(config, spec)["finished_before"]
  from bert_tf.runner import run_classifier  # pylint: disable=g-import-not-at-top
  with pytest.raises(UsageError, match="holds a pretraining"):
    run_classifier(RunConfig(output_dir=str(out), train_file=config.train_file, do_train=True,
                             model=tiny_model_dir, max_seq_length=24, progress="off"))


def test_pretraining_from_scratch_without_a_checkpoint(tmp_path, tiny_model_dir):
  config, spec = _config(tmp_path, None, bert_config_file=tiny_model_dir + "/bert_config.json",
                         vocab_file=tiny_model_dir + "/vocab.txt", num_train_epochs=1)
  result = pretraining.pretrain(config, spec)
  assert result["global_step"] > 0 and (tmp_path / "mlm" / "bert_model.ckpt.index").exists()
