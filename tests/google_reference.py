"""Google's own tokenization.py (PyPI bert-tensorflow 1.0.4) as an independent reference."""

import pytest


def google_full_tokenizer(vocab_file, do_lower_case):
  """Google's FullTokenizer, or skip when bert-tensorflow is not installed."""
  tokenization = pytest.importorskip("bert.tokenization")
  from absl import flags
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()  # Google's module reads --preserve_unused_tokens.
  return tokenization.FullTokenizer(vocab_file=vocab_file, do_lower_case=do_lower_case)
