"""`BertConfig`: the architecture in Google's `bert_config.json`, validated."""

import copy
import dataclasses
import json

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
