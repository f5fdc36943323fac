"""The in-graph (tensorflow-text) tokenizer and packer against FullTokenizer + featurize."""

import random

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import text_graph, tokenization
from bert_tf.preprocessing import Preprocessor
from bert_tf.processors import InputExample
from conftest import vocab_files
from test_tokenization import EDGE_CASES


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_in_graph_tokenizer_matches_full_tokenizer(tiny_vocab_file, do_lower_case):
  rng = random.Random(5)
  ascii_texts = ["".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(0, 50)))
                 for _ in range(300)]
  for vocab_file in vocab_files(tiny_vocab_file):
    reference = tokenization.FullTokenizer(vocab_file, do_lower_case)
    graph = text_graph.BertTextPreprocessor(vocab_file, do_lower_case)
    texts = EDGE_CASES + ascii_texts
    got = graph.tokenize(tf.constant(texts)).to_list()
    for text, ids in zip(texts, got):  # Greek final sigma included (EDGE_CASES)
      assert ids == reference.tokenize_to_ids(text), repr(text)


@pytest.mark.parametrize("truncation", ["head", "tail", "head_tail"])
def test_in_graph_packing_matches_featurize(tiny_vocab_file, truncation):
  words = ["the", "good", "movie", "unwanted", "running", "is", "not", "very", "fun", "中", ","]
  rng = random.Random(3)
  sentence = lambda: " ".join(rng.choice(words) for _ in range(rng.randrange(0, 14)))
  tok = tokenization.FullTokenizer(tiny_vocab_file, True)
  for pairs in (False, True):
    texts_a = [sentence() for _ in range(60)]
    texts_b = [sentence() for _ in range(60)] if pairs else None
    if pairs:  # a second text that tokenizes to nothing: one sequence, truncated as one
      long_text = " ".join(words * 2)
      texts_a += [long_text] * 3
      texts_b += ["", "   ", "\u200b"]
    examples = [InputExample(str(i), a, texts_b[i] if pairs else None, "0")
                for i, a in enumerate(texts_a)]
    preprocessor = Preprocessor(tok, 12, truncation, 4, tiny_vocab_file)
    expected = preprocessor.encode(examples, num_workers=1)
    graph = preprocessor.in_graph()
    got = graph(tf.constant(texts_a), tf.constant(texts_b) if pairs else None)
    np.testing.assert_array_equal(got["input_word_ids"].numpy(), expected.input_ids)
    np.testing.assert_array_equal(got["input_mask"].numpy(), expected.input_mask)
    np.testing.assert_array_equal(got["input_type_ids"].numpy(), expected.segment_ids)
