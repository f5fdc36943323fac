"""Within-task further pretraining: masked-LM on the task's own texts (Sun et al. 2019,
"How to Fine-Tune BERT for Text Classification", section 5.1).

  texts      the training set's texts (and any --unlabelled_file lines)
  instances  token ids cut into [CLS] ... [SEP] pieces of max_seq_length (pairs stay pairs)
  masking    Google's create_masked_lm_predictions (15%, 80% [MASK] / 10% kept / 10% random,
             whole words optional), drawn afresh every epoch from (seed, epoch): the same
             command resumes on the same masks
  model      the encoder + Google's MLM head (cls/predictions/..., output weights tied to
             the word embeddings), trained with Google's AdamW
  output     output_dir/model.ckpt-N while training (resume), then a Google-format model
             directory: bert_config.json, vocab.txt, tokenizer_config.json, bert_model.ckpt,
             ready for `--model=output_dir` or `--init_checkpoint=output_dir/bert_model.ckpt`

Google's next-sentence task is left out: a task's texts are not documents of sentences,
and RoBERTa showed MLM alone pretrains as well. Google's dupe_factor (static masks copied
N times) becomes fresh masks per epoch, which RoBERTa found at least as good.
"""

import dataclasses
import hashlib
import json
import math
import os
import random
import time

import numpy as np
import tensorflow as tf
import tf_keras as keras
from absl import logging

from bert_tf import checkpoints
from bert_tf import distribute
from bert_tf import hardware
from bert_tf import modeling
from bert_tf import pretrained
from bert_tf import processors
from bert_tf import run_dir
from bert_tf import training
from bert_tf.config import BertConfig, PretrainSpec
from bert_tf.dataset import encoder_inputs
from bert_tf.errors import UsageError
from bert_tf.optimization import AdamWeightDecay, WarmupLinearDecay
from bert_tf.preprocessing import Preprocessor, truncate_seq_pair
from bert_tf.progress import progress_bar

# What changes the pretrained weights (with the model, data and masking): the run's identity.
# (--num_train_epochs counts through the number of steps it gives.)
_TRAINING_OPTIONS = ("max_seq_length", "train_batch_size", "learning_rate", "warmup_proportion",
                     "weight_decay", "clip_norm", "seed")
_EVAL_SEED = 987654321  # fixed masks for the dev measurement, comparable across runs


# ============================================================================
# Texts -> instances -> masked batches
# ============================================================================
@dataclasses.dataclass
class Vocabulary:
  """What masking needs to know of the vocabulary, by id."""
  size: int
  cls_id: int
  sep_id: int
  mask_id: int
  continuation: np.ndarray  # bool [size]: the token is a "##" piece of a word

  @classmethod
  def of(cls, tokenizer, source="the vocabulary"):
    vocab = tokenizer.vocab
    if "[MASK]" not in vocab:
      raise UsageError("%s has no [MASK] token: masked-LM pretraining needs a BERT vocab.txt "
                       "with [MASK]." % source)
    size = max(vocab.values()) + 1
    continuation = np.zeros(size, bool)
    for token, i in vocab.items():
      continuation[i] = token.startswith("##")
    return cls(size, vocab["[CLS]"], vocab["[SEP]"], vocab["[MASK]"], continuation)


def make_instances(texts, tokenizer, max_seq_length):
  """(text_a, text_b or None) pairs -> lists of ids ([CLS] ... [SEP] ...) and segment B
  starts. A long single text gives one instance per max_seq_length - 2 tokens, so every
  token is read; a pair is cut by Google's longest-first rule."""
  vocab = tokenizer.vocab
  cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
  ids, b_starts = [], []
  for text_a, text_b in texts:
    a = tokenizer.tokenize_to_ids(text_a)
    b = tokenizer.tokenize_to_ids(text_b) if text_b else []
    if b:
      truncate_seq_pair(a, b, max_seq_length - 3)
      ids.append(np.array([cls_id] + a + [sep_id] + b + [sep_id], np.int32))
      b_starts.append(len(a) + 2)
      continue
    size = max_seq_length - 2
    for start in range(0, len(a), size):
      ids.append(np.array([cls_id] + a[start:start + size] + [sep_id], np.int32))
      b_starts.append(len(ids[-1]))
  return ids, b_starts


def mask_tokens(ids, rng, vocabulary, masked_lm_prob, max_predictions, whole_word):
  """Google's create_masked_lm_predictions on ids, consuming `rng` as Google's does.

  Returns (masked ids, sorted positions, original ids at those positions).
  """
  candidates = []
  for i, token in enumerate(ids):
    if token == vocabulary.cls_id or token == vocabulary.sep_id:
      continue
    if whole_word and candidates and vocabulary.continuation[token]:
      candidates[-1].append(i)
    else:
      candidates.append([i])
  rng.shuffle(candidates)
  output = list(ids)
  num_to_predict = min(max_predictions, max(1, int(round(len(ids) * masked_lm_prob))))
  positions = []
  for index_set in candidates:
    if len(positions) >= num_to_predict:
      break
    if len(positions) + len(index_set) > num_to_predict:
      continue  # a whole word that would overshoot: try a shorter one
    for index in index_set:
      if rng.random() < 0.8:
        output[index] = vocabulary.mask_id
      elif rng.random() < 0.5:
        output[index] = ids[index]
      else:
        output[index] = rng.randint(0, vocabulary.size - 1)
      positions.append(index)
  positions.sort()
  return output, positions, [int(ids[p]) for p in positions]


@dataclasses.dataclass
class Instances:
  """The pretraining texts as ids, and how they are batched and masked."""
  ids: list                 # [np.int32 array of [CLS] ... [SEP] ...]
  b_starts: list            # index of segment B's first token (len(ids) when none)
  vocabulary: Vocabulary
  spec: PretrainSpec
  batch_size: int

  def __len__(self):
    return len(self.ids)

  @property
  def batches_per_epoch(self):
    return max(math.ceil(len(self.ids) / self.batch_size), 1)

  def epoch_batches(self, seed, epoch):
    """One epoch's batches of instance indices, in the order (seed, epoch) decides:
    shuffled, then (for speed) sorted by length within windows of 32 batches, whose
    batches are shuffled again."""
    order = np.random.RandomState([seed, epoch]).permutation(len(self.ids))
    batches = []
    window = self.batch_size * 32
    for start in range(0, len(order), window):
      chunk = order[start:start + window]
      chunk = chunk[np.argsort([len(self.ids[i]) for i in chunk], kind="stable")]
      batches += [chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
    np.random.RandomState([seed, epoch, 1]).shuffle(batches)
    return batches

  def batch(self, indices, rng):
    """Masked instances as one padded batch with Google's feature names."""
    p = self.spec.max_predictions_per_seq
    length = max(len(self.ids[i]) for i in indices)
    out = {name: np.zeros((len(indices), width), dtype) for name, width, dtype in (
        ("input_ids", length, np.int32), ("input_mask", length, np.int32),
        ("segment_ids", length, np.int32), ("masked_lm_positions", p, np.int32),
        ("masked_lm_ids", p, np.int32), ("masked_lm_weights", p, np.float32))}
    for row, i in enumerate(indices):
      ids = self.ids[i]
      masked, positions, labels = mask_tokens(ids, rng, self.vocabulary, self.spec.masked_lm_prob,
                                              p, self.spec.do_whole_word_mask)
      out["input_ids"][row, :len(ids)] = masked
      out["input_mask"][row, :len(ids)] = 1
      out["segment_ids"][row, self.b_starts[i]:len(ids)] = 1
      out["masked_lm_positions"][row, :len(positions)] = positions
      out["masked_lm_ids"][row, :len(labels)] = labels
      out["masked_lm_weights"][row, :len(labels)] = 1.0
    return out

  def batches(self, seed, start_batch=0):
    """Masked batches forever from global batch number `start_batch` (a resume)."""
    if not self.ids:
      raise ValueError("no instances to batch")
    epoch, skip = divmod(start_batch, self.batches_per_epoch)
    while True:
      rng = random.Random(seed * 100003 + epoch)
      for number, indices in enumerate(self.epoch_batches(seed, epoch)):
        if number < skip:  # keep the rng where the first run had it
          self.batch(indices, rng)
          continue
        yield self.batch(indices, rng)
      epoch, skip = epoch + 1, 0

  def dataset(self, seed, start_batch=0):
    p = self.spec.max_predictions_per_seq
    signature = {name: tf.TensorSpec([None, width], dtype) for name, width, dtype in (
        ("input_ids", None, tf.int32), ("input_mask", None, tf.int32),
        ("segment_ids", None, tf.int32), ("masked_lm_positions", p, tf.int32),
        ("masked_lm_ids", p, tf.int32), ("masked_lm_weights", p, tf.float32))}
    return tf.data.Dataset.from_generator(lambda: self.batches(seed, start_batch),
                                          output_signature=signature).prefetch(2)


def read_texts(config, spec, processor):
  """(train texts, dev texts): the task's training (and dev) texts, plus the unlabelled
  files' lines for training. The dev texts measure masked-LM accuracy; they are never
  trained on, so fine-tuning's dev score stays honest."""
  train = [(e.text_a, e.text_b) for e in processor.get_train_examples(config.data_dir)]
  if config.max_train_examples:
    train = train[:config.max_train_examples]
  read = []
  for path in spec.unlabelled_files():
    if os.path.isdir(path):
      raise UsageError("--unlabelled_file %s is a folder: pass text files, one text per line "
                       "(comma-separated for several)." % path)
    _check_unlabelled_file(path, processor, config.data_dir, read)
    read.append(path)
    lines = processors.read_text_lines(path, config.encoding)
    if not lines:
      logging.warning("--unlabelled_file %s holds no text.", path)
    train += [(line, None) for line in lines]
  try:
    dev = [(e.text_a, e.text_b) for e in processor.get_dev_examples(config.data_dir)]
  except UsageError as e:
    logging.warning("No dev texts, so no masked-LM measurement: %s", e)
    dev = []
  if not train:
    raise UsageError("No texts to pretrain on: check --train_file/--data_dir and "
                     "--unlabelled_file.")
  return train, dev


def _check_unlabelled_file(path, processor, data_dir, read):
  """Refuses a file already read: its texts would count twice, and the training file's
  header and labels would become texts; the dev set's texts are never trained on."""
  if not os.path.isfile(path) or not os.path.getsize(path):
    return  # missing or empty: the reader says so
  for set_name in ("train", "dev"):
    try:
      data_file = processor.file_of(set_name, data_dir)
    except UsageError:
      continue  # an unclear dev set is said where it is read
    if processors.same_data(path, data_file):
      raise UsageError("--unlabelled_file %s is the %s (%s): leave it out of "
                       "--unlabelled_file." % (path, dict(
                           train="training data, whose texts are pretrained on already",
                           dev="dev data, whose texts measure the model and are never "
                           "trained on")[set_name], data_file))
  for earlier in read:
    if processors.same_data(path, earlier):
      raise UsageError("--unlabelled_file names %s: give each file once." % (
          "%s twice" % path if os.path.samefile(path, earlier) else
          "%s and %s, which hold the same texts" % (earlier, path)))


# ============================================================================
# The model: encoder + Google's masked-LM head
# ============================================================================
class MaskedLMHead(keras.layers.Layer):
  """Google's get_masked_lm_output: gather the masked positions, dense + activation +
  LayerNorm, then logits against the (tied) word embeddings plus an output bias."""
  SCOPE = "cls/predictions/"  # Google's checkpoint names

  def __init__(self, config, word_embeddings, **kwargs):
    super().__init__(**kwargs)
    self.word_embeddings = word_embeddings
    self.dense = keras.layers.Dense(
        config.hidden_size, activation=modeling.get_activation(config.hidden_act),
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=config.initializer_range),
        name="transform_dense")
    self.layer_norm = modeling.LayerNorm(epsilon=modeling.LAYER_NORM_EPSILON,
                                         name="transform_layer_norm")
    self.hidden_size, self.vocab_size = config.hidden_size, config.vocab_size

  def build(self, input_shape):
    # Built up front, so that checkpoints can restore into the variables before a call.
    self.dense.build([None, None, self.hidden_size])  # [batch, predictions, hidden]
    self.layer_norm.build([None, None, self.hidden_size])
    self.output_bias = self.add_weight("output_bias", shape=[self.vocab_size],
                                       initializer="zeros")
    super().build(input_shape)

  def call(self, sequence_output, positions):
    hidden = tf.gather(sequence_output, positions, batch_dims=1)  # [batch, predictions, hidden]
    hidden = self.layer_norm(self.dense(hidden))
    logits = (tf.matmul(hidden, tf.cast(self.word_embeddings, hidden.dtype), transpose_b=True) +
              tf.cast(self.output_bias, hidden.dtype))
    return tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)  # float32 under mixed precision

  def variable_map(self):
    prefix = self.SCOPE
    return {prefix + "transform/dense/kernel": self.dense.kernel,
            prefix + "transform/dense/bias": self.dense.bias,
            prefix + "transform/LayerNorm/gamma": self.layer_norm.gamma,
            prefix + "transform/LayerNorm/beta": self.layer_norm.beta,
            prefix + "output_bias": self.output_bias}


def build_pretraining_model(bert_config):
  """(encoder, head); head(batch) -> log-probabilities at the masked positions."""
  encoder = modeling.build_encoder(bert_config)
  head = MaskedLMHead(bert_config, encoder.get_layer("word_embeddings").embeddings,
                      name="masked_lm")
  head.build(None)
  return encoder, head


def masked_lm_outputs(encoder, head, batch, train):
  sequence = encoder(encoder_inputs(batch), training=train)
  return head(sequence["sequence_output"], batch["masked_lm_positions"])


def masked_lm_loss_sums(log_probs, batch):
  """(sum of weighted negative log-likelihoods, number of predictions, correct ones)."""
  weights = batch["masked_lm_weights"]
  labels = batch["masked_lm_ids"]
  nll = -tf.gather(log_probs, labels, batch_dims=2)
  correct = tf.cast(tf.equal(tf.argmax(log_probs, -1, output_type=tf.int32), labels), tf.float32)
  return tf.reduce_sum(nll * weights), tf.reduce_sum(weights), tf.reduce_sum(correct * weights)


def variable_map(encoder, head):
  names = modeling.google_variable_map(encoder)
  names.update(head.variable_map())
  return names


# ============================================================================
# The job
# ============================================================================
def pretrain(config, spec):
  """Runs masked-LM pretraining as `config` (a RunConfig, the data and model options) and
  `spec` ask; returns a summary dict. Rerun, the same command resumes. Everything is
  checked before the first write to --output_dir."""
  if (config.strategy in ("tpu", "multi_worker") or config.use_tpu or
      distribute.workers_in_tf_config() > 1):
    raise UsageError("Pretraining runs in one process on CPUs or GPUs (--strategy=default or "
                     "mirrored, no TF_CONFIG); for TPUs and several workers use Google's "
                     "run_pretraining.py.")
  if config.mixed_precision == "mixed_float16":
    raise UsageError("Pretraining takes --mixed_precision=mixed_bfloat16 or float32: "
                     "mixed_float16 needs loss scaling, which only fine-tuning has.")
  run = run_dir.RunDir(config.output_dir)
  with run.lock(kind="pretraining"):
    files = pretrained.resolve_model_files(config)
    if files.hub_module_handle:
      raise UsageError("Pretraining continues a Google-format model (--model or "
                       "--init_checkpoint); a TF-Hub encoder has no masked-LM head to train.")
    pretrained.check_outside(files, run.directory)
    if files.init_checkpoint:
      checkpoints.list_checkpoint(files.init_checkpoint)  # missing or unreadable: stop now
    bert_config = BertConfig.from_json_file(files.bert_config_file)
    preprocessor = Preprocessor.from_vocab(files.vocab_file, files.do_lower_case,
                                           config.max_seq_length or 128)
    preprocessor.check_model(bert_config, files.bert_config_file)
    vocabulary = Vocabulary.of(preprocessor.tokenizer, files.vocab_file)
    processor = processors.get_processor(config.task_name,
                                         processors.FileDataConfig.from_run_config(config),
                                         data_dir=config.data_dir)
    train_texts, dev_texts = read_texts(config, spec, processor)
    instances = lambda texts: Instances(
        *make_instances(texts, preprocessor.tokenizer, preprocessor.max_seq_length), vocabulary,
        spec, config.train_batch_size)
    train, dev = instances(train_texts), instances(dev_texts) if dev_texts else None
    if not len(train):
      raise UsageError("The %d training texts hold no tokens to pretrain on: check "
                       "--text_column and the files." % len(train_texts))
    num_steps = spec.num_train_steps or max(
        int(train.batches_per_epoch * config.num_train_epochs), 1)
    _warn_if_unusual(config, spec, num_steps)
    run.start_pretraining(_identity(config, spec, files, bert_config, preprocessor, train_texts,
                                    num_steps), config.overwrite_output_dir)
    logging.info("Pretraining on %d texts (%d instances of <= %d tokens): %d steps of %d.",
                 len(train_texts), len(train), preprocessor.max_seq_length, num_steps,
                 config.train_batch_size)
    return _pretrain(config, spec, run, files, bert_config, train, dev, num_steps)


def _warn_if_unusual(config, spec, num_steps):
  expected = int(round((config.max_seq_length or 128) * spec.masked_lm_prob))
  if spec.max_predictions_per_seq < expected:
    logging.warning("--max_predictions_per_seq=%d masks fewer than --masked_lm_prob of a full "
                    "sequence (%d of %d tokens); Google sets it to max_seq_length x "
                    "masked_lm_prob.", spec.max_predictions_per_seq, expected,
                    config.max_seq_length or 128)
  if spec.head_warmup_steps >= num_steps:
    logging.warning("--head_warmup_steps=%d covers all %d steps: only a fresh masked-LM head "
                    "trains, the encoder stays as it is.", spec.head_warmup_steps, num_steps)


def _identity(config, spec, files, bert_config, preprocessor, texts, num_steps):
  """What makes a pretraining this directory's run (compared on every rerun): the texts
  by content (the unlabelled files' lines included), not by path."""
  digest = hashlib.sha256()
  for text in texts:
    digest.update(json.dumps(text, ensure_ascii=False).encode())
  masking = {k: v for k, v in dataclasses.asdict(spec).items()
             if k not in ("unlabelled_file", "num_train_steps")}
  return dict(model=dict(checkpoint=files.init_checkpoint and os.path.abspath(
                             files.init_checkpoint),
                         bert_config=bert_config.to_dict(), do_lower_case=files.do_lower_case,
                         vocab=preprocessor.vocab_fingerprint()),
              data=digest.hexdigest(), masking=masking,
              training=dict({name: getattr(config, name) for name in _TRAINING_OPTIONS},
                            num_steps=num_steps,
                            # only when not float32: runs from before it was an option,
                            # and float32 ones however named, stay the same
                            **({"mixed_precision": config.mixed_precision}
                               if config.mixed_precision not in (None, "float32") else {})))


def _pretrain(config, spec, run, files, bert_config, train, dev, num_steps):
  latest = run.latest_checkpoint()
  if run.has_pretrained_model() and (latest is None or training.step_of(latest) >= num_steps):
    logging.info("Pretraining already finished: %s is the model.", run.directory)
    finished = dict(global_step=num_steps, resumed_from=num_steps, finished_before=True,
                    model_dir=run.directory)
    return dict(finished, eval=run.read_eval_results()) if dev else finished
  strategy = distribute.get_strategy(config)
  hardware.advise_on_precision(strategy, config.mixed_precision)
  with modeling.dtype_policy(config.mixed_precision):
    encoder, head, optimizer, manager = _build(config, run, bert_config, strategy, num_steps)
    has_head = _has_head(files.init_checkpoint)
    start = _restore_or_start(run, manager, latest, encoder, head, files.init_checkpoint,
                              has_head, dev)
    if spec.head_warmup_steps and has_head:
      logging.info("%s has a masked-LM head: --head_warmup_steps is not needed.",
                   files.init_checkpoint)
    summary = _train_loop(config, run, manager, optimizer, strategy, encoder, head,
                          train.dataset(config.seed, start), start, num_steps,
                          0 if has_head else spec.head_warmup_steps)
    if dev is not None:
      summary["eval"] = _final_evaluation(run, encoder, head, dev, num_steps)
  run.write_pretrained_model(manager.write_weights, bert_config.to_json_string(),
                             files.vocab_file, files.do_lower_case)
  summary["model_dir"] = run.directory
  return summary


def _build(config, run, bert_config, strategy, num_steps):
  """The model, Google's AdamW with warmup, and the checkpoint manager of the directory."""
  keras.utils.set_random_seed(config.seed)
  with strategy.scope():
    encoder, head = build_pretraining_model(bert_config)
    names = variable_map(encoder, head)
    optimizer = AdamWeightDecay(
        names, WarmupLinearDecay(config.learning_rate, num_steps,
                                 int(num_steps * config.warmup_proportion)),
        weight_decay_rate=config.weight_decay, clip_norm=config.clip_norm)
  manager = training.CheckpointManager(run, names, optimizer, config.keep_checkpoint_max)
  return encoder, head, optimizer, manager


def _restore_or_start(run, manager, latest, encoder, head, init_checkpoint, has_head, dev):
  """Resumes from the latest checkpoint, or loads the pretrained model (and measures it on
  dev: the starting point eval_results compares with). Returns the step to start from."""
  if latest:
    start = manager.restore(latest, with_optimizer=True)
    run.truncate_histories(start)
    logging.info("Resuming pretraining from %s at step %d.", latest, start)
    return start
  if init_checkpoint:
    modeling.load_google_checkpoint(encoder, init_checkpoint)
    # Google's own checkpoints carry a trained MLM head; converted encoders do not (then it
    # starts fresh, as in Google's run_pretraining.py).
    if has_head:
      checkpoints.restore_variables(head.variable_map(), init_checkpoint, allow_unused=True)
    logging.info("%s: the masked-LM head (cls/predictions) %s.", init_checkpoint,
                 "is continued" if has_head else "is not there and starts fresh")
  else:
    logging.info("No --init_checkpoint: pretraining starts from random weights.")
  run.truncate_histories(0)
  if dev is not None:
    run.append_history(run_dir.EVAL_HISTORY, dict(step=0, **evaluate(encoder, head, dev)))
  return 0


def _final_evaluation(run, encoder, head, dev, step):
  """Dev masked-LM metrics at the end, beside those before pretraining (initial_*)."""
  results = evaluate(encoder, head, dev)
  run.append_history(run_dir.EVAL_HISTORY, dict(step=step, **results))
  initial = next((r for r in run.history(run_dir.EVAL_HISTORY) if r.get("step") == 0), {})
  results.update({"initial_" + k: initial[k] for k in ("masked_lm_loss", "masked_lm_accuracy")
                  if k in initial})
  run.write_eval_results(dict(results, global_step=step))
  return results


def _has_head(checkpoint):
  """Whether a checkpoint holds Google's masked-LM head."""
  if not checkpoint:
    return False
  return any(name.startswith(MaskedLMHead.SCOPE) for name in
             checkpoints.list_checkpoint(checkpoint))


def _train_step(encoder, head, optimizer, strategy, names):
  """One optimizer step that trains the variables named `names` (the others keep still)."""
  variables = [optimizer.variables_by_name[n] for n in names]

  def replica_step(batch):
    context = tf.distribute.get_replica_context()
    with tf.GradientTape() as tape:
      log_probs = masked_lm_outputs(encoder, head, batch, train=True)
      nll, count, correct = masked_lm_loss_sums(log_probs, batch)
      # Google's mean over the batch's predictions (all replicas' together).
      total = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
      loss = nll / (total + 1e-5)
    # Dense gradients: the tied word embeddings get both a lookup's and a matmul's.
    grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
             for g, v in zip(tape.gradient(loss, variables), variables)]
    grads = optimizer.clip(context.all_reduce(tf.distribute.ReduceOp.SUM, grads))
    by_name = dict(zip(names, grads))
    grads = [by_name.get(n) for n in optimizer.names]  # None: not updated, not decayed
    context.merge_call(lambda _, g: optimizer.apply_gradients(g), args=(grads,))
    return loss, correct / (total + 1e-5)

  @tf.function
  def step(iterator):
    loss, accuracy = strategy.run(replica_step, args=(next(iterator),))
    reduce = lambda t: strategy.reduce(tf.distribute.ReduceOp.SUM, t, axis=None)
    return reduce(loss), reduce(accuracy)
  return step


def _train_loop(config, run, manager, optimizer, strategy, encoder, head, dataset, start,
                num_steps, head_only_steps=0):
  # Dropout masks keyed by the step's number: a resumed run redraws its steps' masks.
  modeling.key_dropout_by(encoder, modeling.DropoutClock(optimizer.iterations))
  train_all = _train_step(encoder, head, optimizer, strategy, optimizer.names)
  train_head = _train_step(encoder, head, optimizer, strategy, sorted(head.variable_map()))
  iterator = iter(strategy.experimental_distribute_dataset(dataset))
  writer = tf.summary.create_file_writer(run.tensorboard_dir("train"))
  progress = progress_bar(num_steps, "step", always=True)
  if progress is not None and start:
    progress.update(start)
  started, loss, accuracy = time.time(), math.nan, math.nan
  for step in range(start + 1, num_steps + 1):
    step_fn = train_head if step <= head_only_steps else train_all
    loss, accuracy = (float(t) for t in step_fn(iterator))
    if not math.isfinite(loss):
      raise UsageError("Pretraining loss became %s at step %d; the last good checkpoint is %s. "
                       "Lower --learning_rate." % (loss, step, manager.latest() or "none"))
    speed = (step - start) * config.train_batch_size / (time.time() - started)
    if progress is not None:
      progress.update(step, values=[("loss", loss), ("accuracy", accuracy)])
    if step % config.log_every_steps == 0 or step == num_steps:
      _log_step(run, writer, dict(step=step, masked_lm_loss=loss, masked_lm_accuracy=accuracy,
                                  learning_rate=float(optimizer.learning_rate()),
                                  examples_per_second=speed), quiet=progress is not None)
    if step % config.save_checkpoints_steps == 0 or step == num_steps:
      manager.save(step)
  seconds = time.time() - started
  return dict(global_step=num_steps, resumed_from=start, masked_lm_loss=loss,
              train_seconds=seconds,
              examples_per_second=(num_steps - start) * config.train_batch_size /
              max(seconds, 1e-9))


def _log_step(run, writer, record, quiet):
  """train_history.jsonl, TensorBoard, and a log line when no progress bar shows it."""
  run.append_history(run_dir.TRAIN_HISTORY, record)
  with writer.as_default(step=record["step"]):
    for key in ("masked_lm_loss", "masked_lm_accuracy", "learning_rate"):
      tf.summary.scalar(key, record[key])
  if not quiet:
    logging.info("step %(step)d: masked-LM loss %(masked_lm_loss).4f, accuracy "
                 "%(masked_lm_accuracy).4f, %(examples_per_second).1f examples/s", record)


def evaluate(encoder, head, instances):
  """Masked-LM loss and accuracy over `instances`, on fixed masks (Google's eval metrics)."""
  @tf.function(reduce_retracing=True)
  def sums(batch):
    return masked_lm_loss_sums(masked_lm_outputs(encoder, head, batch, train=False), batch)
  rng = random.Random(_EVAL_SEED)
  totals = np.zeros(3)
  order = np.argsort([len(ids) for ids in instances.ids], kind="stable")
  for start in range(0, len(order), instances.batch_size):
    batch = instances.batch(order[start:start + instances.batch_size], rng)
    totals += [float(t) for t in sums({k: tf.constant(v) for k, v in batch.items()})]
  nll, count, correct = totals
  return dict(masked_lm_loss=nll / max(count, 1), masked_lm_accuracy=correct / max(count, 1),
              num_predictions=int(count), num_instances=len(instances))
