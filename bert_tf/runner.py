"""One fine-tuning run from a RunConfig: data -> model -> train -> eval -> predict.

What run_classifier.py and the Python API call. The output directory is owned by
`run_dir.RunDir` (its layout, lock and identity); the kind of task by `tasks`; the
text-to-ids recipe by `preprocessing.Preprocessor`. This module only puts them in
order:

  lock the directory -> read the data -> decide task and preprocessor -> check that
  a training is this directory's run -> write records -> build the model -> train ->
  evaluate (thresholds) -> predict -> report.
"""

import contextlib
import dataclasses
import json
import os
import tempfile

import tf_keras as keras
from absl import logging

from bert_tf import classifier
from bert_tf import distribute
from bert_tf import features
from bert_tf import hardware
from bert_tf import hub
from bert_tf import modeling
from bert_tf import preprocessing
from bert_tf import pretrained
from bert_tf import processors
from bert_tf import progress
from bert_tf import report
from bert_tf import run_dir
from bert_tf import streaming
from bert_tf import tasks
from bert_tf import tokenization
from bert_tf import training
from bert_tf.config import RUN_SETTING_DEFAULTS, BertConfig, RunConfig, options_where
from bert_tf.dataset import make_dataset
from bert_tf.errors import EmptySplitError, UsageError
from bert_tf.metrics import dev_metric_name
from bert_tf.preprocessing import Preprocessor

# Options that change the trained weights: with the model, data, labels and
# preprocessor they are a training's identity (see RunDir.check_same_run).
TRAINING_OPTIONS = options_where(RunConfig, role="training")


@dataclasses.dataclass
class Plan:
  """What a run works with, decided before anything is written."""
  config: object
  run: run_dir.RunDir
  info: object              # the stored ModelInfo, or None
  files: pretrained.ModelFiles
  bert_config: object       # BertConfig, or None for a TF-Hub encoder
  preprocessor: Preprocessor
  processor: object
  task: tasks.Task
  examples: dict            # set name -> [InputExample]
  head_hidden_size: int
  owner: bool = True        # False on multi-worker workers that are not the chief: they
                            # compute alongside it (collectives) but write nothing here
  fixed_shapes: bool = False  # the strategy's (TPU): full batches, static shapes


def run_classifier(config, data_frames=None, records_dir=None):
  """Runs what config asks for (do_train/do_eval/do_predict); returns a result dict.

  `data_frames` ({"train"|"dev"|"test": DataFrame, or (the caller's name for it, DataFrame)})
  stand in for data files (the API);
  `records_dir` holds the TFRecords instead of the run directory (a grid's runs share
  them: the cache reuses records whose inputs did not change).
  """
  run = run_dir.RunDir(config.output_dir)
  # Multi-worker: the chief owns the directory; other workers only train alongside it.
  owner = distribute.is_chief_process()
  with contextlib.ExitStack() as stack:
    stack.enter_context(modeling.dtype_policy(None))  # _run sets the run's; the caller's after
    stack.enter_context(progress.mode(config.progress))
    if owner:
      stack.enter_context(run.lock())
    else:  # a worker's own records, on its own disk
      records_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="bert_tf-worker-"))
    return _run(config, run, data_frames or {}, owner, records_dir)


def prepare_data(config):
  """Only the data step: label_list.txt and the TFRecords of the sets that have data.

  Users' files stream: read, tokenized and written chunk by chunk, so memory stays flat
  however big the file (streaming.py); GLUE layouts are read whole, as Google's code does.
  """
  run = run_dir.RunDir(config.output_dir)
  with run.lock(), run.removed_on_error():
    if run.read_model_info() is not None:
      raise UsageError("--output_dir %s holds a run: write its features into another directory "
                       "(a training there writes its own)." % run.directory)
    processor = _processor(config)
    if isinstance(processor, processors.FileProcessor):
      _, _, preprocessor, _ = _model_and_preprocessor(config, run, None)
      _check_pair_settings(preprocessor, processor)
      return streaming.write_records(config, run, processor, preprocessor)
    plan = make_plan(config, run, skip_empty=True)
    run.save_label_list(plan.task.label_list)
    return _write_records(plan)


def _run(config, run, data_frames, owner=True, records_dir=None):
  # Eval/predict of a trained run: a directory without a checkpoint stops first.
  checkpoint = None if config.do_train else run.eval_checkpoint(config.eval_checkpoint)
  if config.do_train and config.eval_checkpoint:  # a typo stops before anything is written
    run.check_checkpoint_to_come(config.eval_checkpoint)
  plan = make_plan(config, run, data_frames)
  plan.owner = owner
  strategy = distribute.get_strategy(config)  # bad strategy flags stop before any write
  distribute.check_batch_sizes(config, strategy)
  plan.fixed_shapes = distribute.needs_fixed_shapes(strategy)
  if owner and config.do_train:
    _start_training_run(plan)
  elif owner and plan.info is None:  # eval/predict of a checkpoint trained elsewhere (Google's)
    _write_model_description(plan, identity=None)
  distribute.barrier(strategy)  # workers read the directory once the chief has set it up
  if config.do_train:
    hardware.advise_on_precision(strategy, config.mixed_precision)
  keras.utils.set_random_seed(config.seed)
  if config.mixed_precision:
    keras.mixed_precision.set_global_policy(config.mixed_precision)
  records = _write_records(plan, records_dir)
  with strategy.scope():
    model, encoder, variables = classifier.create_classifier(
        plan.task.num_outputs, plan.bert_config, plan.files.hub_module_handle,
        head_hidden_size=plan.head_hidden_size, dropout=config.head_dropout,
        freeze_encoder=config.freeze_encoder, window_pooling=plan.preprocessor.pooling,
        fixed_shapes=plan.fixed_shapes,
        # Dynamic padding skips padding tokens, not only trims them (varying shapes: not XLA).
        skip_padding=config.dynamic_padding and not plan.fixed_shapes and not config.use_xla)

  result = dict(task_kind=plan.task.kind, num_labels=len(plan.task.label_list))
  if config.do_train:
    result["train"] = _train(plan, strategy, model, encoder, variables, records)
    if owner:  # eval and predict below read a finished training
      run.write_run_config(_recorded(config), status="finished")
  if config.do_eval or config.do_predict:
    distribute.barrier(strategy)  # the chief has written the checkpoints every worker restores
    checkpoint = checkpoint or run.eval_checkpoint(config.eval_checkpoint)
    global_step = training.CheckpointManager(run, variables).restore(checkpoint, False)
    logging.info("Restored %s (global_step %d) for eval/predict.", checkpoint, global_step)
  if config.do_eval:
    result["eval"] = _evaluate(plan, strategy, model, records["dev"], checkpoint, global_step)
  if config.do_predict:
    result["predict"] = _predict(plan, strategy, model, records["test"], checkpoint)
  if owner and (config.do_train or config.do_eval):
    result["report"] = report.write_report(run)
  return result


# ============================================================================
# Deciding: model files, preprocessor, task, data
# ============================================================================
def make_plan(config, run, data_frames=None, skip_empty=False):
  """Reads the data and decides the task and the preprocessor; writes nothing."""
  # A new training with --overwrite_output_dir does not read what it replaces.
  info = None if config.do_train and config.overwrite_output_dir else run.read_model_info()
  reuse = info is not None and not config.do_train  # eval/predict a trained run as it is
  files, bert_config, preprocessor, settings = _model_and_preprocessor(
      config, run, info if reuse else None)
  if not reuse:
    pretrained.check_outside(files, run.directory)
  processor = _processor(config, data_frames)
  _check_pair_settings(preprocessor, processor)
  if reuse:
    _check_data_flags(info, processor, run)
    _check_same_split(config, info, processor, run)
  examples = _read_sets(config, processor, skip_empty)
  task = _decide_task(config, info if reuse else None, processor, examples, run)
  if "train" in examples:
    preprocessor.warn_about_texts(examples["train"], "training data")
  _check_best_metric(config, task)
  return Plan(config, run, info, files, bert_config, preprocessor, processor, task, examples,
              settings["head_hidden_size"])


def _check_best_metric(config, task):
  """A --best_metric the task does not report stops before training, not at its first eval."""
  if not config.best_metric:
    return
  names = task.metric_names()
  if dev_metric_name(config.best_metric) not in names:
    raise UsageError("--best_metric=%s is not a dev metric of this task (%s); use one of %s." % (
        config.best_metric, task.kind, ", ".join(names)))


def _check_pair_settings(preprocessor, processor):
  if preprocessor.doc_stride and processor.has_text_b:
    raise UsageError("--doc_stride reads long single texts as windows; sentence pairs are cut "
                     "by the longest-first rule instead: leave --doc_stride out.")
  if processor.has_text_b and preprocessor.max_seq_length < 5:
    raise UsageError("--max_seq_length=%d cannot hold a sentence pair: [CLS] A [SEP] B [SEP] "
                     "needs 5 tokens to keep one of each; pass 5 or more."
                     % preprocessor.max_seq_length)


def _processor(config, data_frames=None):
  processor = processors.get_processor(
      config.task_name, processors.FileDataConfig.from_run_config(config),
      data_dir=config.data_dir, data_frames=data_frames)
  if isinstance(processor, processors.FileProcessor):
    _check_outside_class_folders(config.output_dir, processor)
  return processor


def _check_outside_class_folders(output_dir, processor):
  """A run written into a folder-per-class dataset would become its data (TensorBoard's
  train/ folder a class of its own)."""
  out = os.path.realpath(output_dir)
  for name in ("train", "dev", "test"):
    path = processor.file_of(name)
    if path and os.path.isdir(path):
      folder = os.path.realpath(path)
      if out == folder or out.startswith(folder + os.sep):
        raise UsageError("--output_dir %s is inside the %s data folder %s: the run's files "
                         "would be read as data; write the run elsewhere." % (
                             output_dir, name, path))


def _model_and_preprocessor(config, run, info):
  """The model files, their BertConfig (None for TF-Hub), the Preprocessor, the settings."""
  settings = _run_settings(config, info, run)
  files = _model_files(config, run, info)
  if files.do_lower_case is not None:
    tokenization.validate_case_matches_checkpoint(files.do_lower_case, files.init_checkpoint)
  preprocessor = Preprocessor.from_vocab(
      files.vocab_file, files.do_lower_case,
      **{name: settings[name] for name in preprocessing.SETTINGS if name != "do_lower_case"})
  bert_config = None
  if not files.hub_module_handle:
    bert_config = BertConfig.from_json_file(files.bert_config_file)
    preprocessor.check_model(bert_config, files.bert_config_file)
  return files, bert_config, preprocessor, settings


def _run_settings(config, info, run):
  """max_seq_length, truncation, head_tokens, head_hidden_size: a trained run's own (an
  explicit flag that contradicts it is an error), else the flags, else the defaults."""
  stored = {}
  if info is not None:  # a setting the run does not record is the default it ran with
    stored = dict(RUN_SETTING_DEFAULTS, **info.preprocessor,
                  head_hidden_size=info.head_hidden_size)
    explicit = config.do_lower_case
    if explicit is not None and explicit != stored.get("do_lower_case"):
      raise _contradiction("do_lower_case", explicit, stored.get("do_lower_case"), run)
  settings = {}
  for name, default in RUN_SETTING_DEFAULTS.items():
    explicit = getattr(config, name)
    if name in stored and explicit is not None and explicit != stored[name]:
      raise _contradiction(name, explicit, stored[name], run)
    settings[name] = explicit if explicit is not None else stored.get(name, default)
  return settings


def _contradiction(name, explicit, stored, run):
  return UsageError("--%s=%s contradicts the trained run in %s (%s=%s): leave the flag out to "
                    "use the run's setting, or train a new run in another --output_dir." % (
                        name, explicit, run.directory, name, stored))


def _model_files(config, run, info):
  """Model files; eval/predict of a trained run use the copies saved in its directory."""
  if info is None:
    return pretrained.resolve_model_files(config)
  if _names_another_model(config, (info.identity or {}).get("model") or {}):
    logging.warning("Eval/predict restore the run's own checkpoint in %s; the model flags "
                    "(--model, --init_checkpoint, --bert_hub_module_handle), which name "
                    "another model than the run was trained from, are not used.",
                    run.directory)
  return pretrained.ModelFiles(
      None if info.hub_module_handle else run.path(run_dir.BERT_CONFIG), None,
      run.path(run_dir.VOCAB), info.preprocessor["do_lower_case"], info.hub_module_handle)


def _names_another_model(config, trained_from):
  """Whether the model flags name a model other than the one the run was trained from."""
  if config.bert_hub_module_handle:
    handle = config.bert_hub_module_handle
    return (os.path.abspath(handle) if os.path.isdir(handle) else handle) != trained_from.get(
        "hub_module_handle")
  if not (config.init_checkpoint or config.model):
    return False
  try:
    given = pretrained.resolve_model_files(config)
  except UsageError:
    return True
  return _abs(given.init_checkpoint) != trained_from.get("checkpoint")


def _read_sets(config, processor, skip_empty=False):
  """{set name: examples} for the sets this run needs (dev also for eval while training)."""
  eval_while_training = config.do_train and (config.eval_every_steps or
                                             config.early_stopping_patience)
  wanted = dict(train=config.do_train, dev=config.do_eval or eval_while_training,
                test=config.do_predict)
  readers = dict(train=processor.get_train_examples, dev=processor.get_dev_examples,
                 test=processor.get_test_examples)
  limits = dict(train=config.max_train_examples, dev=config.max_eval_examples, test=0)
  if config.do_train:
    for name, used_by in (("dev", "evaluate (--do_eval)"), ("test", "predict (--do_predict)")):
      fraction = None if wanted[name] else processor.split_fraction(name, config.data_dir)
      if fraction:
        _warn_of_unused_split(name, fraction, readers[name](config.data_dir), used_by)
  examples = {}
  for name in [n for n, w in wanted.items() if w]:
    found = readers[name](config.data_dir)
    if limits[name]:
      found = found[:limits[name]]
    if not found and skip_empty:
      continue
    if not found:
      raise _empty_set_error(processor, name, config.data_dir)
    examples[name] = found
  return examples


def _warn_of_unused_split(name, fraction, held_out, used_by):
  """A set split off train, in a run that never uses it: examples left out for nothing."""
  if held_out:
    logging.warning("No %s file: %d training examples (--%s_split=%g) are held out as %s, "
                    "which this run does not %s: pass --%s_split=0 to train on all of them.",
                    name, len(held_out), name, fraction, name, used_by, name)


def _empty_set_error(processor, name, data_dir):
  fraction = processor.split_fraction(name, data_dir)
  if fraction and not processor.file_of(name, data_dir):  # to be split off the training data
    train = len(processor.get_train_examples(data_dir))
    why = ("%g of %d training examples rounds to none" % (fraction, train)
           if round(train * fraction) == 0 else
           "each class keeps a training example, and too few are left")
    return EmptySplitError(
        "No %s examples could be split off the training data at --%s_split=%g: %s. Pass "
        "--%s_file or more data." % (name, name, fraction, why, name))
  if fraction == 0 and not processor.file_of(name, data_dir):
    return UsageError("The %s set is empty: there is no %s file and --%s_split=0 (a trained "
                      "run's eval takes its training's): pass --%s_file." % (name, name, name,
                                                                             name))
  return UsageError("The %s set is empty: check --data_dir / --%s_file." % (name, name))


def _check_data_flags(info, processor, run):
  """A trained run's data is read as in training: the same kind of labels, pairs or not
  (checked before reading, so a regression flag does not fail on the labels instead)."""
  kind = tasks.task_from_dict(info.task).kind
  if processor.task_kind != kind:
    raise UsageError("The run in %s is %s but the data flags describe %s: pass the same label "
                     "flags as in training (--label_column, --label_delimiter, --regression)."
                     % (run.directory, kind, processor.task_kind))
  if processor.has_text_b != info.text_pair:
    raise UsageError("The run in %s was trained on %s but the data flags give %s: pass the same "
                     "--text_b_column as in training." % (
                         run.directory, *(("sentence pairs" if pair else "single texts")
                                          for pair in (info.text_pair, processor.has_text_b))))
  check_declared_labels(info, processor, run)


def _check_same_split(config, info, processor, run):
  """A set that eval or predict split off the training file must be the one training held
  out: any other (a changed file, another seed or fraction, a run that had a --dev_file)
  would hold examples the run was trained on."""
  train_file = processor.file_of("train", config.data_dir)
  split = [name for name, wanted in (("dev", config.do_eval), ("test", config.do_predict))
           if wanted and processor.split_fraction(name, config.data_dir)]
  trained = run.read_run_config()
  if not (split and train_file and isinstance(trained, dict) and info.identity):
    return
  fix = "pass the training's settings (the command line takes them when none is given) or a " \
        "--%s_file" % split[0]
  if trained.get("%s_file" % split[0]):
    raise UsageError("No %s file: %s would be split off %s, but the run in %s trained on all of "
                     "its training data (its %s came from --%s_file=%s): pass that file." % (
                         split[0], split[0], train_file, run.directory, split[0], split[0],
                         trained["%s_file" % split[0]]))
  limit = trained.get("max_train_examples") or None
  left = processor.get_train_examples(config.data_dir)[:limit]
  if features.examples_fingerprint(left) != info.identity.get("data"):
    raise UsageError("No %s file: %s would be split off %s, but what is left of it is not what "
                     "the run in %s trained on (another file, seed, --%s_split or label "
                     "columns), so it would hold trained examples: %s." % (
                         split[0], split[0], train_file, run.directory, split[0], fix))


def check_declared_labels(info, processor, run):
  """Label columns and a labels file name the run's labels (in any order); where integer
  labels index into the labels file, it lists them in the training's order."""
  if not isinstance(processor, processors.FileProcessor) or not processor.declared_labels():
    return
  data, labels = processor.config, tasks.task_from_dict(info.task).label_list
  trained_ids = info.label_ids or labels  # runs from before label_ids: the file's order
  by_ids = processor.labels_indexed_by_ids()
  if data.labels_file and (by_ids != trained_ids if by_ids else
                           set(processor.declared_labels()) != set(labels)):
    raise UsageError("--labels_file %s lists %s, but the run in %s was trained with %s%s: pass "
                     "its labels file." % (
                         data.labels_file, ", ".join(processor.declared_labels()[:20]),
                         run.directory, ", ".join((trained_ids if by_ids else labels)[:20]),
                         " in this order (integer labels index into it)" if by_ids else ""))
  if len(data.label_columns) > 1 and set(processor.declared_labels()) != set(labels):
    raise _contradiction("label_column", ",".join(map(str, data.label_columns)),
                         ",".join(labels), run)


def _decide_task(config, info, processor, examples, run):
  """The task object: a trained run's own, else from the processor and --label_list."""
  explicit_labels = config.label_names()
  if info is not None:
    task = run.load_task(info)
    if explicit_labels is not None and explicit_labels != task.label_list:
      raise _contradiction("label_list", ",".join(explicit_labels), ",".join(task.label_list),
                           run)
  else:
    labels = explicit_labels or processor.get_labels()
    task = tasks.make_task(processor.task_kind, labels, processor.main_metric)
  if config.retune_thresholds and not task.tunes_thresholds:
    logging.warning("--retune_thresholds is read only by multi-label runs (this one is %s), so "
                    "this run ignores it.", task.kind)
  if "train" in examples:
    processors.log_data_warnings(examples["train"], "training data")
    tasks.log_label_warnings(task, examples["train"], "training data")
    task = task.with_class_weights(config.class_weights, examples["train"])
    task = task.with_pos_weight(config.pos_weight, examples["train"])
  for name, found in examples.items():
    task.label_array(found)  # an unknown label stops here, naming file and line
    logging.info(task.describe(name, found))
  return task


# ============================================================================
# Writing: the run's description and its records
# ============================================================================
def _identity(plan):
  """What makes a training this directory's run (compared on every rerun)."""
  c = plan.config
  identity = dict(
      model=dict(checkpoint=_abs(plan.files.init_checkpoint),
                 hub_module_handle=plan.files.hub_module_handle,
                 bert_config=plan.bert_config.to_dict() if plan.bert_config else None),
      task=dict(kind=plan.task.kind, label_list=plan.task.label_list),
      preprocessor=dict(plan.preprocessor.settings(), vocab=plan.preprocessor.vocab_fingerprint()),
      data=features.examples_fingerprint(plan.examples["train"]),
      # Beside the fingerprint, so that a refusal can say "160 -> 170" (runs recorded
      # before it lack it, and are compared without it).
      data_examples=len(plan.examples["train"]),
      training=dict({name: getattr(c, name) for name in TRAINING_OPTIONS},
                    head_hidden_size=plan.head_hidden_size))
  if c.mixed_precision == "float32":  # the same training as leaving it unset
    identity["training"]["mixed_precision"] = None
  if (c.eval_every_steps or c.early_stopping_patience) and "dev" in plan.examples:
    # The dev set that picks the best checkpoint, or stops early, steers what is kept.
    identity["selection_data"] = features.examples_fingerprint(plan.examples["dev"])
    identity["selection_examples"] = len(plan.examples["dev"])
  return identity


def _check_same_best_metric(plan):
  """A resume goes on comparing dev scores with the best so far, and a finished run's best/
  was picked by its metric: by the same metric, or not at all."""
  used = plan.run.read_training_state().get("best_metric")
  asked = plan.config.best_metric or plan.task.main_metric
  if used and dev_metric_name(used) != dev_metric_name(asked):
    raise UsageError("%s picked its best checkpoint so far by %s: resume with --best_metric=%s, "
                     "or start over with --overwrite_output_dir." % (plan.run.directory, used,
                                                                    used))


def _abs(path):
  return os.path.abspath(path) if path else None


def _recorded(config):
  """run_config.json's options, local paths made absolute: eval and predict read them from
  any directory."""
  options = json.loads(config.to_json_string())
  for name in options_where(RunConfig, path=True):
    if isinstance(options.get(name), str) and "://" not in options[name]:
      options[name] = os.path.abspath(options[name])
  return json.dumps(options, indent=2, sort_keys=True) + "\n"


def _start_training_run(plan):
  """A new run writes its description; the same run resumes; a different one stops."""
  run, identity = plan.run, _identity(plan)
  config_json = _recorded(plan.config)  # fails (if at all) before anything is deleted
  overwrite = plan.config.overwrite_output_dir
  if overwrite or not run.latest_checkpoint():
    # A fresh start: the model must load before anything is deleted or written.
    pairs = plan.processor.has_text_b
    if plan.files.hub_module_handle:
      hub.check_encoder(plan.files.hub_module_handle, plan.preprocessor.max_seq_length,
                        plan.preprocessor.largest_id, pairs)
    elif plan.files.init_checkpoint:
      modeling.check_google_checkpoint(plan.bert_config, plan.files.init_checkpoint)
    if pairs and plan.bert_config is not None and plan.bert_config.type_vocab_size < 2:
      raise UsageError("%s has type_vocab_size %d, but the data are sentence pairs (the second "
                       "text is token type 1): train single texts, or use a model with two "
                       "token types." % (plan.files.bert_config_file,
                                         plan.bert_config.type_vocab_size))
  if overwrite and run.holds_a_run():  # a directory without a run holds nothing of ours
    logging.warning("--overwrite_output_dir: deleting the run in %s.", run.directory)
    run.clear()
  run.check_same_run(identity)
  if not overwrite:
    _check_same_best_metric(plan)
  _write_model_description(plan, identity)
  run.write_run_config(config_json, status="running")


def _model_description(plan):
  """{name: bytes} of the files that describe the run's model, besides model_info.json
  (the vocab only where it is not the run's own copy already)."""
  run = plan.run
  files = {run_dir.LABEL_LIST: run_dir.label_list_text(plan.task.label_list).encode("utf-8")}
  if plan.bert_config is not None:
    files[run_dir.BERT_CONFIG] = plan.bert_config.to_json_string().encode("utf-8")
  if _abs(plan.files.vocab_file) != _abs(run.path(run_dir.VOCAB)):
    with open(plan.files.vocab_file, "rb") as f:
      files[run_dir.VOCAB] = f.read()
  return files


def _write_model_description(plan, identity):
  """The files that describe the run's model, never over a user's files of their names;
  model_info.json last, since its presence makes the directory a run."""
  description = _model_description(plan)
  plan.run.check_no_foreign_files(description)
  plan.run.write_files(description)
  stored_task = dict(plan.task.to_dict(), thresholds=None)  # thresholds.json holds those
  plan.run.write_model_info(run_dir.ModelInfo(
      task=stored_task, preprocessor=plan.preprocessor.settings(),
      head_hidden_size=plan.head_hidden_size, hub_module_handle=plan.files.hub_module_handle,
      text_pair=plan.processor.has_text_b, task_name=plan.config.task_name, identity=identity,
      label_ids=plan.processor.labels_indexed_by_ids()))


def _write_records(plan, directory=None):
  """TFRecords of each set, in the run directory or `directory` (fixed shapes: eval and
  predict padded to full batches with examples that have is_real_example=0)."""
  c = plan.config
  pad_to = dict(dev=c.eval_batch_size, test=c.predict_batch_size) if plan.fixed_shapes else {}
  records = {}
  for name, found in plan.examples.items():
    if pad_to.get(name):
      found = features.pad_to_batch_multiple(found, pad_to[name])
    path = (os.path.join(directory, run_dir.TFRECORDS[name]) if directory
            else plan.run.path(run_dir.TFRECORDS[name]))
    records[name] = features.file_based_convert_examples_to_features(
        found, plan.task, plan.preprocessor, path)
  return records


# ============================================================================
# Train, evaluate, predict
# ============================================================================
def _dataset(plan, info, batch_size):
  fixed = plan.fixed_shapes
  return make_dataset(info.paths, plan.preprocessor.max_seq_length, batch_size,
                      is_training=False, task=plan.task, dynamic_padding=not fixed,
                      drop_remainder=fixed, windows=plan.preprocessor.window_records)


def _train(plan, strategy, model, encoder, variables, records):
  c = plan.config
  job = training.TrainJob(
      config=c, run=plan.run, task=plan.task, train_files=records["train"].paths,
      num_train_examples=records["train"].num_real_examples,
      max_seq_length=plan.preprocessor.max_seq_length,
      num_layers=plan.bert_config.num_hidden_layers if plan.bert_config else 12,
      fixed_shapes=plan.fixed_shapes, windows=plan.preprocessor.window_records)
  logging.info("Training: %d examples, batch %d, %d steps (%d warmup).",
               job.num_train_examples, c.train_batch_size, job.num_train_steps,
               job.num_warmup_steps)
  if c.train_batch_size > job.num_train_examples:
    logging.warning("--train_batch_size=%d is more than the %d training examples: each batch "
                    "repeats examples.", c.train_batch_size, job.num_train_examples)
  if c.eval_checkpoint:  # now that the number of steps is known
    plan.run.check_checkpoint_to_come(c.eval_checkpoint, job.num_train_steps)

  def init_fn():  # a fresh start: pretrained encoder, head bias from the label priors
    if plan.files.hub_module_handle:
      pass  # the module brought its weights
    elif plan.files.init_checkpoint:
      modeling.load_google_checkpoint(encoder, plan.files.init_checkpoint)
    else:
      logging.warning("No --init_checkpoint: the encoder starts from random weights. To "
                      "fine-tune a pretrained model pass --init_checkpoint (or --model).")
    bias = plan.task.initial_output_bias(plan.task.label_array(plan.examples["train"]))
    if bias is not None:
      classifier.set_output_bias(model, bias)

  evaluate_fn = None
  if "dev" in records and (c.eval_every_steps or c.early_stopping_patience):
    evaluate_fn = lambda: _evaluate_while_training(plan, strategy, model, records["dev"])
  return training.train(model, variables, strategy, job, evaluate_fn, init_fn)


def _evaluate_while_training(plan, strategy, model, records):
  """Dev metrics for the best checkpoint and early stopping (multi-label: with thresholds
  tuned on the spot, not saved; the evaluation after training decides those)."""
  dataset = _dataset(plan, records, plan.config.eval_batch_size)
  results, probs, labels = training.evaluate(model, strategy, dataset, plan.task)
  tuned, how = plan.task.tuned(labels, probs)
  return results if how is None else dict(results, **tuned.metrics(labels, probs))


def _evaluate(plan, strategy, model, records, checkpoint, global_step):
  """Dev metrics; multi-label thresholds are decided here once (after training) and
  then kept: an eval-only run reports with them unless --retune_thresholds."""
  c, run = plan.config, plan.run
  results, probs, labels = training.evaluate(model, strategy,
                                             _dataset(plan, records, c.eval_batch_size), plan.task)
  has_thresholds = run.read_thresholds(plan.task.label_list) is not None
  if c.do_train or c.retune_thresholds or not has_thresholds:
    tuned, how = plan.task.tuned(labels, probs)
    if how is not None:
      if plan.owner:
        run.save_thresholds(tuned.label_list, tuned.thresholds, how)
      plan.task = tuned
      results = dict(results, **tuned.metrics(labels, probs))
  for warning in results.get("warnings", []):
    logging.warning("Dev predictions look degenerate: %s.", warning)
  out = {"eval_" + k: v for k, v in results.items()}
  out.update(global_step=global_step, loss=results["loss"], checkpoint_path=checkpoint,
             main_metric=c.best_metric or plan.task.main_metric)
  if plan.owner:
    run.write_predictions(plan.examples["dev"], plan.task, probs, run_dir.EVAL_PREDICTIONS)
    run.write_eval_results(out)
  return out


def _predict(plan, strategy, model, records, checkpoint):
  """test_results.tsv and predictions.csv; a labelled test file is also scored
  (test_results.json), with the run's thresholds."""
  examples = plan.examples["test"]
  probs = training.predict_probabilities(model, strategy,
                                         _dataset(plan, records, plan.config.predict_batch_size),
                                         plan.task, num_examples=len(examples))
  if plan.owner:
    plan.run.write_test_results(probs)
    plan.run.write_predictions(examples, plan.task, probs)
  result = dict(num_examples=len(probs), checkpoint_path=checkpoint)
  unlabelled = sum(e.label is None for e in examples)
  if examples and not unlabelled:
    metrics = plan.task.metrics(plan.task.label_array(examples), probs)
    if plan.owner:
      plan.run.write_test_metrics(dict(metrics, checkpoint_path=checkpoint))
    result.update({"test_" + k: v for k, v in metrics.items()})
    return result
  if unlabelled < len(examples):
    logging.warning("%d of %d test examples have no label (e.g. %s), so the test file is not "
                    "scored; fill in the labels to score it.", unlabelled, len(examples),
                    next(e.where or e.guid for e in examples if e.label is None))
  if plan.owner:  # an earlier prediction's scores are not this one's
    plan.run.remove_test_metrics()
  return result
