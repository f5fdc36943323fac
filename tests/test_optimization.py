"""Our AdamWeightDecay + schedule against Google's optimization.py, step by step."""

import numpy as np
import tensorflow as tf

from bert_tf.optimization import AdamWeightDecay, WarmupLinearDecay, layerwise_multipliers
from google_reference import google_optimization

SHAPES = {"dense/kernel": (5, 3), "dense/bias": (3,), "LayerNorm/gamma": (3,),
          "out/kernel": (3, 2)}


def _loss(tensors, x):
  h = tf.matmul(x, tensors["dense/kernel"]) + tensors["dense/bias"]
  h = tf.tanh(h) * tensors["LayerNorm/gamma"]
  return tf.reduce_sum(tf.square(tf.matmul(h, tensors["out/kernel"]) - 1.0))


def _google_trajectory(init, xs, lr, steps, warmup):
  opt = google_optimization()
  with tf.Graph().as_default():
    variables = {n: tf.compat.v1.get_variable(n, initializer=v) for n, v in init.items()}
    x = tf.compat.v1.placeholder(tf.float32, [4, 5])
    train_op = opt.create_optimizer(_loss(variables, x), lr, steps, warmup, use_tpu=False)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for xb in xs:
        sess.run(train_op, {x: xb})
      return sess.run(variables)


def test_matches_google_adam_weight_decay_with_warmup_and_decay():
  rng = np.random.default_rng(0)
  init = {n: rng.standard_normal(s).astype(np.float32) for n, s in SHAPES.items()}
  xs = [rng.standard_normal((4, 5)).astype(np.float32) * 3 for _ in range(12)]
  steps, warmup, lr = 10, 3, 0.05   # 12 > 10 steps: past the end the rate stays 0
  expected = _google_trajectory(init, xs, lr, steps, warmup)

  variables = {n: tf.Variable(v) for n, v in init.items()}
  optimizer = AdamWeightDecay(variables, WarmupLinearDecay(lr, steps, warmup))
  names = optimizer.names
  for xb in xs:
    with tf.GradientTape() as tape:
      loss = _loss(variables, tf.constant(xb))
    grads = tape.gradient(loss, [variables[n] for n in names])
    optimizer.apply_gradients(optimizer.clip(grads))
  # TensorFlow's fused Adam kernel takes 1 - beta_2 in float32 (1.3e-5 off 0.001); over 12
  # steps at this large rate that moves the weights by up to 3e-5, relative.
  for n in names:
    np.testing.assert_allclose(variables[n].numpy(), expected[n], rtol=1e-4, atol=1e-5)
  assert int(optimizer.iterations) == 12
  # The update really moved things, and weight decay skipped bias and LayerNorm only.
  assert not np.allclose(variables["dense/kernel"].numpy(), init["dense/kernel"])
  assert set(optimizer.slot_variable_map()) == {"global_step"} | {
      n + s for n in SHAPES for s in ("/adam_m", "/adam_v")}


def test_schedule_values():
  schedule = WarmupLinearDecay(1.0, num_train_steps=10, num_warmup_steps=4)
  values = [float(schedule(s)) for s in range(12)]
  np.testing.assert_allclose(values[:4], [0.0, 0.25, 0.5, 0.75])
  # Decay counts from step 0 (Google): at step 4 the rate is 1 - 4/10, not 1.
  np.testing.assert_allclose(values[4:], [0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0, 0.0], atol=1e-7)


def test_layerwise_multipliers():
  names = ["bert/embeddings/word_embeddings", "bert/encoder/layer_0/output/dense/kernel",
           "bert/encoder/layer_1/output/dense/kernel", "bert/pooler/dense/kernel",
           "output_weights"]
  m = layerwise_multipliers(names, num_layers=2, decay=0.5)
  assert m == {names[0]: 0.125, names[1]: 0.25, names[2]: 0.5, names[3]: 1.0, names[4]: 1.0}
  assert set(layerwise_multipliers(names, 2, 1.0).values()) == {1.0}
