"""bert_tf: fine-tune BERT text classifiers in TensorFlow/Keras, Google-compatible."""

__version__ = "0.1.0"
