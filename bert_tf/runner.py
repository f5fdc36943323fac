"""One fine-tuning run from a RunConfig: data -> model -> train -> eval -> predict.

This is what run_classifier.py calls (and the Python API's `run_classifier`).
Outputs in output_dir: run_config.json, label_list.txt, *.tf_record,
model.ckpt-N + checkpoint, eval_results.txt/.json, thresholds.json (multi-label),
test_results.tsv, predictions.csv, model_info.json (+ bert_config.json and
vocab.txt, so the directory alone is enough to export or serve the model).
"""

import csv
import dataclasses
import io
import json
import os
import shutil

import numpy as np
import tf_keras as keras
from absl import logging

from bert_tf import classifier
from bert_tf import distribute
from bert_tf import features
from bert_tf import metrics as metrics_lib
from bert_tf import modeling
from bert_tf import pretrained
from bert_tf import report
from bert_tf.predictor import (MODEL_INFO_FILE, THRESHOLDS_FILE, decide, load_model_info,
                               load_thresholds)
from bert_tf import tokenization
from bert_tf import training
from bert_tf.config import BertConfig
from bert_tf.dataset import make_dataset
from bert_tf.errors import UsageError, atomic_path, write_text_atomic



def run_classifier(config):
  """Runs what config asks for (do_train/do_eval/do_predict); returns a result dict."""
  previous_policy = keras.mixed_precision.global_policy()
  try:
    return _run(config)
  finally:  # the policy is process-wide: leave it as we found it
    keras.mixed_precision.set_global_policy(previous_policy)


def _run(config):
  os.makedirs(config.output_dir, exist_ok=True)
  info = load_model_info(config.output_dir, required=False)
  if info and not config.do_train:
    # Eval/predict on a trained output_dir: the model's structure comes from the run.
    config = dataclasses.replace(config, head_hidden_size=info.get("head_hidden_size", 0))
    if info.get("bert_hub_module_handle") and not (
        config.bert_hub_module_handle or config.init_checkpoint or config.model):
      config = dataclasses.replace(config,
                                   bert_hub_module_handle=info["bert_hub_module_handle"])
  if config.do_train:
    write_text_atomic(os.path.join(config.output_dir, "run_config.json"),
                      config.to_json_string())
  keras.utils.set_random_seed(config.seed)
  if config.mixed_precision:
    keras.mixed_precision.set_global_policy(config.mixed_precision)

  files = _model_files(config)
  tokenization.validate_case_matches_checkpoint(files.do_lower_case, files.init_checkpoint)
  tokenizer = tokenization.FullTokenizer(files.vocab_file, files.do_lower_case)
  bert_config = None
  if not config.bert_hub_module_handle:
    bert_config = BertConfig.from_json_file(files.bert_config_file)
    if config.max_seq_length > bert_config.max_position_embeddings:
      raise UsageError("Cannot use --max_seq_length=%d because the BERT model was only trained "
                       "up to sequence length %d." % (config.max_seq_length,
                                                      bert_config.max_position_embeddings))
  strategy = distribute.get_strategy(config)
  distribute.check_batch_sizes(config, strategy)

  eval_during_training = config.do_train and (config.eval_every_steps or
                                              config.early_stopping_patience)
  sets = [name for name, wanted in (("train", config.do_train),
                                    ("dev", config.do_eval or eval_during_training),
                                    ("test", config.do_predict)) if wanted]
  pad = config.use_tpu  # TPUs need full batches: pad with PaddingInputExamples
  data = features.create_finetuning_data(
      config, tokenizer, sets=sets, eval_pad_to=config.eval_batch_size if pad else None,
      predict_pad_to=config.predict_batch_size if pad else None)
  if config.do_train or not info:
    _save_model_info(config, files, bert_config, data)

  with strategy.scope():
    model, encoder, variables = classifier.create_classifier(
        data.num_labels, bert_config, config.bert_hub_module_handle,
        head_hidden_size=config.head_hidden_size, dropout=config.head_dropout,
        freeze_encoder=config.freeze_encoder)
  main_metric = config.best_metric or metrics_lib.main_metric_name(config.task_name,
                                                                   data.task_type)

  def eval_dataset():
    return make_dataset(data.tfrecords["dev"].paths, config.max_seq_length,
                        config.eval_batch_size, is_training=False, task_type=data.task_type,
                        num_labels=data.num_labels, dynamic_padding=not config.use_tpu,
                        drop_remainder=config.use_tpu)

  result = dict(task_type=data.task_type, num_labels=len(data.label_list))
  if config.do_train:
    settings = training.TrainSettings(
        output_dir=config.output_dir, train_files=data.tfrecords["train"].paths,
        num_train_examples=data.tfrecords["train"].num_real_examples,
        max_seq_length=config.max_seq_length, task_type=data.task_type,
        num_labels=data.num_labels, train_batch_size=config.train_batch_size,
        num_train_epochs=config.num_train_epochs, learning_rate=config.learning_rate,
        warmup_proportion=config.warmup_proportion, weight_decay=config.weight_decay,
        clip_norm=config.clip_norm, adam_bias_correction=config.adam_bias_correction,
        layerwise_lr_decay=config.layerwise_lr_decay,
        num_layers=bert_config.num_hidden_layers if bert_config else 12,
        save_checkpoints_steps=config.save_checkpoints_steps,
        iterations_per_loop=config.iterations_per_loop,
        keep_checkpoint_max=config.keep_checkpoint_max,
        log_every_steps=config.log_every_steps, eval_every_steps=config.eval_every_steps,
        early_stopping_patience=config.early_stopping_patience, best_metric=main_metric,
        seed=config.seed, dynamic_padding=config.dynamic_padding and not config.use_tpu,
        drop_remainder=config.use_tpu, use_xla=config.use_xla,
        float16_loss_scale=config.mixed_precision == "mixed_float16",
        class_weights=_class_weights(config, data))
    logging.info("Training: %d examples, batch %d, %d steps (%d warmup).",
                 settings.num_train_examples, settings.train_batch_size,
                 settings.num_train_steps, settings.num_warmup_steps)
    init_fn = None
    if files.init_checkpoint and not config.bert_hub_module_handle:
      init_fn = lambda: modeling.load_google_checkpoint(encoder, files.init_checkpoint)
    evaluate_fn = None
    if eval_during_training:
      evaluate_fn = lambda: training.evaluate(model, strategy, eval_dataset(), data.task_type,
                                              data.label_list, tune=True)
    result["train"] = training.train(model, variables, strategy, settings, evaluate_fn, init_fn)

  if config.do_eval or config.do_predict:
    path = training.resolve_eval_checkpoint(config.output_dir, config.eval_checkpoint)
    manager = training.CheckpointManager(config.output_dir, variables)
    global_step = manager.restore(path, with_optimizer=False)
    logging.info("Restored %s (global_step %d) for eval/predict.", path, global_step)

  if config.do_eval:
    raw = training.evaluate(model, strategy, eval_dataset(), data.task_type, data.label_list,
                            tune=data.task_type == "multi_label")
    results = _google_eval_keys(raw, global_step, main_metric)
    results["checkpoint_path"] = path
    metrics_lib.write_eval_results(config.output_dir, results)
    if raw.get("thresholds") is not None:  # tuned on dev, used by --do_predict
      write_text_atomic(os.path.join(config.output_dir, THRESHOLDS_FILE),
                        json.dumps(dict(zip(data.label_list, raw["thresholds"])), indent=1))
    result["eval"] = results

  if config.do_predict:
    dataset = make_dataset(data.tfrecords["test"].paths, config.max_seq_length,
                           config.predict_batch_size, is_training=False,
                           task_type=data.task_type, num_labels=data.num_labels,
                           dynamic_padding=not config.use_tpu, drop_remainder=config.use_tpu)
    preds = training.predict_logits(model, strategy, dataset)
    probs = training.probabilities_of(preds, data.task_type)[preds.is_real > 0]
    thresholds = load_thresholds(config.output_dir, data.label_list)
    write_test_results(config.output_dir, probs)
    write_predictions_csv(config.output_dir, data.examples["test"], probs, data.task_type,
                          data.label_list, thresholds)
    result["predict"] = dict(num_examples=len(probs), checkpoint_path=path)
  if config.do_train or config.do_eval:
    result["report"] = report.write_report(config.output_dir)
  return result


def _class_weights(config, data):
  """--class_weights as a list aligned with the label list (single-label only)."""
  if not config.class_weights:
    return None
  if data.task_type != "classification":
    raise UsageError("--class_weights applies to single-label classification only.")
  if config.class_weights == "balanced":
    counts = features.label_counts(data.examples["train"])
    total = sum(counts.values())
    return [total / (len(data.label_list) * max(counts.get(l, 0), 1)) for l in data.label_list]
  weights = [float(w) for w in config.class_weights.split(",")]
  if len(weights) != len(data.label_list):
    raise UsageError("--class_weights has %d values but there are %d labels (%s)." %
                     (len(weights), len(data.label_list), ", ".join(data.label_list)))
  return weights


def _model_files(config):
  """Model files; eval/predict on a trained output_dir use the copies saved there."""
  info = load_model_info(config.output_dir, required=False)
  explicit = config.vocab_file or config.bert_config_file or config.model or \
      config.init_checkpoint or config.bert_hub_module_handle
  if not config.do_train and not explicit and info:
    return pretrained.ModelFiles(
        os.path.join(config.output_dir, "bert_config.json"), None,
        os.path.join(config.output_dir, "vocab.txt"),
        info["do_lower_case"] if config.do_lower_case is None else config.do_lower_case)
  return pretrained.resolve_model_files(config)


def _google_eval_keys(results, global_step, main_metric):
  """Adds Google's keys: eval_accuracy, eval_loss, global_step, loss (+ eval_<metric>)."""
  out = {"eval_" + k: v for k, v in results.items()}
  out["global_step"] = global_step
  out["loss"] = results["loss"]
  out["main_metric"] = main_metric
  return out


def write_test_results(output_dir, probs):
  """test_results.tsv exactly as Google writes it: one line per real test example."""
  with atomic_path(os.path.join(output_dir, "test_results.tsv")) as tmp:
    with open(tmp, "w") as writer:
      for row in probs:
        row = np.atleast_1d(row).astype(np.float32)
        writer.write("\t".join(str(p) for p in row) + "\n")


def write_predictions_csv(output_dir, examples, probs, task_type, label_list, thresholds=None):
  """predictions.csv: guid, text_a, [text_b], prediction, one probability column per label."""
  has_b = any(e.text_b is not None for e in examples)
  header = ["guid", "text_a"] + (["text_b"] if has_b else []) + ["prediction"]
  header += (["score"] if task_type == "regression" else
             ["prob_%s" % label for label in label_list])
  decisions = decide(probs, task_type, label_list, thresholds)
  buffer = io.StringIO()
  writer = csv.writer(buffer)
  writer.writerow(header)
  for example, p, decision in zip(examples, probs, decisions):
    row = [example.guid, example.text_a] + ([example.text_b or ""] if has_b else [])
    row.append(";".join(decision) if isinstance(decision, list) else decision)
    row += ["%.6f" % x for x in np.atleast_1d(p)]
    writer.writerow(row)
  write_text_atomic(os.path.join(output_dir, "predictions.csv"), buffer.getvalue())


def _save_model_info(config, files, bert_config, data):
  """Copies config + vocab and records what export and the predictor need."""
  out = config.output_dir
  if bert_config is not None:
    write_text_atomic(os.path.join(out, "bert_config.json"), bert_config.to_json_string())
  if os.path.abspath(files.vocab_file) != os.path.abspath(os.path.join(out, "vocab.txt")):
    with atomic_path(os.path.join(out, "vocab.txt")) as tmp:
      shutil.copyfile(files.vocab_file, tmp)
  info = dict(task_name=config.task_name, task_type=data.task_type, label_list=data.label_list,
              max_seq_length=config.max_seq_length, do_lower_case=files.do_lower_case,
              head_hidden_size=config.head_hidden_size, truncation=config.truncation,
              head_tokens=config.head_tokens,
              bert_hub_module_handle=config.bert_hub_module_handle,
              text_pair=config.text_b_column is not None or _is_pair_task(config.task_name))
  write_text_atomic(os.path.join(out, MODEL_INFO_FILE), json.dumps(info, indent=1) + "\n")


def _is_pair_task(task_name):
  return (task_name or "").lower() in ("mrpc", "mnli", "mnli-mm", "xnli", "qnli", "qqp", "rte",
                                       "wnli", "sts-b", "stsb")
