"""--clean_text: the rules by hand, Python against the TensorFlow ops, and the in-graph
preprocessor against the Python one with cleaning on."""

import random

import numpy as np
import pytest
import tensorflow as tf

from bert_tf.preprocessing import Preprocessor
from bert_tf.processors import InputExample
from bert_tf.text_cleaning import clean_text, clean_text_graph

CASES = [
    ("Visit https://example.com/a?b=1 now", "Visit URL now"),
    ("see www.test.org.", "see URL"),
    ("write to a.b+c@mail.co.uk please", "write to EMAIL please"),
    ("thanks @john_doe!", "thanks @USER!"),
    ("ＦＵＬＬ　ｗｉｄｔｈ１２３", "FULL width123"),
    ("sooooooo goooood!!!!!!", "sooo goood!!!"),
    ("aaa", "aaa"), ("", ""), ("😀😀😀😀😀", "😀😀😀"), ("中中中中文", "中中中文"),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_rules_by_hand(text, expected):
  assert clean_text(text) == expected


def test_python_and_graph_agree_on_random_text():
  rng = random.Random(0)
  alphabet = list("ab @.:/-_!x") + ["http://", "www.", "é", "ｆ", "😀", "中", "\n", "\t", "@u"]
  texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30))) for _ in range(500)]
  texts += [text for text, _ in CASES]
  # Unicode white space that NFKC keeps, after a URL (RE2's \s is ASCII only).
  texts += ["http://a.b%sgood movie" % c for c in "\x0b\x1c\x1f\x85\u1680\u2028\u2029"]
  graph = [t.decode("utf-8") for t in clean_text_graph(tf.constant(texts)).numpy()]
  assert [clean_text(t) for t in texts] == graph


def test_the_in_graph_preprocessor_cleans_like_the_python_one(tiny_vocab_file):
  texts = ["the goooood movie @someone", "ｇｏｏｄ film https://x.y/z", "bad!!!!!!"]
  preprocessor = Preprocessor.from_vocab(tiny_vocab_file, True, 16, clean_text=True)
  expected = preprocessor.encode([InputExample(str(i), t) for i, t in enumerate(texts)], 1, False)
  got = preprocessor.in_graph()(tf.constant(texts))
  np.testing.assert_array_equal(got["input_word_ids"].numpy(), expected.input_ids)
  plain = Preprocessor.from_vocab(tiny_vocab_file, True, 16).encode(
      [InputExample("0", texts[1])], 1, False)
  assert plain.input_ids[0].tolist() != expected.input_ids[1].tolist()  # cleaning changed ids
