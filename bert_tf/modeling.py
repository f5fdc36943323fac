"""The BERT encoder as a functional Keras model, and its Google variable names.

Architecture as in Google's modeling.py: token + segment + position embeddings,
LayerNorm, N post-LayerNorm transformer blocks (epsilon 1e-12), and a tanh pooler
on [CLS]. Inputs and outputs follow the TF-Hub encoder contract, so our encoder and
a hub.KerasLayer are interchangeable under a classifier head:

  inputs : input_word_ids, input_mask, input_type_ids   (int32 [batch, seq])
  outputs: sequence_output [batch, seq, hidden], pooled_output [batch, hidden],
           encoder_outputs (list of per-layer [batch, seq, hidden])

A classifier reads only pooled_output, the [CLS] position of the last layer. So it builds
the encoder with `first_token_only`: the last layer computes keys and values for every
position but queries, attention output and feed-forward for [CLS] alone, so that its
sequence_output and last encoder_outputs are [batch, 1, hidden]. The same weights, the
same logits, and 5/6 of one layer's products less: about 14% of a 6-layer model's work
at seq 128. `with_all_positions` turns such an encoder back into a full one.

run_classifier with --dynamic_padding (training, eval, predict) and the Predictor build it
with `skip_padding` as well: the token-wise work (projections, feed-forward, LayerNorm,
dropout) runs on the batch's real tokens alone, packed into [tokens, hidden], and only
attention sees the [batch, seq] grid (padding keys are masked, so they may as well be
zeros). Real tokens and pooled_output get the same values; sequence_output is zero at the
padding positions skipped (packing_index says which). On short texts most of a batch is
padding even when trimmed to its longest example (SST-2: 41 positions, 13 real tokens per
example), so this is most of what dynamic padding saves. The string-in SavedModel skips
padding too. The number of tokens varies per batch: not for XLA or TPUs, which need
static shapes, nor for TFLite.

Dropout masks are keyed by (example, position), not drawn in a tensor's shape: under one
seed, fixed, trimmed and packed batches, and the [CLS]-only last layer, drop the same
elements of the real tokens, so none of them changes what a run learns.
"""

import contextlib
import math
import os
import zlib

import tensorflow as tf
import tf_keras as keras

from bert_tf import checkpoints
from bert_tf import pretrained
from bert_tf.config import BertConfig

LAYER_NORM_EPSILON = 1e-12
# Google adds -10000 to attention logits of padding positions, not -inf.
MASK_LOGIT = -10000.0


@contextlib.contextmanager
def dtype_policy(name):
  """Keras's global dtype policy `name` ("mixed_bfloat16"; None: left as it is) for the
  models built inside; the one before is put back after, since it is process-wide."""
  previous = keras.mixed_precision.global_policy()
  try:
    if name:
      keras.mixed_precision.set_global_policy(name)
    yield
  finally:
    keras.mixed_precision.set_global_policy(previous)


def get_activation(name):
  """Returns the activation function that bert_config.json's `hidden_act` names."""
  if name in ("gelu", "gelu_new"):  # Google's modeling.py: tanh approximation.
    return lambda x: tf.nn.gelu(x, approximate=True)
  if name == "gelu_exact":  # erf form (Hugging Face's "gelu").
    return _gelu_erf
  if name in ("swish", "silu"):
    return tf.nn.silu
  return {"relu": tf.nn.relu, "tanh": tf.tanh}[name]


def _gelu_erf(x):
  """x * Phi(x), written with erf as PyTorch does; 16-bit inputs are computed in float32.

  tf.nn.gelu(approximate=False) writes it with erfc, whose CPU kernel is 3x slower than
  erf's in float32 and 8x in bfloat16, and a training step computes it on every layer's
  intermediate activations. In bfloat16, this form is 45% off at x = -3 and 0 from -3.25
  on (1 + erf cancels), hence float32 there. TensorFlow's graph rewriter fuses the float32 form
  into the matrix product before it at inference, as it does tf.nn.gelu's.
  """
  if x.dtype in (tf.float16, tf.bfloat16):
    return tf.cast(_gelu_erf(tf.cast(x, tf.float32)), x.dtype)
  return 0.5 * x * (1.0 + tf.math.erf(x * (1.0 / math.sqrt(2.0))))


class Dropout(keras.layers.Dropout):
  """keras.layers.Dropout whose mask is keyed by where an element is, not by the tensor's shape.

  Each element's keep-or-drop comes from a 32-bit hash of (this call's key, its row's key,
  its index on the last axis). The encoder keys a token's rows by (example, position), so a
  batch trimmed to its longest example, or packed to its real tokens (skip_padding), drops
  exactly what Google's fixed padding drops at the real tokens: --dynamic_padding changes a
  run's speed, not its model. Keras's mask, one Philox draw per element of the tensor's
  shape, would differ with the padding. Other callers' rows are keyed by their index.

  The call key is mixed with the replica's id and comes from the layer's `seed` (by default
  from its explicit `name`: the same in any model that names it so) and tf.random.set_seed's:
  in training (key_dropout_by) with the count of micro-batches, a pure function that XLA
  compiles and a resumed run repeats; otherwise a stateful draw per call. Dropped where the
  hash is below round(rate * 2**32); kept elements are scaled to keep the mean. No
  `noise_shape`.
  """

  def __init__(self, rate, seed=None, **kwargs):
    if seed is None and kwargs.get("name"):
      seed = name_seed(kwargs["name"])
    super().__init__(rate, seed=seed, **kwargs)
    self._threshold = round(rate * 2 ** 32)  # drop where the hash is below this
    if self._threshold >= 2 ** 32:  # Keras has refused rates outside [0, 1]
      raise ValueError("Dropout takes a rate in [0, 1), got %r" % (rate,))
    if self.noise_shape is not None:
      raise ValueError("Dropout does not support noise_shape")
    self.clock = None  # a DropoutClock, set by key_dropout_by

  def call(self, inputs, training=None, row_keys=None):
    """`row_keys`: uint32 of inputs.shape[:-1] naming each row; by default its index."""
    if not self.rate:
      return tf.identity(inputs)
    if training is None:
      training = keras.backend.learning_phase()
    return tf.__internal__.smart_cond.smart_cond(
        training, lambda: inputs * self._scaled_keep_mask(inputs, row_keys),
        lambda: tf.identity(inputs))

  def _scaled_keep_mask(self, inputs, row_keys):
    """2**32 / (2**32 - threshold) where an element is kept, 0 where dropped, like `inputs`."""
    if row_keys is None:
      shape = tf.shape(inputs)[:-1]
      row_keys = tf.reshape(_range_uint32(tf.reduce_prod(shape)), shape)
    rows = hash_uint32(_xor(row_keys, self._call_key()))[..., tf.newaxis]
    columns = _spread(_range_uint32(tf.shape(inputs)[-1]))
    keep = hash_uint32(_xor(rows, columns)) >= tf.constant(self._threshold, tf.uint32)
    scale = tf.constant(2 ** 32 / (2 ** 32 - self._threshold), inputs.dtype)
    return tf.where(keep, scale, tf.zeros([], inputs.dtype))

  def _call_key(self):
    """uint32: this call's key, new per micro-batch (or call) and replica."""
    if self.clock is None:
      key = tf.cast(tf.random.uniform([], maxval=tf.int32.max, dtype=tf.int32,
                                      seed=self._random_generator.make_legacy_seed()), tf.uint32)
    else:  # (the global seed, the layer's), fixed when the step is traced
      seeds = tf.compat.v1.get_seed(self.seed)
      key = _xor(hash_uint32(tf.cast(self.clock.count, tf.uint32)),
                 tf.constant(name_seed(repr(seeds)), tf.uint32))
    replica = tf.distribute.get_replica_context()
    replica = 0 if replica is None else replica.replica_id_in_sync_group
    return hash_uint32(_xor(key, hash_uint32(tf.cast(replica, tf.uint32))))


class DropoutClock:
  """The number of the micro-batch being trained (an int64 variable the trainer keeps, such
  as its optimizer's step count): what keys its model's dropout masks (key_dropout_by). A
  wrapper, so that Keras does not track the variable as one of the layer's weights."""

  def __init__(self, count):
    self.count = count


def key_dropout_by(model, clock):
  """Keys the masks of every Dropout in `model` by `clock` and the seeds, not by a stateful
  draw: the same masks for the same step under XLA too, and after a resume."""
  for layer in model.submodules:
    if isinstance(layer, Dropout):
      layer.clock = clock


_xor = tf.bitwise.bitwise_xor


def name_seed(name):
  """An op seed from a layer's name: the same in every model that names it so."""
  return zlib.crc32(name.encode()) & 0x7FFFFFFF


def _range_uint32(n):
  return tf.cast(tf.range(n), tf.uint32)  # TensorFlow has no uint32 range kernel


def _spread(small):
  """Small uint32 integers times 2**32 / golden ratio: far apart before they are xored."""
  return small * tf.constant(0x9E3779B9, tf.uint32)


def hash_uint32(x):
  """A bijective 32-bit integer hash with good avalanche (lowbias32, from Chris Wellons'
  hash-prospector): uint32 -> uint32, elementwise."""
  for shift, multiplier in ((16, 0x7FEB352D), (15, 0x846CA68B)):
    x = _xor(x, tf.bitwise.right_shift(x, tf.constant(shift, tf.uint32)))
    x = x * tf.constant(multiplier, tf.uint32)
  return _xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))


def dropout_keys(input_mask):
  """[batch, seq] mask -> [batch, seq] uint32 keys of (example, position), which Dropout
  hashes into its masks: the same for a token however its batch is padded."""
  shape = tf.shape(input_mask)
  # Distinct before the (bijective) hash for up to 65536 examples of 65536 positions.
  examples = tf.bitwise.left_shift(_range_uint32(shape[0]), tf.constant(16, tf.uint32))
  return hash_uint32(examples[:, tf.newaxis] + _range_uint32(shape[1])[tf.newaxis, :])


def _initializer(config):
  # A fresh initializer per layer: tf_keras warns when one instance is reused.
  return keras.initializers.TruncatedNormal(stddev=config.initializer_range)


class PositionEmbedding(keras.layers.Layer):
  """Learned absolute position embeddings, sliced to the input's length."""

  def __init__(self, max_length, initializer, **kwargs):
    super().__init__(**kwargs)
    self.max_length = max_length
    self.initializer = keras.initializers.get(initializer)

  def build(self, input_shape):
    self.embeddings = self.add_weight(
        "embeddings", shape=[self.max_length, input_shape[-1]], initializer=self.initializer)
    super().build(input_shape)

  def call(self, inputs):
    seq_length = tf.shape(inputs)[1]
    return tf.cast(self.embeddings[tf.newaxis, :seq_length, :], inputs.dtype)

  def get_config(self):
    config = super().get_config()
    config.update(max_length=self.max_length,
                  initializer=keras.initializers.serialize(self.initializer))
    return config


class LayerNorm(keras.layers.LayerNormalization):
  """Keras's LayerNormalization over the last axis, with fewer full-size temporaries.

  At BERT's epsilon (1e-12) Keras cannot use its fused kernel (it needs >= 1.001e-5) and
  computes moments, then batch_normalization (x * inv + (beta - mean * inv)). This centres x
  once and reuses it, with Keras's dtypes: 16-bit inputs are normalised in float32. On
  [4096, 384], 2-core Zen 4: 1.3-1.7 ms against Keras's 2.3-2.7.
  """

  def build(self, input_shape):
    super().build(input_shape)
    if list(self.axis) != [len(input_shape) - 1] or not (self.center and self.scale):
      raise ValueError("LayerNorm normalises the last axis with gamma and beta; use "
                       "keras.layers.LayerNormalization for other settings.")

  def call(self, inputs):
    inputs = tf.cast(inputs, self.compute_dtype)
    dtype = tf.float32 if inputs.dtype in (tf.float16, tf.bfloat16) else inputs.dtype
    x = tf.cast(inputs, dtype)
    centered = x - tf.reduce_mean(x, axis=-1, keepdims=True)
    variance = tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True)
    scale = tf.math.rsqrt(variance + self.epsilon) * tf.cast(self.gamma, dtype)
    return tf.cast(centered * scale + tf.cast(self.beta, dtype), inputs.dtype)


class TransformerBlock(keras.layers.Layer):
  """One post-LayerNorm transformer block, laid out like Google's `layer_N`."""

  def __init__(self, hidden_size, num_heads, intermediate_size, hidden_act,
               hidden_dropout, attention_dropout, initializer_range, **kwargs):
    super().__init__(**kwargs)
    self.hidden_size = hidden_size
    self.num_heads = num_heads
    self.head_size = hidden_size // num_heads
    self.intermediate_size = intermediate_size
    self.hidden_act = hidden_act
    self.hidden_dropout = hidden_dropout
    self.attention_dropout = attention_dropout
    self.initializer_range = initializer_range
    init = lambda: keras.initializers.TruncatedNormal(stddev=initializer_range)
    dense = lambda units, name, activation=None: keras.layers.Dense(
        units, activation=activation, kernel_initializer=init(), name=name)
    self.query = dense(hidden_size, "query")
    self.key = dense(hidden_size, "key")
    self.value = dense(hidden_size, "value")
    self.attention_output = dense(hidden_size, "attention_output")
    self.attention_layer_norm = LayerNorm(epsilon=LAYER_NORM_EPSILON,
                                          name="attention_layer_norm")
    self.intermediate = dense(intermediate_size, "intermediate",
                              activation=get_activation(hidden_act))
    self.output_dense = dense(hidden_size, "output_dense")
    self.output_layer_norm = LayerNorm(epsilon=LAYER_NORM_EPSILON, name="output_layer_norm")
    # Seeded by the block's name too: each layer draws its own masks.
    dropout = lambda rate, name: Dropout(rate, name=name, seed=name_seed(self.name + "/" + name))
    self.attention_probs_dropout = dropout(attention_dropout, "attention_probs_dropout")
    self.attention_output_dropout = dropout(hidden_dropout, "attention_output_dropout")
    self.output_dropout = dropout(hidden_dropout, "output_dropout")

  def _split_heads(self, x, batch, seq):
    x = tf.reshape(x, [batch, seq, self.num_heads, self.head_size])
    return tf.transpose(x, [0, 2, 1, 3])  # [batch, heads, seq, head_size]

  def call(self, hidden, attention_bias, training=None, first_token_only=False,
           packing_index=None, dropout_keys=None):
    """[batch, seq, hidden] -> [batch, seq, hidden], or [batch, 1, hidden] (the first
    position attending to all) with `first_token_only`. With a `packing_index` (of the input
    mask), `hidden` is its packed tokens, [tokens, hidden], and so is the output (or
    [batch, 1, hidden]). `dropout_keys` ([batch, seq], of dropout_keys) key the masks of
    dropout by token, so that they do not depend on the padding."""
    # The dense layers see 2-D [rows, hidden]: on 2-D inputs Keras emits MatMul, BiasAdd and
    # the activation, which TensorFlow's CPU graph rewriter fuses into one op (3-D inputs go
    # through tensordot, and stay three ops).
    if packing_index is None:
      packing, tokens = None, tf.reshape(hidden, [-1, self.hidden_size])
      to_grid = lambda x: x  # the grid is the rows
      batch, seq = tf.shape(hidden)[0], tf.shape(hidden)[1]
    else:
      packing, tokens = TokenPacking(packing_index), hidden
      to_grid, batch, seq = packing.unpack, packing.batch, packing.seq
    # Queries of every token, packed: they go to the grid for attention and come back.
    packed_queries = packing is not None and not first_token_only
    queries, query_seq = tokens, seq
    if first_token_only:
      query_seq = 1
      queries = hidden[:, 0, :] if packing is None else packing.unpack(hidden, first_only=True)
    keys = _BlockDropoutKeys(None if training is False else dropout_keys, packing,
                             first_token_only, self.num_heads)
    q = self.query(queries)
    q = self._split_heads(to_grid(q) if packed_queries else q, batch, query_seq)
    k = self._split_heads(to_grid(self.key(tokens)), batch, seq)
    v = self._split_heads(to_grid(self.value(tokens)), batch, seq)
    scores = tf.matmul(q, k, transpose_b=True) * (1.0 / math.sqrt(self.head_size))
    # Softmax in float32 under mixed precision (a no-op in float32): bfloat16's 8-bit
    # mantissa would blur the attention weights. LayerNorm upcasts by itself.
    scores = tf.cast(scores, tf.float32) + tf.cast(attention_bias, tf.float32)
    probs = tf.cast(tf.nn.softmax(scores, axis=-1), v.dtype)
    probs = self.attention_probs_dropout(probs, training=training, row_keys=keys.heads)
    context = tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3])
    context = tf.reshape(context, [-1, self.hidden_size])
    if packed_queries:
      context = packing.pack(context)
    attention = self.attention_output_dropout(self.attention_output(context), training=training,
                                              row_keys=keys.queries)
    attention = self.attention_layer_norm(attention + queries)
    ffn = self.output_dropout(self.output_dense(self.intermediate(attention)), training=training,
                              row_keys=keys.queries)
    output = self.output_layer_norm(ffn + attention)
    if packed_queries:
      return output
    return tf.reshape(output, [batch, query_seq, self.hidden_size])

  def get_config(self):
    config = super().get_config()
    config.update(hidden_size=self.hidden_size, num_heads=self.num_heads,
                  intermediate_size=self.intermediate_size, hidden_act=self.hidden_act,
                  hidden_dropout=self.hidden_dropout, attention_dropout=self.attention_dropout,
                  initializer_range=self.initializer_range)
    return config


class _BlockDropoutKeys:
  """A block's dropout row keys from the [batch, seq] dropout_keys (or all None): `queries`
  for the rows of its token-wise values, `heads` [batch, heads, query_seq] for attention."""

  def __init__(self, grid, packing, first_token_only, num_heads):
    self.queries = self.heads = None
    if grid is None:
      return
    query_grid = grid[:, :1] if first_token_only else grid
    if first_token_only:
      self.queries = grid[:, 0]
    elif packing is not None:
      self.queries = packing.pack_keys(grid)
    else:
      self.queries = tf.reshape(grid, [-1])
    heads = _spread(_range_uint32(num_heads))
    self.heads = hash_uint32(_xor(query_grid[:, tf.newaxis, :], heads[tf.newaxis, :, tf.newaxis]))


def packing_index(input_mask):
  """[batch, seq] mask -> (kept, slots) for TokenPacking: `kept` [tokens], the flat grid
  rows computed; `slots` [batch, seq], each position's row among them, or `tokens` (past the
  end: a zero row) for the others. Kept: the real tokens; position 0 whatever its mask (the
  pooler reads it); and every position of a row without a real token (its attention, all
  masked, averages them all). So pooled_output is the unpacked encoder's for any mask."""
  real = input_mask > 0
  keep = (real | (tf.range(tf.shape(input_mask)[1]) == 0)[tf.newaxis, :]
          | ~tf.reduce_any(real, axis=1, keepdims=True))
  flat = tf.reshape(keep, [-1])
  kept = tf.where(flat)[:, 0]
  slots = tf.where(flat, tf.cumsum(tf.cast(flat, tf.int64)) - 1, tf.size(kept, out_type=tf.int64))
  return kept, tf.reshape(slots, tf.shape(input_mask))


class TokenPacking:
  """Moves rows of token-wise values between the grid (flat [batch * seq, width]) and the
  packed tokens ([tokens, width]) of a packing_index."""

  def __init__(self, index):
    self.kept, self.slots = index
    self.batch, self.seq = tf.shape(self.slots)[0], tf.shape(self.slots)[1]

  def pack(self, grid):
    """[batch * seq, width] (or [batch, seq, width]) -> [tokens, width]."""
    return tf.gather(tf.reshape(grid, [-1, grid.shape[-1]]), self.kept)

  def pack_keys(self, grid):
    """[batch, seq] uint32 -> [tokens] (gathered as int32: GPUs gather no uint32)."""
    flat = tf.bitcast(tf.reshape(grid, [-1]), tf.int32)
    return tf.bitcast(tf.gather(flat, self.kept), tf.uint32)

  def unpack(self, packed, first_only=False):
    """[tokens, width] -> [batch * seq, width] with zeros for padding; `first_only`: the
    first position of each sequence alone, [batch, width]."""
    slots = self.slots[:, 0] if first_only else tf.reshape(self.slots, [-1])
    return tf.gather(tf.pad(packed, [[0, 1], [0, 0]]), slots)


def _attention_bias(input_mask):
  """[batch, seq] 0/1 mask -> additive [batch, 1, 1, seq] bias on attention logits."""
  mask = tf.cast(input_mask, tf.float32)[:, tf.newaxis, tf.newaxis, :]
  return (1.0 - mask) * MASK_LOGIT


def _packed_to_grid(packed, index):
  """[tokens, hidden] packed tokens -> [batch, seq, hidden], zeros for padding."""
  packing = TokenPacking(index)
  return tf.reshape(packing.unpack(packed), [packing.batch, packing.seq, packed.shape[-1]])


def build_encoder(config, name="bert_encoder", first_token_only=False, skip_padding=False):
  """Builds an uninitialised BERT encoder (a functional Keras model) from `config`;
  `first_token_only`: the last layer computes [CLS] alone (for classifiers);
  `skip_padding`: token-wise work on real tokens alone (dynamic shapes: not for XLA)."""
  if not isinstance(config, BertConfig):
    raise TypeError("config must be a BertConfig, got %r" % type(config))
  word_ids = keras.Input(shape=(None,), dtype=tf.int32, name="input_word_ids")
  mask = keras.Input(shape=(None,), dtype=tf.int32, name="input_mask")
  type_ids = keras.Input(shape=(None,), dtype=tf.int32, name="input_type_ids")

  # ===== Embeddings =====
  word_embeddings = keras.layers.Embedding(
      config.vocab_size, config.hidden_size, embeddings_initializer=_initializer(config),
      name="word_embeddings")(word_ids)
  type_embeddings = keras.layers.Embedding(
      config.type_vocab_size, config.hidden_size, embeddings_initializer=_initializer(config),
      name="token_type_embeddings")(type_ids)
  position_embeddings = PositionEmbedding(
      config.max_position_embeddings, _initializer(config), name="position_embeddings")(word_embeddings)
  embeddings = keras.layers.Add(name="embeddings_sum")(
      [word_embeddings, type_embeddings, position_embeddings])
  keys = keras.layers.Lambda(dropout_keys, name="dropout_keys")(mask)
  token_keys, index = keys, None
  if skip_padding:  # from here on, token-wise layers see [real tokens, hidden]
    index = keras.layers.Lambda(lambda m: list(packing_index(m)), name="packing_index")(mask)
    embeddings = keras.layers.Lambda(lambda x: TokenPacking(x[1:]).pack(x[0]),
                                     name="pack_tokens")([embeddings] + index)
    token_keys = keras.layers.Lambda(lambda x: TokenPacking(x[1:]).pack_keys(x[0]),
                                     name="pack_dropout_keys")([keys] + index)
  embeddings = LayerNorm(epsilon=LAYER_NORM_EPSILON, name="embeddings_layer_norm")(embeddings)
  hidden = Dropout(config.hidden_dropout_prob, name="embeddings_dropout")(
      embeddings, row_keys=token_keys)

  # ===== Transformer blocks =====
  attention_bias = keras.layers.Lambda(_attention_bias, name="attention_bias")(mask)
  encoder_outputs = []
  for i in range(config.num_hidden_layers):
    first_only = first_token_only and i == config.num_hidden_layers - 1
    hidden = TransformerBlock(
        config.hidden_size, config.num_attention_heads, config.intermediate_size,
        config.hidden_act, config.hidden_dropout_prob, config.attention_probs_dropout_prob,
        config.initializer_range, name="transformer_layer_%d" % i)(
            hidden, attention_bias, first_token_only=first_only, packing_index=index,
            dropout_keys=keys)
    if skip_padding and not first_only:
      encoder_outputs.append(keras.layers.Lambda(
          lambda x: _packed_to_grid(x[0], x[1:]), name="layer_%d_to_grid" % i)([hidden] + index))
    else:
      encoder_outputs.append(hidden)
  hidden = encoder_outputs[-1]

  # ===== Pooler: dense + tanh on the [CLS] position =====
  first_token = keras.layers.Lambda(lambda x: x[:, 0, :], name="first_token")(hidden)
  pooled = keras.layers.Dense(config.hidden_size, activation="tanh",
                              kernel_initializer=_initializer(config),
                              name="pooler_dense")(first_token)
  outputs = dict(sequence_output=hidden, pooled_output=pooled, encoder_outputs=encoder_outputs)
  return keras.Model(inputs=dict(input_word_ids=word_ids, input_mask=mask,
                                 input_type_ids=type_ids),
                     outputs=outputs, name=name)


# Google checkpoint names inside `bert/encoder/layer_N/` -> our TransformerBlock sublayers.
_BLOCK_NAME_MAP = (
    ("attention/self/query", "query"),
    ("attention/self/key", "key"),
    ("attention/self/value", "value"),
    ("attention/output/dense", "attention_output"),
    ("attention/output/LayerNorm", "attention_layer_norm"),
    ("intermediate/dense", "intermediate"),
    ("output/dense", "output_dense"),
    ("output/LayerNorm", "output_layer_norm"),
)


def _dense_vars(prefix, layer):
  return {prefix + "/kernel": layer.kernel, prefix + "/bias": layer.bias}


def _layer_norm_vars(prefix, layer):
  return {prefix + "/gamma": layer.gamma, prefix + "/beta": layer.beta}


def google_variable_map(encoder, scope="bert"):
  """{Google checkpoint name: Keras variable} for every weight of `encoder`."""
  get = encoder.get_layer
  names = {
      scope + "/embeddings/word_embeddings": get("word_embeddings").embeddings,
      scope + "/embeddings/token_type_embeddings": get("token_type_embeddings").embeddings,
      scope + "/embeddings/position_embeddings": get("position_embeddings").embeddings,
  }
  names.update(_layer_norm_vars(scope + "/embeddings/LayerNorm", get("embeddings_layer_norm")))
  i = 0
  while True:
    try:
      block = get("transformer_layer_%d" % i)
    except ValueError:
      break
    for google_name, attr in _BLOCK_NAME_MAP:
      layer = getattr(block, attr)
      prefix = "%s/encoder/layer_%d/%s" % (scope, i, google_name)
      if isinstance(layer, keras.layers.LayerNormalization):
        names.update(_layer_norm_vars(prefix, layer))
      else:
        names.update(_dense_vars(prefix, layer))
    i += 1
  names.update(_dense_vars(scope + "/pooler/dense", get("pooler_dense")))
  return names


def load_google_checkpoint(encoder, checkpoint_path, scope="bert"):
  """Loads a Google TF1 BERT checkpoint (bert/embeddings/..., bert/encoder/...)."""
  variable_map = google_variable_map(encoder, scope)
  checkpoints.restore_variables(variable_map, checkpoint_path,
                                allow_unused=_skippable_variable(variable_map, scope))


def check_google_checkpoint(config, checkpoint_path, scope="bert"):
  """What load_google_checkpoint checks (names, shapes, readable values), from the
  config alone: a bad model stops a run before it writes anything."""
  shapes = google_variable_shapes(config, scope)
  checkpoints.read_variables(shapes, checkpoint_path,
                             allow_unused=_skippable_variable(shapes, scope))


def _skippable_variable(model_names, scope):
  """Unused checkpoint variables are skipped outside the encoder (other heads such as cls/,
  global_step), where they belong to one of its variables (optimizer slots such as
  .../kernel/adam_m) and for Hugging Face's position_ids buffer. Anything else inside the
  encoder is another architecture's (a deeper encoder's layers, relative positions, adapters,
  ALBERT's projection): an error, not a model silently loaded without it."""
  prefixes = tuple(name + "/" for name in model_names)
  def allowed(name):
    return (not name.startswith(scope + "/") or name.startswith(prefixes)
            or name.rsplit("/", 1)[-1] == "position_ids")
  return allowed


def google_variable_shapes(config, scope="bert"):
  """{Google checkpoint name: shape} of the encoder `config` builds (google_variable_map's
  names, without building it)."""
  h, i = config.hidden_size, config.intermediate_size
  shapes = {scope + "/embeddings/word_embeddings": [config.vocab_size, h],
            scope + "/embeddings/token_type_embeddings": [config.type_vocab_size, h],
            scope + "/embeddings/position_embeddings": [config.max_position_embeddings, h],
            scope + "/embeddings/LayerNorm/gamma": [h], scope + "/embeddings/LayerNorm/beta": [h],
            scope + "/pooler/dense/kernel": [h, h], scope + "/pooler/dense/bias": [h]}
  dense_in_out = {"attention/self/query": (h, h), "attention/self/key": (h, h),
                  "attention/self/value": (h, h), "attention/output/dense": (h, h),
                  "intermediate/dense": (h, i), "output/dense": (i, h)}
  for layer in range(config.num_hidden_layers):
    for google_name, _ in _BLOCK_NAME_MAP:
      prefix = "%s/encoder/layer_%d/%s" % (scope, layer, google_name)
      if google_name in dense_in_out:
        n_in, n_out = dense_in_out[google_name]
        shapes.update({prefix + "/kernel": [n_in, n_out], prefix + "/bias": [n_out]})
      else:
        shapes.update({prefix + "/gamma": [h], prefix + "/beta": [h]})
  return shapes


def save_google_checkpoint(encoder, checkpoint_prefix, scope="bert"):
  """Writes the encoder as a Google TF1 checkpoint (e.g. `dir/bert_model.ckpt`)."""
  checkpoints.write_checkpoint(
      {name: var.numpy() for name, var in google_variable_map(encoder, scope).items()},
      checkpoint_prefix)


def with_all_positions(encoder, config):
  """`encoder` (built by build_encoder from `config`, perhaps first_token_only) as a
  full encoder with the same weights, copied by Google name: every position of every layer."""
  full = build_encoder(config, name=encoder.name)
  weights = google_variable_map(encoder)
  for name, variable in google_variable_map(full).items():
    variable.assign(weights[name])
  full.trainable = encoder.trainable  # a frozen run's encoder stays frozen
  return full


def load_encoder(model_dir, checkpoint=None, name="bert_encoder", first_token_only=False,
                 skip_padding=False):
  """Builds the encoder from `model_dir/bert_config.json` and loads its checkpoint.

  `model_dir` is a Google-format directory (bert_config.json, bert_model.ckpt.*,
  vocab.txt), or a short model name such as "all-MiniLM-L6-v2".
  """
  if not os.path.isdir(model_dir):
    model_dir = pretrained.resolve(model_dir)
  config = BertConfig.from_json_file(os.path.join(model_dir, "bert_config.json"))
  encoder = build_encoder(config, name=name, first_token_only=first_token_only,
                          skip_padding=skip_padding)
  load_google_checkpoint(encoder, checkpoint or os.path.join(model_dir, "bert_model.ckpt"))
  return encoder
