"""`BertConfig`: the architecture in Google's `bert_config.json`, validated."""

import contextlib
import copy
import dataclasses
import itertools
import json
import math
import numbers
import os
from typing import Optional

from absl import logging

from bert_tf import processors
from bert_tf.errors import UsageError

# "gelu" means what it means in Google's modeling.py: the tanh approximation.
# Hugging Face's "gelu" is the exact erf form; converted configs say "gelu_exact".
ACTIVATIONS = ("gelu", "gelu_new", "gelu_exact", "relu", "tanh", "swish", "silu")


# A bert_config.json without these gets BERT-base's shape (Google's defaults): warned about.
_SHAPE_FIELDS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")


@dataclasses.dataclass
class BertConfig:
  """Configuration of a BERT encoder, with Google's field names and defaults."""
  vocab_size: int
  hidden_size: int = 768
  num_hidden_layers: int = 12
  num_attention_heads: int = 12
  intermediate_size: int = 3072
  hidden_act: str = "gelu"
  hidden_dropout_prob: float = 0.1
  attention_probs_dropout_prob: float = 0.1
  max_position_embeddings: int = 512
  type_vocab_size: int = 16
  initializer_range: float = 0.02

  def __post_init__(self):
    self.validate()

  def validate(self, source="bert_config"):
    positive = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "max_position_embeddings", "type_vocab_size")
    for name in positive:
      value = getattr(self, name)
      if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise UsageError("%s: %s must be a positive integer, got %r." % (source, name, value))
    if self.hidden_size % self.num_attention_heads:
      raise UsageError(
          "%s: hidden_size (%d) is not a multiple of num_attention_heads (%d)." %
          (source, self.hidden_size, self.num_attention_heads))
    if self.hidden_act not in ACTIVATIONS:
      raise UsageError("%s: hidden_act %r is not supported; use one of %s." %
                       (source, self.hidden_act, ", ".join(ACTIVATIONS)))
    for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "initializer_range"):
      value = getattr(self, name)
      if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise UsageError("%s: %s must be a number, got %r." % (source, name, value))
    for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
      value = getattr(self, name)
      if not 0.0 <= value < 1.0:
        raise UsageError("%s: %s must be in [0, 1), got %r." % (source, name, value))
    if self.initializer_range <= 0:
      raise UsageError("%s: initializer_range must be > 0." % source)

  @classmethod
  def from_dict(cls, json_object, source="bert_config"):
    fields = {f.name for f in dataclasses.fields(cls)}
    if "vocab_size" not in json_object:
      raise UsageError("%s: the required field vocab_size is missing." % source)
    kwargs = {k: v for k, v in json_object.items() if k in fields}
    missing = [k for k in _SHAPE_FIELDS if k not in json_object]
    if missing:  # Google's defaults (BERT-base) would build a model of another shape
      logging.warning("%s lacks %s: Google's defaults are used (%s).", source,
                      ", ".join(missing), ", ".join("%s=%s" % (k, getattr(cls, k, None))
                                                    for k in missing))
    try:
      config = cls.__new__(cls)
      for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        setattr(config, f.name, kwargs.get(f.name, default))
      config.validate(source)
    except TypeError as e:
      raise UsageError("%s: %s" % (source, e)) from None
    return config

  @classmethod
  def from_json_file(cls, json_file):
    try:
      with open(json_file, "r", encoding="utf-8") as reader:
        data = json.load(reader)
    except FileNotFoundError:
      raise UsageError("BERT config file %s does not exist; pass --bert_config_file." %
                       json_file) from None
    except json.JSONDecodeError as e:
      raise UsageError("BERT config file %s is not valid JSON: %s" % (json_file, e)) from None
    if not isinstance(data, dict):
      raise UsageError("BERT config file %s must hold a JSON object." % json_file)
    return cls.from_dict(data, source=json_file)

  def to_dict(self):
    return copy.deepcopy(dataclasses.asdict(self))

  def to_json_string(self):
    return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


# Field types checked in validate(): a number given as text (from the Python API) would
# otherwise fail deep inside with a TypeError.
_NUMBER_TYPES = {int: numbers.Integral, Optional[int]: numbers.Integral, float: numbers.Real}
_NUMBER_NAMES = {numbers.Integral: "an integer", numbers.Real: "a number"}


ROLES = ("training", "operational", "reading")


def option(default, help, flag_default=None, choices=None, role=None,  # pylint: disable=redefined-builtin
           path=False):
  """A RunConfig field: declared once, with the help text its command-line flag shows.

  `flag_default` is what the flag shows (Google's default) when the field's own
  default is None, meaning "the trained run's setting, else flag_default".
  `role` says what the option changes: "training", the trained weights (with the data,
  model and preprocessor, a training's identity); "operational", where and how a run
  works, never what it learns; "reading", how the data files are read (columns, labels),
  which eval and predict take from the run's training (FROM_TRAINING); None,
  anything else (the data, model, preprocessing, or the evaluation that chooses the best
  checkpoint). `path`: a file or directory.
  """
  assert role in ROLES + (None,), role
  return dataclasses.field(default=default, metadata=dict(
      help=help, flag_default=flag_default, choices=choices, role=role, path=path))


def options_where(config_class, **metadata):
  """Names of the fields of `config_class` whose option metadata has these values."""
  return tuple(f.name for f in dataclasses.fields(config_class)
               if all(f.metadata.get(k) == v for k, v in metadata.items()))


# Settings a trained run fixes: eval/predict/export take them from its directory.
# None in a RunConfig means "the run's own, else this default".
RUN_SETTING_DEFAULTS = dict(max_seq_length=128, truncation="head", head_tokens=128,
                            head_hidden_size=0, clean_text=False, doc_stride=0, max_windows=8,
                            window_pooling="mean")
STRATEGIES = ("auto", "default", "mirrored", "tpu", "multi_worker")
PRECISIONS = ("mixed_float16", "mixed_bfloat16", "float32")
# What a trained model predicts in (Predictor, bert-tf-predict, a SavedModel export):
# bfloat16 keeps weights, products and activations in bfloat16, softmax, LayerNorm's
# arithmetic and the logits in float32 (modeling's), and pays where the CPU has AMX, or on
# a GPU.
INFERENCE_DTYPES = ("float32", "bfloat16")
INFERENCE_DTYPE_HELP = ("What the model computes in: bfloat16 stores weights and multiplies in "
                        "bfloat16 (softmax, LayerNorm and the logits stay float32); faster "
                        "where the CPU has AMX, or on a GPU.")


_SAID = None  # inside warnings_said_once(): the config warnings said so far


@contextlib.contextmanager
def warnings_said_once():
  """Each config warning once inside (a grid validates a copy of its config per run)."""
  global _SAID
  outer, _SAID = _SAID, set() if _SAID is None else _SAID
  try:
    yield
  finally:
    _SAID = outer


def _warn_once(message, *args):
  text = message % args
  if _SAID is None or text not in _SAID:
    if _SAID is not None:
      _SAID.add(text)
    logging.warning(text)  # formatted: the API renames the flags in a record's message


def _weights_text(value):
  """Per-label weights from Python (a number, or a list, tuple or array of them) as the flag
  writes them ("1.0,2.0"); None for anything else."""
  values = value if isinstance(value, (list, tuple)) else [value]
  if values and all(isinstance(w, numbers.Real) and not isinstance(w, bool) for w in values):
    return ",".join(repr(float(w)) for w in values)
  return None


@dataclasses.dataclass
class RunConfig:
  """Every option of a fine-tuning run, each declared once; the command-line flags of
  run_classifier.py are generated from these fields and their help texts.

  Saved as output_dir/run_config.json.
  """
  output_dir: str = option(None, "The output directory where the model checkpoints will be "
                           "written.", role="operational", path=True)
  # ---- Google's run_classifier.py flags (same names, defaults and meaning) ----
  data_dir: Optional[str] = option(
      None, "The input data dir. Should contain the .tsv files (or other data files) for the "
      "task.", path=True)
  bert_config_file: Optional[str] = option(
      None, "The config json file corresponding to the pre-trained BERT model. This specifies "
      "the model architecture. Defaults to the one beside --init_checkpoint or of --model.",
      path=True)
  task_name: Optional[str] = option(
      None, "The name of the task to train (cola, mnli, mrpc, sst-2, ... or 'file' for your own "
      "CSV/TSV/JSON data).")
  vocab_file: Optional[str] = option(None, "The vocabulary file that the BERT model was trained "
                                     "on.", path=True)
  init_checkpoint: Optional[str] = option(
      None, "Initial checkpoint (usually from a pre-trained BERT model).", path=True)
  do_lower_case: Optional[bool] = option(
      None, "Whether to lower case the input text. Should be True for uncased models and False "
      "for cased models. Defaults to the model's own setting (True for Google's).")
  max_seq_length: Optional[int] = option(
      None, "The maximum total input sequence length after WordPiece tokenization. Sequences "
      "longer than this will be truncated, and sequences shorter than this will be padded. "
      "Eval/predict on a trained output_dir use the run's own.", flag_default=128)
  do_train: bool = option(False, "Whether to run training.", role="operational")
  do_eval: bool = option(False, "Whether to run eval on the dev set.", role="operational")
  do_predict: bool = option(False, "Whether to run the model in inference mode on the test "
                            "set.", role="operational")
  train_batch_size: int = option(32, "Total batch size for training.", role="training")
  eval_batch_size: int = option(8, "Total batch size for eval.", role="operational")
  predict_batch_size: int = option(8, "Total batch size for predict.", role="operational")
  learning_rate: float = option(5e-5, "The initial learning rate for Adam.", role="training")
  num_train_epochs: float = option(3.0, "Total number of training epochs to perform.",
                                   role="training")
  gradient_accumulation_steps: int = option(
      1, "Split each --train_batch_size batch into this many micro-batches and add up their "
      "gradients before one optimizer step: the same updates in less memory.", role="training")
  warmup_proportion: float = option(
      0.1, "Proportion of training to perform linear learning rate warmup for. E.g., 0.1 = 10% "
      "of training.", role="training")
  save_checkpoints_steps: int = option(1000, "How often to save the model checkpoint.",
                                       role="operational")
  iterations_per_loop: int = option(1000, "How many steps to make in each estimator call "
                                    "(here: at most this many steps per tf.function call; a "
                                    "call also ends at each logging, checkpoint or evaluation "
                                    "step).", role="operational")
  use_tpu: bool = option(False, "Whether to use TPU or GPU/CPU.", role="operational")
  tpu_name: Optional[str] = option(
      None, "The Cloud TPU to use for training. This should be either the name used when "
      "creating the Cloud TPU, or a grpc://ip.address.of.tpu:8470 url.", role="operational")
  tpu_zone: Optional[str] = option(
      None, "[Optional] GCE zone where the Cloud TPU is located in. If not specified, we will "
      "attempt to automatically detect the GCE project from metadata.", role="operational")
  gcp_project: Optional[str] = option(
      None, "[Optional] Project name for the Cloud TPU-enabled project. If not specified, we "
      "will attempt to automatically detect the GCE project from metadata.", role="operational")
  master: Optional[str] = option(None, "[Optional] TensorFlow master URL.", role="operational")
  num_tpu_cores: int = option(8, "Only used if `use_tpu` is True. Total number of TPU cores to "
                              "use. (Not used here: TPUStrategy uses every core of the TPU; the "
                              "log names how many.)", role="operational")
  tpu_job_name: Optional[str] = option(None, "Name of TPU worker, if anything other than "
                                       "'tpu_worker'.", role="operational")
  # ---- model source ----
  model: Optional[str] = option(
      None, "A named pretrained model (all-MiniLM-L6-v2, the embedded default) or a "
      "Google-format directory (bert_config.json, bert_model.ckpt, vocab.txt). "
      "--init_checkpoint, --bert_config_file and --vocab_file, when given, replace its pieces.")
  bert_hub_module_handle: Optional[str] = option(
      None, "A TF-Hub BERT encoder: a local SavedModel directory or a hub handle (needs "
      "network). Its vocab and casing come from the module's assets.")
  # ---- data (your own files) ----
  train_file: Optional[str] = option(None, "Training data file (CSV/TSV/JSON/JSONL) or a "
                                     "folder with one sub-folder per class.", path=True)
  dev_file: Optional[str] = option(None, "Dev data file; without it, --dev_split of train.",
                                   path=True)
  test_file: Optional[str] = option(None, "Test data file for --do_predict.",
                                    role="operational", path=True)
  file_format: Optional[str] = option(None, "Format of the data files; default: from the file "
                                      "extension.",
                                      choices=("csv", "tsv", "json", "jsonl", "folder"),
                                      role="reading")
  text_column: str = option("text", "Text column: a header name or a 0-based index.",
                            role="reading")
  text_b_column: Optional[str] = option(None, "Second text column, for sentence-pair tasks.",
                                        role="reading")
  label_column: str = option("label", "Label column (name or index). Several comma-separated "
                             "columns mean multi-label with one 0/1 column per label.",
                             role="reading")
  label_delimiter: Optional[str] = option(
      None, "Multi-label in one column: the delimiter between labels, e.g. ','. An empty "
      "cell is none of the labels.", role="reading")
  labels_file: Optional[str] = option(
      None, "File with one label name per line; integer labels index into it.", path=True,
      role="reading")
  label_list: Optional[str] = option(
      None, "Comma-separated label names, fixing their order (default: sorted labels of the "
      "training data).")
  header: Optional[bool] = option(None, "Whether CSV/TSV files have a header row (default: "
                                  "yes).", role="reading")
  encoding: str = option("utf-8", "Encoding of the data files (utf-8, utf-8-sig, latin-1, ...).",
                         role="reading")
  regression: bool = option(False, "The label is a number (e.g. STS-B scores).", role="reading")
  dev_split: float = option(0.1, "Fraction of train used as dev when there is no dev file "
                            "(stratified, seeded by --split_seed).")
  test_split: float = option(0.0, "Fraction of train used as test when there is no test file.")
  skip_bad_rows: bool = option(False, "Skip (and count) CSV/TSV rows whose number of fields "
                               "differs from the header's, instead of stopping at the first.")
  max_train_examples: int = option(0, "Use only the first N training examples (0: all).")
  max_eval_examples: int = option(0, "Use only the first N dev examples (0: all).")
  truncation: Optional[str] = option(None, "How to cut single texts longer than "
                                     "max_seq_length.", flag_default="head",
                                     choices=("head", "tail", "head_tail"))
  head_tokens: Optional[int] = option(None, "Tokens kept from the start with "
                                      "--truncation=head_tail; the rest come from the end.",
                                      flag_default=128)
  clean_text: Optional[bool] = option(
      None, "Clean web text before tokenization: Unicode NFKC (full-width to half-width), URLs "
      "-> URL, e-mails -> EMAIL, @mentions -> @USER, a character repeated 4+ times -> 3. "
      "Recorded in the run: predict and exports apply the same.", flag_default=False)
  doc_stride: Optional[int] = option(
      None, "Long single texts as overlapping windows of max_seq_length tokens that start every "
      "doc_stride tokens; the model pools the windows' logits per text in training, eval and "
      "predict (0: one window, cut by --truncation).", flag_default=0)
  max_windows: Optional[int] = option(None, "With --doc_stride: the most windows per text (a "
                                      "longer text keeps its first ones).", flag_default=8)
  window_pooling: Optional[str] = option(None, "With --doc_stride: how a text's window logits "
                                         "are pooled.", flag_default="mean",
                                         choices=("mean", "max"))
  # ---- model head and training ----
  head_hidden_size: Optional[int] = option(None, "Hidden layer of the classifier head "
                                           "(0: none).", flag_default=0)
  head_dropout: float = option(0.1, "Dropout before the classifier head.", role="training")
  freeze_encoder: bool = option(False, "Train only the classifier head.", role="training")
  class_weights: Optional[str] = option(
      None, "Single-label loss weight per class: 'balanced' (n / (num_labels * count)) or one "
      "number per label in label order.", role="training")
  pos_weight: Optional[str] = option(
      None, "Multi-label weight of each label's positives in the loss: 'balanced' "
      "(negatives / positives in train) or one number per label in label order.", role="training")
  weight_decay: float = option(0.01, "AdamW weight decay (not on LayerNorm or biases).",
                               role="training")
  clip_norm: float = option(1.0, "Global-norm gradient clipping (0: off).", role="training")
  adam_bias_correction: bool = option(False, "Use Adam bias correction (Google's "
                                      "AdamWeightDecay has none).", role="training")
  layerwise_lr_decay: float = option(1.0, "Multiply the learning rate by this per layer below "
                                     "the top (1: off).", role="training")
  strategy: str = option("auto", "tf.distribute strategy; auto: TPU with --use_tpu, "
                         "multi-worker with TF_CONFIG, mirrored with several GPUs, else "
                         "default.", choices=STRATEGIES, role="operational")
  mixed_precision: Optional[str] = option(None, "Keras mixed precision policy.",
                                          choices=PRECISIONS, role="training")
  use_xla: bool = option(False, "Compile the train step with XLA.", role="operational")
  seed: int = option(12345, "Random seed (initialisation, shuffling, dev split).", role="training")
  split_seed: Optional[int] = option(None, "Seed of the dev/test split off train (default: "
                                     "--seed); a grid keeps it fixed across its restarts.")
  dynamic_padding: bool = option(True, "Trim each batch to its longest example and run our "
                                 "encoder's token-wise layers on its real tokens alone (CPU/GPU; "
                                 "off on TPU; trimming only with --use_xla): fixed padding's "
                                 "batches, math and dropout masks, faster.", role="training")
  group_by_length: bool = option(False, "With --dynamic_padding: also sort training examples "
                                 "by length within windows of 4 batches: about 1.2x faster "
                                 "again, but batches of alike lengths cost dev accuracy "
                                 "(SST-2: -0.6 pt against trimmed batches, mean of 3 seeds).",
                                 role="training")
  keep_checkpoint_max: int = option(5, "How many model.ckpt-N to keep.", role="operational")
  save_optimizer_state: bool = option(
      True, "Keep Adam's slots in the checkpoints of a finished training (false: they are "
      "rewritten with the weights only, about 1/3 of the size; an interrupted run still resumes "
      "from its last full checkpoint). best/ always holds the weights only.", role="operational")
  eval_every_steps: int = option(0, "Evaluate on dev every N steps (0: at the end, or each "
                                 "epoch with early stopping); each evaluation also saves "
                                 "model.ckpt-N.")
  early_stopping_patience: int = option(0, "Stop after this many evaluations without "
                                        "improvement (0: off).")
  best_metric: Optional[str] = option(None, "Dev metric that picks the best checkpoint "
                                      "(default: the task's main metric).")
  eval_checkpoint: Optional[str] = option(None, "Evaluate/predict with this checkpoint (e.g. "
                                          "output_dir/model.ckpt-1000) instead of best/ (else "
                                          "the latest).",
                                          role="operational")
  log_every_steps: int = option(50, "Log training loss every N steps.", role="operational")
  progress: str = option("auto", "Progress display: bars with loss, examples/s and ETA on a "
                         "terminal (auto), always (bar), periodic log lines only (log), or "
                         "nothing (off).", choices=("auto", "bar", "log", "off"),
                         role="operational")
  # ---- the run directory ----
  overwrite_output_dir: bool = option(
      False, "Delete a different run's files in --output_dir and start over (without it, "
      "training into a directory that holds another run stops with an error).", role="operational")
  retune_thresholds: bool = option(
      False, "Multi-label: tune the decision thresholds again on this --do_eval data and save "
      "them (by default an eval-only run uses the thresholds the run chose).", role="operational")

  def __post_init__(self):
    self.validate()

  def label_names(self):
    """--label_list as a list, or None when not given."""
    names = [l.strip() for l in (self.label_list or "").split(",") if l.strip()]
    return names or None

  def validate(self):
    def fail(message):
      raise UsageError(message)
    if not self.output_dir:
      fail("--output_dir is required.")
    for name in options_where(RunConfig, path=True):
      value = getattr(self, name) or ""
      if "://" in value and not value.startswith("file://"):
        fail("--%s=%s: remote paths (gs://, s3://) are not read or written yet; copy the data "
             "and model to a local disk (gsutil cp -r) and the finished run back." % (name, value))
    if not (self.do_train or self.do_eval or self.do_predict):
      fail("At least one of --do_train, --do_eval or --do_predict must be True.")
    if self.data_dir and "://" not in self.data_dir and not os.path.exists(self.data_dir):
      fail("--data_dir %s does not exist." % self.data_dir)
    if self.data_dir and os.path.isfile(self.data_dir):
      fail("--data_dir %s is a file: pass it as --train_file (or --dev_file, --test_file), or "
           "pass the folder that holds it as --data_dir." % self.data_dir)
    self._check_numbers(fail)
    self._check_texts_and_switches(fail)
    if self.do_train:
      self._warn_of_unread_options()
    if self.max_seq_length is not None and not 3 <= self.max_seq_length <= 512:
      fail("--max_seq_length must be between 3 and 512, got %d." % self.max_seq_length)
    if self.max_seq_length is not None and self.max_seq_length < 8:
      _warn_once("--max_seq_length=%d keeps at most %d token(s) of a text after [CLS] and "
                 "[SEP] (%d of a sentence pair's two); 64-128 is usual.", self.max_seq_length,
                 self.max_seq_length - 2, self.max_seq_length - 3)
    if self.use_tpu and not (self.tpu_name or self.master):
      fail("--use_tpu needs --tpu_name (or --master).")
    if self.init_checkpoint and self.bert_hub_module_handle:
      fail("Pass either --init_checkpoint or --bert_hub_module_handle, not both.")
    if self.bert_hub_module_handle and self.model:
      fail("Pass either --model or --bert_hub_module_handle, not both.")
    for field in dataclasses.fields(self):
      name, choices = field.name, field.metadata["choices"]
      if not choices:
        continue
      value = getattr(self, name)
      if value not in (None, "") and value not in choices:
        fail("--%s must be one of %s, got %r." % (name, ", ".join(choices), value))
    if self.regression and (self.label_delimiter or "," in self.label_column):
      fail("--regression cannot be combined with multi-label columns or --label_delimiter.")
    if self.label_delimiter and "," in self.label_column:
      fail("--label_delimiter splits the cells of one label column; --label_column=%s names one "
           "0/1 column per label: pass one of them." % self.label_column)
    for name in ("class_weights", "pos_weight"):
      value = getattr(self, name)
      if value and value != "balanced":
        try:
          numbers = [float(w) for w in value.split(",")]
        except ValueError:
          numbers = [math.nan]
        if not all(math.isfinite(w) and w > 0 for w in numbers):
          fail("--%s must be 'balanced' or comma-separated positive numbers, got %r." %
               (name, value))
    if not (self.task_name or self.train_file or self.dev_file or self.test_file
            or self.data_dir):
      fail("Say where the data is: --task_name with --data_dir, or --train_file/--dev_file/"
           "--test_file (or --data_dir with train/dev/test files)%s." % (
               "; to predict with a trained run, pass --test_file=FILE" if self.do_predict and
               not self.do_train else ""))
    own_files = [n for n in ("train_file", "dev_file", "test_file") if getattr(self, n)]
    if own_files and (self.task_name or "").lower() in processors.GLUE_PROCESSORS:
      fail("--%s is not read with --task_name=%s, which reads its own files from --data_dir: "
           "leave out --task_name to read your own files." % (own_files[0], self.task_name))

  def _check_texts_and_switches(self, fail):
    """Text options are strings and switches booleans, as the flags give them; the API's
    per-label weights ([1, 2]) are written as the flag writes them ("1.0,2.0")."""
    for f in dataclasses.fields(self):
      value = getattr(self, f.name)
      value = value.tolist() if hasattr(value, "tolist") else value  # numpy's, from the API
      if value is None:
        continue
      if f.type in (bool, Optional[bool]):
        if not isinstance(value, bool):
          fail("--%s must be True or False, got %r." % (f.name, value))
        setattr(self, f.name, value)
      elif f.name in ("text_column", "text_b_column", "label_column") and isinstance(
          value, int) and not isinstance(value, bool):
        setattr(self, f.name, str(value))  # a 0-based index
      elif f.type in (str, Optional[str]) and not isinstance(value, str):
        weights = _weights_text(value) if f.name in ("class_weights", "pos_weight") else None
        if weights is None:
          fail("--%s must be a string%s, got %r." % (
              f.name, " ('balanced', or one number per label in label order)"
              if f.name in ("class_weights", "pos_weight") else "", value))
        setattr(self, f.name, weights)

  def _check_numbers(self, fail):
    """Of their type, finite and in range; legal but unusual values are warned about."""
    for f in dataclasses.fields(self):
      value = getattr(self, f.name)
      expected = _NUMBER_TYPES.get(f.type)
      if value is None or not expected:
        continue
      if isinstance(value, bool) or not isinstance(value, expected):
        fail("--%s must be %s, got %r." % (f.name, _NUMBER_NAMES[expected], value))
      # Python's own types (numpy scalars from the API would not write to JSON).
      value = int(value) if expected is numbers.Integral else float(value)
      setattr(self, f.name, value)
      if not math.isfinite(value):
        fail("--%s must be a finite number, got %r." % (f.name, value))
    for name in ("seed", "split_seed"):
      value = getattr(self, name)
      if value is not None and not 0 <= value < 2 ** 32:
        fail("--%s must be between 0 and 2**32 - 1, got %r." % (name, value))
    for name in ("train_batch_size", "eval_batch_size", "predict_batch_size",
                 "save_checkpoints_steps", "iterations_per_loop", "num_tpu_cores",
                 "keep_checkpoint_max", "log_every_steps", "gradient_accumulation_steps",
                 "learning_rate", "num_train_epochs"):
      if getattr(self, name) <= 0:
        fail("--%s must be positive, got %r." % (name, getattr(self, name)))
    if self.train_batch_size % self.gradient_accumulation_steps:
      fail("--train_batch_size=%d is not divisible by --gradient_accumulation_steps=%d." % (
          self.train_batch_size, self.gradient_accumulation_steps))
    for name in ("warmup_proportion", "dev_split", "test_split", "head_dropout"):
      if not 0 <= getattr(self, name) < 1:
        fail("--%s must be in [0, 1), got %r." % (name, getattr(self, name)))
    if self.layerwise_lr_decay <= 0 or self.layerwise_lr_decay > 1:
      fail("--layerwise_lr_decay must be in (0, 1], got %r." % self.layerwise_lr_decay)
    for name in ("weight_decay", "clip_norm", "max_train_examples", "max_eval_examples",
                 "eval_every_steps", "early_stopping_patience"):
      if getattr(self, name) < 0:
        fail("--%s must be >= 0, got %r." % (name, getattr(self, name)))
    if self.head_hidden_size is not None and self.head_hidden_size < 0:
      fail("--head_hidden_size must be >= 0 (0: no hidden layer), got %r." %
           self.head_hidden_size)
    if self.do_train and self.learning_rate > 1e-2:
      _warn_once("--learning_rate=%g is far above BERT's usual 1e-5..1e-4; training will "
                 "likely diverge.", self.learning_rate)
    if self.do_train and self.num_train_epochs > 100:
      _warn_once("--num_train_epochs=%g is unusually many for fine-tuning (2-4 is "
                 "usual).", self.num_train_epochs)
    length = self.max_seq_length or RUN_SETTING_DEFAULTS["max_seq_length"]
    head = self.head_tokens if self.head_tokens is not None else RUN_SETTING_DEFAULTS[
        "head_tokens"]
    if self.do_train and self.truncation == "head_tail" and head >= length - 2:
      _warn_once("--truncation=head_tail keeps the first %d tokens, all that "
                 "--max_seq_length=%d holds, so it cuts like head: pass a smaller "
                 "--head_tokens (e.g. %d).", head, length, (length - 2) // 4)
    if self.do_train and self.truncation == "head_tail" and head == 0:
      _warn_once("--truncation=head_tail with --head_tokens=0 keeps only the end, as "
                 "--truncation=tail does: pass --head_tokens (e.g. %d) to keep the start too.",
                 (length - 2) // 4)

  def _warn_of_unread_options(self):
    """Options given to a training where nothing reads them: the user meant something else."""
    unread = []
    if self.regression and self.label_list:
      unread.append(("label_list", "is not read with --regression (a score has no labels)"))
    if self.head_tokens is not None and self.truncation != "head_tail":
      unread.append(("head_tokens", "is read only with --truncation=head_tail"))
    if self.window_pooling is not None and not self.doc_stride:
      unread.append(("window_pooling", "is read only with --doc_stride"))
    if self.group_by_length and not self.dynamic_padding:
      unread.append(("group_by_length", "is read only with --dynamic_padding (it sorts batches "
                     "to trim them)"))
    for name, why in unread:
      _warn_once("--%s %s, so this run ignores it.", name, why)

  def to_json_string(self):
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

  @classmethod
  def from_json_file(cls, path):
    with open(path, encoding="utf-8") as f:
      data = json.load(f)
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


# What eval and predict of a trained run take from its training, for each group of options of
# which the user gives none: how its data were read (the "reading" options; a label column and
# its delimiter are one choice) and how dev and test were split off the training file (another
# split would score examples the run trained on). Both doors, the flags and the API, use it.
# A --seed given chooses the split too (split_seed defaults to it); a seed is never taken.
_LABEL_COLUMNS = ("label_column", "label_delimiter")
FROM_TRAINING = (_LABEL_COLUMNS, ("dev_split", "test_split", "split_seed", "seed")) + tuple(
    (name,) for name in options_where(RunConfig, role="reading") if name not in _LABEL_COLUMNS)


def settings_from_training(trained, given=()):
  """{option: value} of FROM_TRAINING's groups that share no name with `given`, as `trained`
  (a run's run_config.json, read) set them apart from the defaults. Values of another type
  than the option's (a damaged file) are left out, and so is a labels_file that is not found
  from here, with a warning."""
  if trained.get("split_seed") is None:  # the split's seed was --seed
    trained = dict(trained, split_seed=trained.get("seed"))
  fields = {f.name: f for f in dataclasses.fields(RunConfig)}
  taken = {}
  for group in FROM_TRAINING:
    if not set(group) & set(given):
      taken.update({name: trained[name] for name in group if name != "seed" and _is_of_type(
          fields[name], trained.get(name)) and trained[name] != fields[name].default})
  labels_file = taken.get("labels_file")
  if labels_file is not None and not os.path.isfile(labels_file):
    logging.warning("The run's --labels_file %s (from its training) is not found from here: "
                    "pass --labels_file if the data's labels are ids into it.", labels_file)
    del taken["labels_file"]
  return taken


def _is_of_type(field, value):
  """Whether `value` is of an option's type: X of Optional[X], a float option taking ints
  (None, a setting not stored, is not)."""
  kind = next(t for t in (getattr(field.type, "__args__", None) or (field.type,))
              if t is not type(None))
  kinds = (int, float) if kind is float else (kind,)
  return isinstance(value, kinds) and isinstance(value, bool) == (kind is bool)


# ============================================================================
# The grid's and the pretraining's own options (their doors check them before TensorFlow loads)
# ============================================================================
@dataclasses.dataclass
class GridSpec:
  """The grid's axes (the BERT paper's, Appendix A.3, by default)."""
  batch_sizes: str = option("16,32", "Comma-separated --train_batch_size values to try.")
  learning_rates: str = option("5e-5,3e-5,2e-5", "Comma-separated --learning_rate values.")
  epochs: str = option("2,3,4", "Comma-separated --num_train_epochs values.")
  num_restarts: int = option(1, "Runs per point with seeds --seed, --seed+1, ... (random "
                             "restarts: the paper's advice for small sets).")

  def __post_init__(self):
    for name, kind in (("batch_sizes", int), ("learning_rates", float), ("epochs", float)):
      values = self.values(name, kind)
      if not values or any(v <= 0 for v in values) or len(set(values)) != len(values):
        raise UsageError("--%s must be distinct positive numbers separated by commas, got %r."
                         % (name, getattr(self, name)))
    if self.num_restarts < 1:
      raise UsageError("--num_restarts must be at least 1, got %d." % self.num_restarts)

  def values(self, name, kind):
    try:
      return [kind(v) for v in str(getattr(self, name)).split(",")]
    except ValueError:
      raise UsageError("--%s must be numbers separated by commas, got %r." % (
          name, getattr(self, name))) from None

  def points(self, base_seed):
    """Every (batch, lr, epochs, seed), cheapest first: fewer epochs, larger batches."""
    grid = itertools.product(sorted(self.values("epochs", float)),
                             sorted(self.values("batch_sizes", int), reverse=True),
                             self.values("learning_rates", float),
                             range(base_seed, base_seed + self.num_restarts))
    points = [Point(batch, lr, epochs, seed) for epochs, batch, lr, seed in grid]
    if len({p.name for p in points}) < len(points):
      raise UsageError("Two grid values print the same (%s): use values that differ in their "
                       "first 6 digits." % ", ".join(sorted(p.name for p in points)[:4]))
    return points


@dataclasses.dataclass(frozen=True)
class Point:
  train_batch_size: int
  learning_rate: float
  num_train_epochs: float
  seed: int

  @property
  def name(self):
    return "bs%d-lr%g-ep%g-seed%d" % (self.train_batch_size, self.learning_rate,
                                      self.num_train_epochs, self.seed)


# The RunConfig options the pretraining door takes (the rest are fine-tuning's).
PRETRAIN_RUN_OPTIONS = (
    "output_dir", "model", "init_checkpoint", "bert_config_file", "vocab_file", "do_lower_case",
    "task_name", "data_dir", "train_file", "dev_file", "file_format", "text_column",
    "text_b_column", "label_column", "label_delimiter", "header", "encoding", "regression",
    "dev_split", "test_split", "split_seed", "skip_bad_rows", "max_train_examples",
    "max_seq_length", "train_batch_size", "learning_rate", "num_train_epochs",
    "warmup_proportion", "weight_decay", "clip_norm", "seed", "mixed_precision",
    "strategy", "save_checkpoints_steps", "keep_checkpoint_max", "log_every_steps", "progress",
    "overwrite_output_dir")
@dataclasses.dataclass
class PretrainSpec:
  """The masked-LM options (Google's create_pretraining_data.py names)."""
  masked_lm_prob: float = option(0.15, "Masked LM probability.")
  max_predictions_per_seq: int = option(20, "Maximum number of masked LM predictions per "
                                        "sequence.")
  do_whole_word_mask: bool = option(False, "Whether to use whole word masking rather than "
                                    "per-WordPiece masking.")
  unlabelled_file: str = option("", "Extra texts to pretrain on (no labels needed): a UTF-8 "
                                "text file, one text per line; several files comma-separated.")
  num_train_steps: int = option(0, "Number of training steps (0: --num_train_epochs passes "
                                "over the texts).")
  head_warmup_steps: int = option(
      0, "When the model has no masked-LM head (a converted encoder such as the embedded "
      "MiniLM), train the new head alone for this many of the steps first, so that its random "
      "start does not pull the encoder around (linear probing before fine-tuning).")

  def __post_init__(self):
    if not 0 < self.masked_lm_prob < 1:
      raise UsageError("--masked_lm_prob must be in (0, 1), got %r." % self.masked_lm_prob)
    if self.max_predictions_per_seq < 1:
      raise UsageError("--max_predictions_per_seq must be positive, got %d." %
                       self.max_predictions_per_seq)
    for name in ("num_train_steps", "head_warmup_steps"):
      if getattr(self, name) < 0:
        raise UsageError("--%s must be >= 0, got %d." % (name, getattr(self, name)))

  def unlabelled_files(self):
    return [p.strip() for p in self.unlabelled_file.split(",") if p.strip()]
