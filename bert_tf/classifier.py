"""Classification heads over an encoder, and the full classifier model.

The head keeps Google's run_classifier.py variables, `output_weights`
[num_labels, hidden] and `output_bias` [num_labels], so fine-tuned checkpoints
read the same in both directions. The encoder is anything that maps the three
input tensors to `pooled_output` (our Keras BERT or a hub.KerasLayer).
"""

import tensorflow as tf
import tf_keras as keras

from bert_tf import hub
from bert_tf import modeling

class ClassifierHead(keras.layers.Layer):
  """logits = x @ output_weights^T + output_bias, laid out as in Google's code."""

  def __init__(self, num_labels, initializer_range=0.02, **kwargs):
    super().__init__(**kwargs)
    self.num_labels = num_labels
    self.initializer_range = initializer_range

  def build(self, input_shape):
    self.output_weights = self.add_weight(
        "output_weights", shape=[self.num_labels, input_shape[-1]],
        initializer=keras.initializers.TruncatedNormal(stddev=self.initializer_range))
    self.output_bias = self.add_weight("output_bias", shape=[self.num_labels],
                                       initializer="zeros")
    super().build(input_shape)

  def call(self, inputs):
    weights = tf.cast(self.output_weights, inputs.dtype)
    return tf.matmul(inputs, weights, transpose_b=True) + tf.cast(self.output_bias, inputs.dtype)

  def get_config(self):
    config = super().get_config()
    config.update(num_labels=self.num_labels, initializer_range=self.initializer_range)
    return config


def build_classifier(encoder, num_labels, head_hidden_size=0, dropout=0.1,
                     freeze_encoder=False, initializer_range=0.02, name="bert_classifier"):
  """encoder -> dropout -> [dense + tanh -> dropout] -> ClassifierHead (logits, float32).

  The output is logits; the task turns them into probabilities and a loss.
  """
  encoder.trainable = not freeze_encoder
  inputs = dict(
      input_word_ids=keras.Input(shape=(None,), dtype=tf.int32, name="input_word_ids"),
      input_mask=keras.Input(shape=(None,), dtype=tf.int32, name="input_mask"),
      input_type_ids=keras.Input(shape=(None,), dtype=tf.int32, name="input_type_ids"))
  pooled = encoder(inputs)["pooled_output"]
  x = modeling.Dropout(dropout, name="head_dropout")(pooled)
  if head_hidden_size:
    x = keras.layers.Dense(head_hidden_size, activation="tanh", name="head_hidden",
                           kernel_initializer=keras.initializers.TruncatedNormal(
                               stddev=initializer_range))(x)
    x = modeling.Dropout(dropout, name="head_hidden_dropout")(x)
  logits = ClassifierHead(num_labels, initializer_range, name="output")(x)
  logits = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
  return keras.Model(inputs=inputs, outputs=logits, name=name)


def set_output_bias(model, bias):
  """Starts the head from a given output_bias (e.g. label priors for multi-label)."""
  model = getattr(model, "classifier", model)  # a WindowPooling's classifier
  model.get_layer("output").output_bias.assign(bias)


def head_variable_map(model):
  """{Google checkpoint name: variable} for the head (Google's names where they exist)."""
  head = model.get_layer("output")
  names = {"output_weights": head.output_weights, "output_bias": head.output_bias}
  try:
    hidden = model.get_layer("head_hidden")
    names.update({"head/hidden/kernel": hidden.kernel, "head/hidden/bias": hidden.bias})
  except ValueError:
    pass
  return names


class WindowPooling(keras.Model):
  """A classifier over long texts given as windows: features [texts, windows, length]
  run as [texts * windows, length] through `classifier`; each text's logits are the mean
  (or max) of its used windows' (a window is used when its [CLS] is not padding).
  `compact` runs only the used windows (a batch holds as many windows per text as its
  longest text); off for fixed shapes (TPU). Holds no variables of its own: checkpoints
  are the classifier's."""

  def __init__(self, classifier, pooling="mean", compact=True):
    super().__init__()
    self.classifier, self.pooling, self.compact = classifier, pooling, compact

  def call(self, features, training=False):
    shape = tf.shape(features["input_word_ids"])
    flat = {k: tf.reshape(v, [-1, shape[2]]) for k, v in features.items()}
    if self.compact:
      index = tf.where(flat["input_mask"][:, 0] > 0)  # [used windows, 1]
      logits = self.classifier({k: tf.gather_nd(v, index) for k, v in flat.items()},
                               training=training)
      logits = tf.scatter_nd(index, logits, tf.cast(
          tf.stack([tf.shape(flat["input_mask"])[0], tf.shape(logits)[1]]), tf.int64))
    else:
      logits = self.classifier(flat, training=training)
    logits = tf.reshape(logits, [shape[0], shape[1], -1])
    used = tf.cast(features["input_mask"][:, :, :1] > 0, logits.dtype)  # [texts, windows, 1]
    if self.pooling == "max":
      return tf.reduce_max(logits + (used - 1.0) * 1e9, axis=1)
    return tf.reduce_sum(logits * used, axis=1) / tf.maximum(tf.reduce_sum(used, axis=1), 1.0)


def create_classifier(num_outputs, bert_config=None, hub_handle=None, head_hidden_size=0,
                      dropout=0.1, freeze_encoder=False, window_pooling=None,
                      fixed_shapes=False, skip_padding=False):
  """Encoder (ours from a BertConfig, built first_token_only: its last layer computes
  [CLS] alone, and with `skip_padding` token-wise work on real tokens alone; or a TF-Hub
  module) + head.

  Returns (model, encoder, variable_map) where variable_map is {checkpoint name:
  variable}: Google's names for our encoder and the head, `hub/<name>` for a hub
  encoder's own variables. Call under the strategy's scope.
  """
  if hub_handle:
    encoder = hub.load_hub_encoder(hub_handle, trainable=not freeze_encoder)
    initializer_range = 0.02
  else:
    encoder = modeling.build_encoder(bert_config, first_token_only=True,  # the head reads [CLS]
                                     skip_padding=skip_padding)
    initializer_range = bert_config.initializer_range
  model = build_classifier(encoder, num_outputs, head_hidden_size=head_hidden_size,
                           dropout=dropout, freeze_encoder=freeze_encoder,
                           initializer_range=initializer_range)
  variables = (hub.hub_variable_map(encoder) if hub_handle
               else dict(modeling.google_variable_map(encoder)))
  variables.update(head_variable_map(model))
  if window_pooling:
    model = WindowPooling(model, window_pooling, compact=not fixed_shapes)
  return model, encoder, variables
