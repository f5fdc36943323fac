"""The Keras encoder against an independent NumPy forward pass, tiny and real."""

import json
import struct

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import ndtr  # the standard normal CDF, in float64

from bert_tf import modeling
from bert_tf.config import BertConfig
from bert_tf.errors import UsageError
from conftest import TINY_CONFIG, minilm_hf_dir, write_google_model
from numpy_bert import bert_forward


def _batch(vocab_size, lengths, seq, pair_at=None, seed=0):
  """A padded batch of mixed lengths; rows listed in pair_at get a segment B."""
  rng = np.random.default_rng(seed)
  ids = np.zeros((len(lengths), seq), np.int32)
  mask = np.zeros_like(ids)
  types = np.zeros_like(ids)
  for r, n in enumerate(lengths):
    ids[r, :n] = rng.integers(5, vocab_size, n)
    ids[r, 0], ids[r, n - 1] = 2, 3
    mask[r, :n] = 1
    if pair_at and r in pair_at:
      types[r, n // 2:n] = 1
  return ids, mask, types


def _assert_matches(encoder, weights, config, ids, mask, types, atol):
  out = encoder(dict(input_word_ids=ids, input_mask=mask, input_type_ids=types))
  seq_ref, pooled_ref = bert_forward(weights, config, ids, mask, types)
  real = mask.astype(bool)
  seq_diff = np.abs(out["sequence_output"].numpy() - seq_ref)[real].max()
  pooled_diff = np.abs(out["pooled_output"].numpy() - pooled_ref).max()
  assert seq_diff <= atol and pooled_diff <= atol, (seq_diff, pooled_diff)
  assert len(out["encoder_outputs"]) == config["num_hidden_layers"]
  np.testing.assert_allclose(out["encoder_outputs"][-1].numpy(), out["sequence_output"].numpy())
  return seq_diff, pooled_diff


@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_exact"])
def test_tiny_encoder_matches_numpy(tmp_path, hidden_act):
  config = dict(TINY_CONFIG, hidden_act=hidden_act)
  model_dir, weights = write_google_model(str(tmp_path / "m"), config)
  encoder = modeling.load_encoder(model_dir)
  ids, mask, types = _batch(config["vocab_size"], [7, 3, 11, 5], 11, pair_at={0, 2})
  _assert_matches(encoder, weights, config, ids, mask, types, atol=1e-5)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("shape", [(3, 5, 16), (15, 16)])
def test_layer_norm_equals_keras_layer_normalization(policy, shape):
  """modeling.LayerNorm is Keras's LayerNormalization computed with fewer temporaries: the
  same outputs and gradients, in float32 and under mixed precision."""
  import tensorflow as tf
  import tf_keras as keras
  rng = np.random.default_rng(0)
  x = tf.constant(rng.standard_normal(shape).astype(np.float32) * 4 + 2)
  upstream = tf.constant(rng.standard_normal(shape).astype(np.float32))
  gamma, beta = rng.standard_normal((2, 16)).astype(np.float32) + [[1], [0]]
  keras.mixed_precision.set_global_policy(policy)
  try:
    layers = [keras.layers.LayerNormalization(epsilon=1e-12), modeling.LayerNorm(epsilon=1e-12)]
  finally:
    keras.mixed_precision.set_global_policy("float32")
  results = []
  for layer in layers:
    layer.build(x.shape)
    layer.set_weights([gamma, beta])
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = layer(x)
      loss = tf.reduce_sum(tf.cast(y, tf.float32) * upstream)
    results.append([y.dtype] + [tf.cast(t, tf.float32).numpy()
                                for t in [y] + tape.gradient(loss, [x, layer.gamma, layer.beta])])
  assert results[0][0] == results[1][0] == dict(
      float32=tf.float32, mixed_bfloat16=tf.bfloat16, mixed_float16=tf.float16)[policy]
  tolerance = dict(float32=1e-5, mixed_bfloat16=2e-2, mixed_float16=3e-3)[policy]
  for keras_value, ours in zip(results[0][1:], results[1][1:]):
    np.testing.assert_allclose(ours, keras_value, rtol=tolerance, atol=tolerance)
  with pytest.raises(ValueError, match="normalises the last axis"):
    modeling.LayerNorm(axis=0).build(x.shape)


def test_gelu_exact_and_its_gradient_match_the_normal_cdf():
  """The erf-form GELU against x * Phi(x) and Phi(x) + x * phi(x), computed in float64."""
  import math
  import tensorflow as tf
  x = np.linspace(-8, 8, 161).astype(np.float32)
  wide = x.astype(np.float64)
  cdf, pdf = ndtr(wide), np.exp(-0.5 * wide ** 2) / math.sqrt(2 * math.pi)
  gelu = modeling.get_activation("gelu_exact")
  inputs = tf.constant(x)
  with tf.GradientTape() as tape:
    tape.watch(inputs)
    y = gelu(inputs)
  np.testing.assert_allclose(y.numpy(), x * cdf, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(tape.gradient(y, inputs).numpy(), cdf + x * pdf, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(y.numpy(), tf.nn.gelu(inputs, approximate=False).numpy(), atol=1e-6)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_gelu_exact_in_16_bits_is_float32s_rounded(dtype):
  """Down to x = -8, where 1 + erf(x / sqrt(2)) computed in 16 bits would be 0."""
  import tensorflow as tf
  x = tf.cast(tf.linspace(-8.0, 8.0, 161), dtype)
  exact = x.numpy().astype(np.float64)
  exact = exact * ndtr(exact)
  got = modeling.get_activation("gelu_exact")(x)
  assert got.dtype == x.dtype
  half_ulp = 2.0 ** -8 if dtype == "bfloat16" else 2.0 ** -11
  # atol: float32 itself cancels to a few 1e-7 below x = -4.5.
  np.testing.assert_allclose(got.numpy().astype(np.float64), exact, rtol=half_ulp, atol=1e-6)


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_dropout_drops_at_its_rate_with_a_fresh_mask_each_call(rate):
  import tensorflow as tf
  layer = modeling.Dropout(rate)
  x = tf.ones([999, 1001])  # an odd number of elements
  step = tf.function(lambda: layer(x, training=True))
  first, second = step().numpy(), step().numpy()
  for out in (first, second):
    assert abs((out == 0).mean() - rate) < 0.002  # 1M draws: the standard deviation is 5e-4
    # Keras's 1 / (1 - rate), to the rate's 2**-32 step; and the mean is kept, exactly.
    np.testing.assert_allclose(out[out != 0], 1 / (1 - rate), rtol=1e-6)
    kept = out[out != 0][0]
    assert abs(kept * (1 - round(rate * 2 ** 32) / 2 ** 32) - 1) < 1e-6
  # Independent masks disagree on 2 * rate * (1 - rate) of the elements.
  assert abs(((first == 0) != (second == 0)).mean() - 2 * rate * (1 - rate)) < 0.003
  np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = layer(x, training=True)
  np.testing.assert_array_equal(tape.gradient(y, x).numpy(), y.numpy())  # x is ones
  # Under mixed precision, and compiled by XLA (as --use_xla does on a TPU or GPU).
  half = modeling.Dropout(rate, dtype="mixed_bfloat16")
  compiled = tf.function(lambda: half(tf.ones([511, 513]), training=True), jit_compile=True)
  first, second = compiled().numpy(), compiled().numpy()
  for out in (first, second):
    assert out.dtype == tf.bfloat16.as_numpy_dtype
    assert abs((out == 0).mean() - rate) < 0.004  # 262k draws: the deviation is 1e-3 at most
    assert set(np.unique(out[out != 0]).tolist()) == {tf.bfloat16.as_numpy_dtype(1 / (1 - rate))}
  assert not np.array_equal(first == 0, second == 0)


def test_dropout_is_repeatable_under_a_seed_and_refuses_what_it_does_not_do():
  import tensorflow as tf
  masks = []
  for _ in range(2):
    tf.random.set_seed(7)
    layer = modeling.Dropout(0.1)
    step = tf.function(lambda: layer(tf.ones([256, 256]), training=True))
    masks.append([step().numpy() == 0 for _ in range(2)])
  np.testing.assert_array_equal(masks[0], masks[1])
  assert not np.array_equal(masks[0][0], masks[0][1])
  for rate in (1.0, 1 - 2.0 ** -34):
    with pytest.raises(ValueError, match="rate in"):
      modeling.Dropout(rate)
  with pytest.raises(ValueError, match="noise_shape"):
    modeling.Dropout(0.1, noise_shape=[1, 5])


def test_dropout_gives_each_replica_its_own_masks(monkeypatch):
  """Replicas that run one traced program (TPU cores, multi-worker) draw the same call keys;
  each mixes its replica id in, so the same rows on two replicas are not dropped alike."""
  class Replica:  # what tf.distribute.get_replica_context() gives inside strategy.run
    def __init__(self, replica_id):
      self.replica_id_in_sync_group = replica_id
  masks = []
  for replica_id in (0, 1, 0):
    monkeypatch.setattr(tf.distribute, "get_replica_context", lambda: Replica(replica_id))
    tf.random.set_seed(5)
    layer = modeling.Dropout(0.5, name="replicated_dropout")
    masks.append(tf.function(lambda: layer(tf.ones([64, 64]), training=True))().numpy() == 0)
  np.testing.assert_array_equal(masks[0], masks[2])  # the same replica and seed: the same mask
  assert abs((masks[0] != masks[1]).mean() - 0.5) < 0.04  # independent masks disagree on half


def test_first_token_only_gives_the_full_encoders_cls_and_gradients(tmp_path):
  # Dropout off, so that the training-mode forward and its gradients are deterministic.
  config = dict(TINY_CONFIG, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
  model_dir, _ = write_google_model(str(tmp_path / "m"), config)
  full = modeling.load_encoder(model_dir)
  first = modeling.load_encoder(model_dir, first_token_only=True)
  ids, mask, types = _batch(config["vocab_size"], [7, 3, 11, 5], 11, pair_at={0, 2})
  features = dict(input_word_ids=ids, input_mask=mask, input_type_ids=types)
  with tf.GradientTape(persistent=True) as tape:
    want, got = full(features, training=True), first(features, training=True)
    want_loss, got_loss = (tf.reduce_sum(out["pooled_output"] ** 2) for out in (want, got))
  np.testing.assert_allclose(got["pooled_output"], want["pooled_output"], atol=1e-6)
  assert got["sequence_output"].shape == (4, 1, config["hidden_size"])
  np.testing.assert_allclose(got["sequence_output"][:, 0], want["sequence_output"][:, 0],
                             atol=1e-6)
  for a, b in zip(want["encoder_outputs"][:-1], got["encoder_outputs"][:-1]):
    np.testing.assert_array_equal(a, b)  # the layers below are untouched
  grads = (tape.gradient(loss, enc.trainable_variables)
           for loss, enc in ((want_loss, full), (got_loss, first)))
  for a, b in zip(*grads):
    np.testing.assert_allclose(tf.convert_to_tensor(b), tf.convert_to_tensor(a), atol=1e-5)
  # Back to every position, with the same weights.
  again = modeling.with_all_positions(first, BertConfig.from_dict(config))(features)
  np.testing.assert_allclose(again["sequence_output"], want["sequence_output"], atol=1e-6)


@pytest.mark.parametrize("first_token_only", [False, True])
def test_skip_padding_gives_real_tokens_the_same_values_and_gradients(tmp_path,
                                                                      first_token_only):
  config = dict(TINY_CONFIG, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
  model_dir, _ = write_google_model(str(tmp_path / "m"), config)
  padded = modeling.load_encoder(model_dir, first_token_only=first_token_only)
  packed = modeling.load_encoder(model_dir, first_token_only=first_token_only,
                                 skip_padding=True)
  ids, mask, types = _batch(config["vocab_size"], [7, 3, 11, 1], 11, pair_at={0, 2})
  features = dict(input_word_ids=ids, input_mask=mask, input_type_ids=types)
  with tf.GradientTape(persistent=True) as tape:
    want, got = padded(features, training=True), packed(features, training=True)
    losses = [tf.reduce_sum(out["pooled_output"] ** 2) for out in (want, got)]
  np.testing.assert_allclose(got["pooled_output"], want["pooled_output"], atol=1e-6)
  real = mask[:, :, np.newaxis].astype(bool)
  for a, b in zip(want["encoder_outputs"], got["encoder_outputs"]):
    assert a.shape == b.shape
    if b.shape[1] == 1:  # the [CLS]-only last layer
      np.testing.assert_allclose(b, a, atol=1e-6)
      continue
    np.testing.assert_allclose(np.where(real, b, 0), np.where(real, a, 0), atol=1e-6)
    assert not np.where(real, 0, b).any()  # padding positions are zeros
  grads = [tape.gradient(loss, enc.trainable_variables)
           for loss, enc in zip(losses, (padded, packed))]
  for a, b in zip(*grads):
    np.testing.assert_allclose(tf.convert_to_tensor(b), tf.convert_to_tensor(a), atol=1e-5)
  # Masks that are not a prefix: a hole, a padded first position, no real token at all.
  mask[0, 4], mask[2, 0], mask[3] = 0, 0, 0
  odd = dict(features, input_mask=mask)
  want, got = padded(odd), packed(odd)
  np.testing.assert_allclose(got["pooled_output"], want["pooled_output"], atol=1e-6)
  real = mask[:, :, np.newaxis].astype(bool)
  if not first_token_only:
    np.testing.assert_allclose(np.where(real, got["sequence_output"], 0),
                               np.where(real, want["sequence_output"], 0), atol=1e-6)


@pytest.mark.parametrize("first_token_only", [False, True])
def test_dropout_drops_the_same_at_real_tokens_however_a_batch_is_padded(tmp_path,
                                                                          first_token_only):
  """Fixed padding (16), trimmed (9) and packed (skip_padding) batches, training with dropout
  under one seed: the same outputs at real tokens and the same gradients as the full encoder
  on fixed padding, because each mask is keyed by (example, position, head, column), not by
  the tensor's shape ([CLS]-only last layers included)."""
  config = BertConfig.from_dict(dict(TINY_CONFIG, hidden_dropout_prob=0.3,
                                     attention_probs_dropout_prob=0.3))
  encoders = [modeling.build_encoder(config)] + [
      modeling.build_encoder(config, first_token_only=first_token_only, skip_padding=packed)
      for packed in (False, False, True)]
  for encoder in encoders[1:]:
    encoder.set_weights(encoders[0].get_weights())
  ids, mask, types = _batch(config.vocab_size, [7, 3, 9, 5], 16, pair_at={0, 2})
  real = mask[:, :9, np.newaxis].astype(bool)
  results = []
  for encoder, seq in zip(encoders, (16, 16, 9, 9)):
    features = dict(input_word_ids=ids[:, :seq], input_mask=mask[:, :seq],
                    input_type_ids=types[:, :seq])

    @tf.function
    def step(encoder=encoder, features=features):
      with tf.GradientTape() as tape:
        out = encoder(features, training=True)
        loss = tf.reduce_sum(out["pooled_output"] ** 2)
      return out, tape.gradient(loss, encoder.trainable_variables)
    tf.random.set_seed(3)
    results.append([step(), step()])  # two steps: two masks
  for steps in results[1:]:
    for (want, want_grads), (got, got_grads) in zip(results[0], steps):
      np.testing.assert_allclose(got["pooled_output"], want["pooled_output"], atol=1e-6)
      if not first_token_only:
        np.testing.assert_allclose(np.where(real, got["sequence_output"][:, :9], 0),
                                   np.where(real, want["sequence_output"][:, :9], 0), atol=1e-6)
      for a, b in zip(want_grads, got_grads):
        np.testing.assert_allclose(tf.convert_to_tensor(b), tf.convert_to_tensor(a), atol=1e-5)
  # The masks do drop (each step's output differs from the other's and from inference's).
  (first, _), (second, _) = results[0]
  inference = encoders[0](dict(input_word_ids=ids, input_mask=mask, input_type_ids=types))
  for a, b in ((first, second), (first, inference)):
    assert np.abs(a["pooled_output"] - b["pooled_output"]).max() > 1e-2


def test_first_token_only_in_bfloat16_and_with_dropout(tiny_model_dir):
  import tf_keras as keras
  keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    full = modeling.load_encoder(tiny_model_dir)
    first = modeling.load_encoder(tiny_model_dir, first_token_only=True)
    packed = modeling.load_encoder(tiny_model_dir, first_token_only=True, skip_padding=True)
  finally:
    keras.mixed_precision.set_global_policy("float32")
  ids, mask, types = _batch(50, [7, 3, 11, 5], 11, pair_at={0, 2})
  features = dict(input_word_ids=ids, input_mask=mask, input_type_ids=types)
  want, got = full(features)["pooled_output"], first(features)["pooled_output"]
  assert got.dtype == tf.bfloat16 and packed(features)["pooled_output"].dtype == tf.bfloat16
  for out in (got, packed(features)["pooled_output"]):
    np.testing.assert_allclose(tf.cast(out, tf.float32), tf.cast(want, tf.float32), atol=2e-2)
  # Training mode drops out in the cut-down layer's shapes too: finite, and not inference's.
  dropped = tf.cast(first(features, training=True)["pooled_output"], tf.float32).numpy()
  assert np.isfinite(dropped).all() and np.abs(dropped - tf.cast(got, tf.float32)).max() > 1e-3
  first.trainable = False
  assert not modeling.with_all_positions(first, BertConfig.from_json_file(
      tiny_model_dir + "/bert_config.json")).trainable


def test_padding_does_not_change_real_positions(tiny_model_dir):
  encoder = modeling.load_encoder(tiny_model_dir)
  ids, mask, types = _batch(50, [6], 6)
  short = encoder(dict(input_word_ids=ids, input_mask=mask, input_type_ids=types))
  pad = lambda a: np.pad(a, [[0, 0], [0, 5]])
  long = encoder(dict(input_word_ids=pad(ids), input_mask=pad(mask), input_type_ids=pad(types)))
  np.testing.assert_allclose(long["sequence_output"].numpy()[:, :6],
                             short["sequence_output"].numpy(), atol=1e-5)
  np.testing.assert_allclose(long["pooled_output"].numpy(), short["pooled_output"].numpy(),
                             atol=1e-5)


def test_config_validation_errors(tmp_path):
  path = tmp_path / "bert_config.json"
  path.write_text(json.dumps(dict(TINY_CONFIG, hidden_size=25)))
  with pytest.raises(UsageError, match="not a multiple of num_attention_heads"):
    BertConfig.from_json_file(str(path))
  path.write_text(json.dumps(dict(TINY_CONFIG, hidden_act="mish")))
  with pytest.raises(UsageError, match="hidden_act"):
    BertConfig.from_json_file(str(path))
  path.write_text("{not json")
  with pytest.raises(UsageError, match="not valid JSON"):
    BertConfig.from_json_file(str(path))
  with pytest.raises(UsageError, match="does not exist"):
    BertConfig.from_json_file(str(tmp_path / "missing.json"))
  config = BertConfig.from_dict(TINY_CONFIG)
  assert BertConfig.from_dict(json.loads(config.to_json_string())) == config


def test_a_config_without_its_shape_warns(caplog):
  partial = {k: v for k, v in TINY_CONFIG.items() if k != "hidden_size"}
  assert BertConfig.from_dict(partial, "cfg.json").hidden_size == 768
  assert "cfg.json lacks hidden_size: Google's defaults are used (hidden_size=768)" in caplog.text


def _read_hf_weights_as_google(path):
  """Reads HF safetensors by hand (independent of bert_tf) into Google names."""
  with open(path, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    blob = f.read()
  out = {}
  for name, info in header.items():
    if name == "__metadata__" or info["dtype"] != "F32":
      continue
    a, b = info["data_offsets"]
    value = np.frombuffer(blob[a:b], np.float32).reshape(info["shape"])
    g = "bert/" + name.replace(".", "/").replace("layer/", "layer_")
    g = g.replace("LayerNorm/weight", "LayerNorm/gamma").replace("LayerNorm/bias", "LayerNorm/beta")
    if g.endswith("embeddings/weight"):
      g = g[:-len("/weight")]
    elif g.endswith("/weight"):
      g, value = g[:-len("weight")] + "kernel", value.T
    out[g] = value
  return out


@pytest.mark.real_model
def test_minilm_matches_numpy_forward(tmp_path):
  """The converted all-MiniLM-L6-v2 vs a NumPy pass over the raw safetensors."""
  hf_dir = minilm_hf_dir()
  from bert_tf.checkpoints import convert_hf_to_google
  out_dir = convert_hf_to_google(hf_dir, str(tmp_path / "minilm"))
  config = json.load(open(out_dir + "/bert_config.json"))
  assert config["hidden_act"] == "gelu_exact"
  weights = _read_hf_weights_as_google(hf_dir + "/model.safetensors")
  encoder = modeling.load_encoder(out_dir)
  ids, mask, types = _batch(config["vocab_size"], [128, 17, 64, 3, 90], 128, pair_at={1, 2, 4})
  seq_diff, pooled_diff = _assert_matches(encoder, weights, config, ids, mask, types, atol=1e-4)
  print("MiniLM parity: sequence_output %.2e, pooled_output %.2e" % (seq_diff, pooled_diff))
