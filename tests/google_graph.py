"""The variables of a model fine-tuned by Google's own run_classifier.py, from its code.

  python google_graph.py '<bert_config json>' NUM_LABELS   -> prints {name: shape} as JSON

Builds Google's graph (modeling.BertModel, run_classifier.create_model,
optimization.create_optimizer from PyPI bert-tensorflow 1.0.4) in TF1 graph mode and
lists tf.global_variables(). Two library layers that TF 2.21 no longer ships are
stood in for with their documented variable names: tf.contrib.layers.layer_norm
(<scope>/beta, <scope>/gamma) and tf.layers.dense (<name>/kernel, <name>/bias).
Run it as its own process: it switches TensorFlow to TF1 tensor shapes.
"""

import ast
import collections
import copy
import importlib.util
import json
import math
import os
import re
import sys
import types

import numpy as np
import six
import tensorflow.compat.v1 as tf1
from absl import flags

flags.FLAGS.mark_as_parsed()
BASE = os.path.dirname(importlib.util.find_spec("bert").origin)


def layer_norm(inputs, begin_norm_axis=-1, begin_params_axis=-1, scope=None):
  """tf.contrib.layers.layer_norm's variables: <scope>/beta, <scope>/gamma."""
  del begin_norm_axis, begin_params_axis
  with tf1.variable_scope(scope, default_name="LayerNorm"):
    beta = tf1.get_variable("beta", inputs.shape[-1:], initializer=tf1.zeros_initializer())
    gamma = tf1.get_variable("gamma", inputs.shape[-1:], initializer=tf1.ones_initializer())
    mean, var = tf1.nn.moments(inputs, [-1], keep_dims=True)
    return (inputs - mean) * tf1.rsqrt(var + 1e-12) * gamma + beta


def dense(inputs, units, activation=None, name=None, kernel_initializer=None, **unused):
  """tf.layers.dense's variables: <name>/kernel, <name>/bias."""
  with tf1.variable_scope(name, default_name="dense"):
    kernel = tf1.get_variable("kernel", [int(inputs.shape[-1]), units],
                              initializer=kernel_initializer)
    bias = tf1.get_variable("bias", [units], initializer=tf1.zeros_initializer())
    out = tf1.tensordot(inputs, kernel, [[len(inputs.shape) - 1], [0]]) + bias
    return activation(out) if activation else out


TF = types.SimpleNamespace(**{k: getattr(tf1, k) for k in dir(tf1) if not k.startswith("__")})
TF.layers = types.SimpleNamespace(dense=dense)
TF.contrib = types.SimpleNamespace(layers=types.SimpleNamespace(layer_norm=layer_norm))


def load(name, **modules):
  """The definitions (functions and classes) of one of Google's modules, on tf1 + shims."""
  path = os.path.join(BASE, name)
  namespace = dict(contrib_layers=TF.contrib.layers, tf=TF, collections=collections, copy=copy,
                   json=json, math=math, re=re, six=six, np=np, **modules)
  tree = ast.parse(open(path, encoding="utf-8").read())
  body = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
  exec(compile(ast.Module(body=body, type_ignores=[]), path, "exec"), namespace)  # pylint: disable=exec-used
  return types.SimpleNamespace(**namespace)


def main():
  modeling, optimization = load("modeling.py"), load("optimization.py")
  run_classifier = load("run_classifier.py", modeling=modeling, optimization=optimization)
  tf1.disable_v2_tensorshape()  # Google's code reads shape[-1].value
  with tf1.Graph().as_default():
    config = modeling.BertConfig.from_dict(json.loads(sys.argv[1]))
    ids = tf1.placeholder(tf1.int32, [2, 8])
    labels = tf1.placeholder(tf1.int32, [2])
    loss = run_classifier.create_model(config, True, ids, ids, ids, labels, int(sys.argv[2]),
                                       False)[0]
    optimization.create_optimizer(loss, 1e-4, 10, 1, False)
    print(json.dumps({v.op.name: v.shape.as_list() for v in tf1.global_variables()}))


if __name__ == "__main__":
  main()
