"""bert_tf: fine-tune BERT text classifiers in TensorFlow/Keras, compatible with Google's
run_classifier.py, checkpoints and TFRecords.

    from bert_tf import TextClassifier
"""

__version__ = "0.2.0"
__all__ = ["TextClassifier"]


def __getattr__(name):
  # Lazy, so that `import bert_tf.tokenization` does not load TensorFlow.
  if name == "TextClassifier":
    from bert_tf.api import TextClassifier  # pylint: disable=g-import-not-at-top
    return TextClassifier
  raise AttributeError("module 'bert_tf' has no attribute %r" % name)
