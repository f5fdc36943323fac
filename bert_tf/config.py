"""`BertConfig`: the architecture in Google's `bert_config.json`, validated."""

import copy
import dataclasses
import json
from typing import Optional

from bert_tf.errors import UsageError

# "gelu" means what it means in Google's modeling.py: the tanh approximation.
# Hugging Face's "gelu" is the exact erf form; converted configs say "gelu_exact".
ACTIVATIONS = ("gelu", "gelu_new", "gelu_exact", "relu", "tanh", "swish", "silu")


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


@dataclasses.dataclass
class RunConfig:
  """Every option of a fine-tuning run; `run_classifier.py` flags map 1:1 onto it.

  Saved as output_dir/run_config.json so that eval/predict/resume see the same run.
  """
  output_dir: str
  # ---- Google's run_classifier.py flags (same names, defaults and meaning) ----
  data_dir: Optional[str] = None
  bert_config_file: Optional[str] = None
  task_name: Optional[str] = None
  vocab_file: Optional[str] = None
  init_checkpoint: Optional[str] = None
  do_lower_case: Optional[bool] = None   # None: the model's own (Google: True)
  max_seq_length: int = 128
  do_train: bool = False
  do_eval: bool = False
  do_predict: bool = False
  train_batch_size: int = 32
  eval_batch_size: int = 8
  predict_batch_size: int = 8
  learning_rate: float = 5e-5
  num_train_epochs: float = 3.0
  warmup_proportion: float = 0.1
  save_checkpoints_steps: int = 1000
  iterations_per_loop: int = 1000
  use_tpu: bool = False
  tpu_name: Optional[str] = None
  tpu_zone: Optional[str] = None
  gcp_project: Optional[str] = None
  master: Optional[str] = None
  num_tpu_cores: int = 8
  tpu_job_name: Optional[str] = None      # in the PyPI release of Google's script
  # ---- model source ----
  model: Optional[str] = None             # a named model or Google-format directory
  bert_hub_module_handle: Optional[str] = None
  # ---- data (generic files) ----
  train_file: Optional[str] = None
  dev_file: Optional[str] = None
  test_file: Optional[str] = None
  file_format: Optional[str] = None
  text_column: str = "text"
  text_b_column: Optional[str] = None
  label_column: str = "label"             # comma-separated: several 0/1 columns
  label_delimiter: Optional[str] = None
  labels_file: Optional[str] = None
  label_list: Optional[str] = None        # comma-separated, fixes order
  header: Optional[bool] = None
  encoding: str = "utf-8"
  regression: bool = False
  dev_split: float = 0.1
  test_split: float = 0.0
  max_train_examples: int = 0             # 0: all; else the first N rows
  max_eval_examples: int = 0
  truncation: str = "head"
  head_tokens: int = 128
  # ---- model head and training ----
  head_hidden_size: int = 0               # 0: Google's single dense layer
  head_dropout: float = 0.1
  freeze_encoder: bool = False
  class_weights: Optional[str] = None     # "balanced" or one weight per label, comma-separated
  weight_decay: float = 0.01
  clip_norm: float = 1.0
  adam_bias_correction: bool = False      # False: Google's AdamWeightDecay exactly
  layerwise_lr_decay: float = 1.0         # 1.0: off
  strategy: str = "auto"                  # auto, default, mirrored, tpu, multi_worker
  mixed_precision: Optional[str] = None   # None, "mixed_float16", "mixed_bfloat16"
  use_xla: bool = False
  seed: int = 12345
  dynamic_padding: bool = True
  keep_checkpoint_max: int = 5
  eval_every_steps: int = 0               # 0: at the end only (and each epoch if early stopping)
  early_stopping_patience: int = 0        # evaluations without improvement; 0: off
  best_metric: Optional[str] = None       # None: the task's main metric
  eval_checkpoint: Optional[str] = None   # eval/predict this model.ckpt-N instead of latest
  log_every_steps: int = 50

  def __post_init__(self):
    self.validate()

  def validate(self):
    def fail(message):
      raise UsageError(message)
    if not self.output_dir:
      fail("--output_dir is required.")
    if not (self.do_train or self.do_eval or self.do_predict):
      fail("At least one of --do_train, --do_eval or --do_predict must be True.")
    if self.max_seq_length < 3 or self.max_seq_length > 512:
      fail("--max_seq_length must be between 3 and 512, got %d." % self.max_seq_length)
    for name in ("train_batch_size", "eval_batch_size", "predict_batch_size",
                 "save_checkpoints_steps", "iterations_per_loop", "num_tpu_cores"):
      if getattr(self, name) <= 0:
        fail("--%s must be positive, got %r." % (name, getattr(self, name)))
    if self.learning_rate <= 0 or self.num_train_epochs <= 0:
      fail("--learning_rate and --num_train_epochs must be positive.")
    if not 0.0 <= self.warmup_proportion < 1.0:
      fail("--warmup_proportion must be in [0, 1), got %r." % self.warmup_proportion)
    if self.use_tpu and not (self.tpu_name or self.master):
      fail("--use_tpu needs --tpu_name (or --master).")
    if self.init_checkpoint and self.bert_hub_module_handle:
      fail("Pass either --init_checkpoint or --bert_hub_module_handle, not both.")
    if self.bert_hub_module_handle and self.model:
      fail("Pass either --model or --bert_hub_module_handle, not both.")
    if self.strategy not in ("auto", "default", "mirrored", "tpu", "multi_worker"):
      fail("--strategy must be auto, default, mirrored, tpu or multi_worker, got %r." %
           self.strategy)
    if self.mixed_precision not in (None, "", "mixed_float16", "mixed_bfloat16", "float32"):
      fail("--mixed_precision must be mixed_float16, mixed_bfloat16 or float32.")
    if self.truncation not in ("head", "tail", "head_tail"):
      fail("--truncation must be head, tail or head_tail, got %r." % self.truncation)
    if self.regression and (self.label_delimiter or "," in self.label_column):
      fail("--regression cannot be combined with multi-label columns or --label_delimiter.")
    if self.class_weights and self.class_weights != "balanced":
      try:
        [float(w) for w in self.class_weights.split(",")]
      except ValueError:
        fail("--class_weights must be 'balanced' or comma-separated numbers, got %r." %
             self.class_weights)
    if not 0 <= self.dev_split < 1 or not 0 <= self.test_split < 1:
      fail("--dev_split and --test_split must be in [0, 1).")
    if self.layerwise_lr_decay <= 0 or self.layerwise_lr_decay > 1:
      fail("--layerwise_lr_decay must be in (0, 1].")
    if not (self.task_name or self.train_file or self.dev_file or self.test_file
            or self.data_dir):
      fail("Say where the data is: --task_name with --data_dir, or --train_file/--dev_file/"
           "--test_file (or --data_dir with train/dev/test files).")

  def to_json_string(self):
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

  @classmethod
  def from_json_file(cls, path):
    with open(path, encoding="utf-8") as f:
      data = json.load(f)
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})
