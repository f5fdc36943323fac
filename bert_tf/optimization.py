"""Google's AdamWeightDecay with linear warmup and linear decay, for tf.distribute.

Semantics of google-research/bert optimization.py, kept on purpose:
  * lr(step) = init_lr * step / warmup_steps during warmup, else
    init_lr * (1 - step / num_train_steps): the decay counts from step 0, so
    warmup eats into it (Google's quirk);
  * m, v Adam moments (beta1 0.9, beta2 0.999, epsilon 1e-6) *without* bias
    correction (Google's quirk; `bias_correction=True` adds it);
  * decoupled weight decay, update += 0.01 * param, except on LayerNorm and bias;
  * gradients clipped to global norm 1.0.
Optional layer-wise learning-rate decay multiplies a variable's rate by
decay ** (number of layers above it).

Slots are plain variables named like Google's (`<var>/adam_m`, `<var>/adam_v`), so
fine-tuning checkpoints keep Google's layout. The update runs in TensorFlow's fused Adam
kernel, which takes 1 - beta2 in float32 (0.00099998713): a 1.3e-5 relative difference from
Google's op-by-op arithmetic, for half the time per step.
"""

import re

import tensorflow as tf

EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")


class WarmupLinearDecay:
  """Google's schedule as a plain function of the (0-based) step."""

  def __init__(self, init_lr, num_train_steps, num_warmup_steps):
    self.init_lr = float(init_lr)
    self.num_train_steps = max(int(num_train_steps), 1)
    self.num_warmup_steps = int(num_warmup_steps)

  def __call__(self, step):
    step = tf.cast(step, tf.float32)
    decayed = self.init_lr * tf.maximum(1.0 - tf.minimum(step, self.num_train_steps)
                                        / self.num_train_steps, 0.0)
    if self.num_warmup_steps <= 0:
      return decayed
    warmup = self.init_lr * step / self.num_warmup_steps
    return tf.where(step < self.num_warmup_steps, warmup, decayed)


def layerwise_multipliers(names, num_layers, decay):
  """{checkpoint name: lr multiplier}: the top layer and head get 1, each layer below
  `decay` times less, the embeddings least."""
  if decay == 1.0:
    return {name: 1.0 for name in names}
  out = {}
  for name in names:
    match = re.search(r"/layer_(\d+)/", name)
    if match:
      depth = num_layers - int(match.group(1))
    elif "/embeddings/" in name:
      depth = num_layers + 1
    else:  # pooler and head
      depth = 0
    out[name] = decay ** depth
  return out


class AdamWeightDecay(tf.Module):
  """Adam with decoupled weight decay, the way Google's BERT fine-tunes."""

  def __init__(self, variable_map, schedule, weight_decay_rate=0.01, beta_1=0.9, beta_2=0.999,
               epsilon=1e-6, clip_norm=1.0, bias_correction=False, lr_multipliers=None,
               name="adam_weight_decay"):
    """`variable_map` is {checkpoint name: trainable variable}; create under a strategy scope."""
    super().__init__(name=name)
    self.names = sorted(variable_map)
    self.variables_by_name = dict(variable_map)
    self.schedule = schedule
    self.weight_decay_rate = weight_decay_rate
    self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
    self.clip_norm = clip_norm
    self.bias_correction = bias_correction
    self.lr_multipliers = lr_multipliers or {}
    self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step",
                                  aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    self.m, self.v = {}, {}
    for n in self.names:
      var = self.variables_by_name[n]
      with tf.init_scope():
        self.m[n] = tf.Variable(tf.zeros(var.shape, tf.float32), trainable=False,
                                name=n.replace("/", "_") + "_adam_m")
        self.v[n] = tf.Variable(tf.zeros(var.shape, tf.float32), trainable=False,
                                name=n.replace("/", "_") + "_adam_v")

  def slot_variable_map(self):
    """{Google checkpoint name: variable} for the moments and global_step."""
    names = {"global_step": self.iterations}
    for n in self.names:
      names[n + "/adam_m"] = self.m[n]
      names[n + "/adam_v"] = self.v[n]
    return names

  def learning_rate(self):
    return self.schedule(self.iterations)

  def clip(self, grads):
    """Global-norm clipping; call on all-reduced gradients (same on every replica)."""
    if not self.clip_norm:
      return grads
    clipped, _ = tf.clip_by_global_norm(grads, self.clip_norm)
    return clipped

  def apply_gradients(self, grads):
    """Applies all-reduced, clipped gradients (aligned with self.names).

    Call in cross-replica context, e.g. from `ReplicaContext.merge_call`: each
    variable is updated on every replica by `strategy.extended.update`.
    """
    strategy = tf.distribute.get_strategy()
    learning_rate = self.learning_rate()
    for n, grad in zip(self.names, grads):
      if grad is not None:
        strategy.extended.update(self.variables_by_name[n], self._update_fn(n, learning_rate),
                                 args=(grad,), group=False)
    self.iterations.assign_add(1)

  def _update_fn(self, name, learning_rate):
    lr = learning_rate * self.lr_multipliers.get(name, 1.0)
    decay = self.weight_decay_rate and not any(x in name for x in EXCLUDE_FROM_WEIGHT_DECAY)

    def update(var, grad):
      # Inside extended.update, self.m/self.v resolve to this replica's copies.
      grad = tf.cast(grad, var.dtype)
      if decay:
        # Google adds weight_decay_rate * var to the Adam step; taking it off first, from
        # the same (old) var, is the same sum. As one product (not assign_sub of a
        # temporary): two passes over the weights instead of five.
        var.assign(var * (1.0 - lr * self.weight_decay_rate))
      if self.bias_correction:
        return self._corrected_adam(name, var, grad, lr)
      # TensorFlow's fused Adam kernel (m, v and var in one pass over memory, twice as
      # fast as separate ops); beta powers of 0 turn its bias correction off, as Google's.
      return tf.raw_ops.ResourceApplyAdam(
          var=var.handle, m=self.m[name].handle, v=self.v[name].handle,
          beta1_power=tf.constant(0.0, var.dtype), beta2_power=tf.constant(0.0, var.dtype),
          lr=lr, beta1=self.beta_1, beta2=self.beta_2, epsilon=self.epsilon, grad=grad)

    return update

  def _corrected_adam(self, name, var, grad, lr):
    """Adam with bias correction and epsilon outside the corrected root, as PyTorch's."""
    m = self.beta_1 * self.m[name] + (1.0 - self.beta_1) * grad
    v = self.beta_2 * self.v[name] + (1.0 - self.beta_2) * tf.square(grad)
    step = tf.cast(self.iterations + 1, tf.float32)
    update = (m / (1.0 - self.beta_1 ** step)) / (
        tf.sqrt(v / (1.0 - self.beta_2 ** step)) + self.epsilon)
    self.m[name].assign(m)
    self.v[name].assign(v)
    return var.assign_sub(lr * update)
