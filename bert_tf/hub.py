"""TF-Hub BERT encoders (a hub handle or a local SavedModel) under our encoder contract.

A TF2 hub BERT encoder takes dict(input_word_ids, input_mask, input_type_ids) and
returns dict(pooled_output, sequence_output, encoder_outputs): the same contract
as modeling.build_encoder (whose classifiers' encoders, first_token_only, cut the last
layer's outputs to [CLS]), so classifier.build_classifier takes either. The vocab
and casing come from the module's `vocab_file` asset and `do_lower_case` variable.

No network is reachable at run time here: a handle that is not a local directory
is tried through tensorflow_hub once and fails with one clear line.
"""

import os

import tensorflow as tf

from bert_tf.errors import UsageError


def _hub():
  import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
  return hub


def resolve_handle(handle):
  """A local SavedModel directory for `handle` (downloading only if it is a URL)."""
  if os.path.isdir(handle):
    if not os.path.exists(os.path.join(handle, "saved_model.pb")):
      google = os.path.exists(os.path.join(handle, "bert_config.json"))
      raise UsageError("--bert_hub_module_handle=%s is a directory without saved_model.pb%s." % (
          handle, ": it holds a Google-format model, pass it as --model=%s" % handle
          if google else ""))
    return handle
  if not handle.startswith(("http://", "https://", "gs://")):
    raise UsageError("--bert_hub_module_handle=%s: no such directory (and not a URL)." % handle)
  try:
    return _hub().resolve(handle)
  except Exception as e:  # pylint: disable=broad-except
    raise UsageError("Cannot download TF-Hub module %s (%s): without network access, download "
                     "it elsewhere and pass its local directory." %
                     (handle, str(e).splitlines()[0][:200] if str(e) else type(e).__name__)
                     ) from None


def module_vocab(handle):
  """(vocab_file, do_lower_case) from a hub encoder's or preprocessor's assets."""
  path = resolve_handle(handle)
  try:
    loaded = tf.saved_model.load(path)
  except Exception as e:  # pylint: disable=broad-except
    raise UsageError("TF-Hub module %s cannot be loaded as a SavedModel (%s)." % (
        handle, str(e).splitlines()[0][:160] if str(e) else type(e).__name__)) from None
  vocab = getattr(loaded, "vocab_file", None)
  if vocab is None:
    asset = os.path.join(path, "assets", "vocab.txt")
    if not os.path.exists(asset):
      raise UsageError("TF-Hub module %s has no vocab_file asset (nor do_lower_case): pass "
                       "--vocab_file and --do_lower_case." % handle)
    vocab_file = asset
  else:
    vocab_file = vocab.asset_path.numpy().decode("utf-8")
  lower = getattr(loaded, "do_lower_case", None)
  return vocab_file, (bool(lower.numpy()) if lower is not None else None)


def check_encoder(handle, max_seq_length=None, largest_id=None, pairs=False):
  """What load_hub_encoder checks, and that the encoder takes the run's inputs (as many
  positions, word ids up to the vocab's largest, token type 1 for pairs), before a run
  writes anything. Probed on the CPU, whose lookups fail where a GPU's may read zeros."""
  import tensorflow_text  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  # (registers the text ops of a preprocessor's graph, so that one loads and is named)
  with tf.device("/CPU:0"):
    encoder = load_hub_encoder(handle, trainable=False)
    if max_seq_length is None:
      return
    probes = [(2, 0, 0, "two tokens"),  # what works at all: the probes below differ in one way
              (max_seq_length, 0, 0, "--max_seq_length=%d positions: lower --max_seq_length" %
               max_seq_length)]
    if largest_id is not None:
      probes.append((2, largest_id, 0, "word ids up to %d, the vocab's largest: the vocab and "
                     "the encoder do not belong together" % largest_id))
    if pairs:  # (an encoder that one-hot encodes types reads an unknown type as none)
      probes.append((2, 0, 1, "token type 1, which sentence pairs use: train single texts, or "
                     "use an encoder with two token types"))
    for length, word_id, type_id, what in probes:
      try:
        encoder(dict(input_word_ids=tf.fill([1, length], word_id),
                     input_mask=tf.ones([1, length], tf.int32),
                     input_type_ids=tf.fill([1, length], type_id)))
      except (tf.errors.InvalidArgumentError, ValueError) as e:
        raise UsageError("TF-Hub encoder %s does not take %s (%s)." % (
            handle, what, str(e).strip().splitlines()[0][:160])) from None


def load_hub_encoder(handle, trainable=True, name="hub_encoder"):
  """A Keras encoder model wrapping hub.KerasLayer (fine-tunable when trainable)."""
  import tf_keras as keras  # pylint: disable=g-import-not-at-top
  path = resolve_handle(handle)
  inputs = dict(
      input_word_ids=keras.Input(shape=(None,), dtype=tf.int32, name="input_word_ids"),
      input_mask=keras.Input(shape=(None,), dtype=tf.int32, name="input_mask"),
      input_type_ids=keras.Input(shape=(None,), dtype=tf.int32, name="input_type_ids"))
  try:
    layer = _hub().KerasLayer(path, trainable=trainable, name="hub_layer")
    if hasattr(getattr(layer, "resolved_object", None), "tokenize"):
      raise UsageError("TF-Hub module %s is a BERT preprocessor (it takes strings), not an "
                       "encoder: pass the encoder's handle." % handle)
    outputs = layer(inputs)
  except UsageError:
    raise
  except Exception as e:  # pylint: disable=broad-except  (whatever the module's graph raises)
    raise UsageError("TF-Hub module %s is not a BERT encoder: it cannot be called with "
                     "input_word_ids/input_mask/input_type_ids (%s)." % (
                         handle, str(e).splitlines()[0][:160] if str(e) else type(e).__name__)
                     ) from None
  missing = {"pooled_output", "sequence_output"} - set(outputs if isinstance(outputs, dict)
                                                       else ())
  if missing:
    raise UsageError("TF-Hub module %s is not a BERT encoder: outputs lack %s." %
                     (handle, ", ".join(sorted(missing))))
  return keras.Model(inputs, dict(pooled_output=outputs["pooled_output"],
                                  sequence_output=outputs["sequence_output"]), name=name)


def hub_variable_map(encoder, scope="hub"):
  """{checkpoint name: variable} for a hub encoder's variables, by their own names."""
  names = {}
  for variable in encoder.variables:
    name = "%s/%s" % (scope, variable.name.split(":")[0])
    if name in names:
      raise ValueError("Duplicate variable name %s in the hub module." % name)
    names[name] = variable
  return names
