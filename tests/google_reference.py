"""Google's own tokenization.py (PyPI bert-tensorflow 1.0.4) as an independent reference."""

import pytest


def google_full_tokenizer(vocab_file, do_lower_case):
  """Google's FullTokenizer, or skip when bert-tensorflow is not installed."""
  tokenization = pytest.importorskip("bert.tokenization")
  from absl import flags
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()  # Google's module reads --preserve_unused_tokens.
  return tokenization.FullTokenizer(vocab_file=vocab_file, do_lower_case=do_lower_case)


_RUN_CLASSIFIER_NAMES = (
    "InputExample", "PaddingInputExample", "InputFeatures", "DataProcessor", "XnliProcessor",
    "MnliProcessor", "MrpcProcessor", "ColaProcessor", "convert_single_example",
    "file_based_convert_examples_to_features", "file_based_input_fn_builder",
    "_truncate_seq_pair",
)


def google_run_classifier():
  """Google's run_classifier.py definitions (classes and functions), without its flags.

  The module itself cannot be imported under TF2 (it pulls tf.contrib through
  modeling.py and defines global flags), so we execute just the definitions we
  compare against, from Google's own source file, with tf = tf.compat.v1.
  """
  import ast
  import collections
  import csv
  import importlib.util
  import os
  tokenization = pytest.importorskip("bert.tokenization")
  google_tokenizer = google_full_tokenizer  # ensures flags are marked parsed
  del google_tokenizer
  import tensorflow.compat.v1 as tf
  spec = importlib.util.find_spec("bert")
  path = os.path.join(os.path.dirname(spec.origin), "run_classifier.py")
  tree = ast.parse(open(path, encoding="utf-8").read())
  body = [node for node in tree.body
          if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in _RUN_CLASSIFIER_NAMES]
  namespace = dict(tf=tf, tokenization=tokenization, collections=collections, csv=csv, os=os)
  exec(compile(ast.Module(body=body, type_ignores=[]), path, "exec"), namespace)  # pylint: disable=exec-used
  return namespace


def google_optimization():
  """Google's optimization.py (create_optimizer, AdamWeightDecayOptimizer)."""
  return pytest.importorskip("bert.optimization")


def google_create_masked_lm_predictions():
  """Google's create_pretraining_data.create_masked_lm_predictions (PyPI bert-tensorflow
  1.0.4: per-WordPiece masking; the module's flags and TF1 calls are left out)."""
  import ast
  import collections
  import importlib.util
  import os
  pytest.importorskip("bert.tokenization")
  spec = importlib.util.find_spec("bert")
  path = os.path.join(os.path.dirname(spec.origin), "create_pretraining_data.py")
  tree = ast.parse(open(path, encoding="utf-8").read())
  body = [node for node in tree.body
          if (isinstance(node, ast.FunctionDef) and node.name == "create_masked_lm_predictions")
          or (isinstance(node, ast.Assign) and
              any(getattr(t, "id", None) == "MaskedLmInstance" for t in node.targets))]
  namespace = dict(collections=collections)
  exec(compile(ast.Module(body=body, type_ignores=[]), path, "exec"), namespace)  # pylint: disable=exec-used
  return namespace["create_masked_lm_predictions"]
