"""An independent NumPy forward pass of BERT from Google-named weight arrays.

Written from the BERT paper / Google's modeling.py semantics, sharing no code with
bert_tf: post-LayerNorm blocks, -10000 on masked attention logits, tanh pooler.
"""

import math

import numpy as np
from scipy.special import erf


def _layer_norm(x, gamma, beta, eps=1e-12):
  mean = x.mean(-1, keepdims=True)
  var = ((x - mean) ** 2).mean(-1, keepdims=True)
  return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _gelu(x, exact):
  if exact:
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))
  return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def bert_forward(w, config, word_ids, mask, type_ids):
  """Returns (sequence_output, pooled_output) in float64."""
  w = {k: v.astype(np.float64) for k, v in w.items()}
  word_ids, mask, type_ids = (np.asarray(a) for a in (word_ids, mask, type_ids))
  seq = word_ids.shape[1]
  heads = config["num_attention_heads"]
  exact = config["hidden_act"] == "gelu_exact"
  x = (w["bert/embeddings/word_embeddings"][word_ids]
       + w["bert/embeddings/token_type_embeddings"][type_ids]
       + w["bert/embeddings/position_embeddings"][:seq][None])
  x = _layer_norm(x, w["bert/embeddings/LayerNorm/gamma"], w["bert/embeddings/LayerNorm/beta"])
  bias = (1.0 - mask[:, None, None, :].astype(np.float64)) * -10000.0
  for i in range(config["num_hidden_layers"]):
    p = "bert/encoder/layer_%d/" % i
    dense = lambda t, name: t @ w[p + name + "/kernel"] + w[p + name + "/bias"]
    b, s, h = x.shape
    d = h // heads
    split = lambda t: t.reshape(b, s, heads, d).transpose(0, 2, 1, 3)
    q, k, v = (split(dense(x, "attention/self/" + n)) for n in ("query", "key", "value"))
    logits = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + bias
    logits -= logits.max(-1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(-1, keepdims=True)
    context = (probs @ v).transpose(0, 2, 1, 3).reshape(b, s, h)
    attn = _layer_norm(dense(context, "attention/output/dense") + x,
                       w[p + "attention/output/LayerNorm/gamma"],
                       w[p + "attention/output/LayerNorm/beta"])
    ffn = dense(_gelu(dense(attn, "intermediate/dense"), exact), "output/dense")
    x = _layer_norm(ffn + attn, w[p + "output/LayerNorm/gamma"], w[p + "output/LayerNorm/beta"])
  pooled = np.tanh(x[:, 0] @ w["bert/pooler/dense/kernel"] + w["bert/pooler/dense/bias"])
  return x, pooled
