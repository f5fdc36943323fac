"""Our tokenizer against Google's: golden vectors, edge cases, and random Unicode."""

import concurrent.futures
import copy
import pickle
import random
import sys

import numpy as np
import pytest

from bert_tf import tokenization
from bert_tf.errors import UsageError
from conftest import vocab_files
from google_reference import google_full_tokenizer

# Edge cases the issue names: accents, CJK, emoji, control and zero-width
# characters, URLs, >200-char words, empty strings, mixed scripts.
EDGE_CASES = [
    "", " ", "\t\n\r", "Hello, World!", "UNwant\u00E9d,running", "Héllò hôw are ü?",
    "ah\u535A\u63A8zz", "中国人民 好", "日本語のテキストとカタカナ", "한국어 문장입니다",
    "I love it 😀👍🏽 !!", "zero\u200bwidth\u200cjoiner\u200d here", "soft\u00adhyphen",
    "ctrl\x00chars\x07\x1b\x7f and \ufffd replacement", "bidi \u202emark\u202c end",
    "https://example.com/path?q=1&b=two#frag", "email me: a.b@c.de",
    "x" * 201, "y" * 200, "short " + "z" * 250 + " tail", "ΣΊΣΥΦΟΣ ΟΔΥΣΣΕΎΣ", "straße İstanbul",
    "Ǆemal ǅ ǆ", "ﬁne ﬂow", "①②③ ½ x² H₂O", "e\u0301t\u00e9 cafe\u0301", "\u3000full\u3000width\uff01",
    "Ｆｕｌｌｗｉｄｔｈ ＡＳＣＩＩ", "tab\tsep\u00a0nbsp\u2009thin\u2028line\u2029para",
    "private\ue40cuse", "арабский عربي עברית हिन्दी ไทย", "$100 #tag @user ^_^ `code` ~tilde",
    "don't stop-believing... (really)?!", "\u0085next\u001cfile sep", "a\u0300\u0301\u0302",
    "𠀋𠂉 ext-b", "…ellipsis “quotes” ‘single’ — dash",
]


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_google_golden_vectors(tiny_vocab_file, do_lower_case):
  # From Google's tokenization_test.py (expected values written by Google).
  tok = tokenization.FullTokenizer(tiny_vocab_file, do_lower_case=True)
  assert tok.tokenize("UNwant\u00E9d,running") == ["un", "##want", "##ed", ",", "runn", "##ing"]
  assert tok.convert_tokens_to_ids(["un", "##want", "##ed", "runn", "##ing"]) == [12, 13, 14, 22, 23]
  basic = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  text = " \tHeLLo!how  \n Are yoU?  "
  expected = (["hello", "!", "how", "are", "you", "?"] if do_lower_case
              else ["HeLLo", "!", "how", "Are", "yoU", "?"])
  assert basic.tokenize(text) == expected
  assert basic.tokenize("ah\u535A\u63A8zz") == ["ah", "\u535A", "\u63A8", "zz"]
  if do_lower_case:
    assert basic.tokenize("H\u00E9llo") == ["hello"]


def test_wordpiece_and_long_words(tiny_vocab_file):
  tok = tokenization.FullTokenizer(tiny_vocab_file, do_lower_case=True)
  assert tok.tokenize("unwanted running") == ["un", "##want", "##ed", "runn", "##ing"]
  assert tok.tokenize("unwantedX running") == ["[UNK]", "runn", "##ing"]
  assert tok.tokenize("a" * 201) == ["[UNK]"]
  assert tok.tokenize("") == []


def test_validate_case_matches_checkpoint():
  tokenization.validate_case_matches_checkpoint(True, "/x/uncased_L-12_H-768_A-12/bert_model.ckpt")
  tokenization.validate_case_matches_checkpoint(False, "/x/my_model/bert_model.ckpt")
  with pytest.raises(UsageError, match="--do_lower_case=False"):
    tokenization.validate_case_matches_checkpoint(True, "/x/cased_L-12_H-768_A-12/bert_model.ckpt")
  with pytest.raises(UsageError, match="lowercased"):
    tokenization.validate_case_matches_checkpoint(False, "/x/uncased_L-12_H-768_A-12/bert_model.ckpt")


def test_missing_vocab_is_a_usage_error(tmp_path):
  with pytest.raises(UsageError, match="does not exist"):
    tokenization.FullTokenizer(str(tmp_path / "nope.txt"))


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_edge_cases_match_google(tiny_vocab_file, do_lower_case):
  for vocab_file in vocab_files(tiny_vocab_file):
    ours = tokenization.FullTokenizer(vocab_file, do_lower_case=do_lower_case)
    google = google_full_tokenizer(vocab_file, do_lower_case)
    for text in EDGE_CASES:
      expected = google.convert_tokens_to_ids(google.tokenize(text))
      assert ours.convert_tokens_to_ids(ours.tokenize(text)) == expected, repr(text)
      assert ours.tokenize_to_ids(text) == expected, repr(text)
      assert ours.tokenize_to_ids(text.encode("utf-8")) == expected, repr(text)


def _random_text(rng, ascii_only):
  if ascii_only:
    return "".join(chr(rng.randrange(0, 128)) for _ in range(rng.randrange(0, 60)))
  pools = [(0, 128), (0x80, 0x250), (0x370, 0x400), (0x2000, 0x2070), (0x3000, 0x3100),
           (0x4E00, 0x4E40), (0xFF00, 0xFF60), (0x1F600, 0x1F610), (0xE000, 0xE010),
           (0x0300, 0x0370)]
  chars = []
  for _ in range(rng.randrange(0, 40)):
    lo, hi = rng.choice(pools)
    chars.append(chr(rng.randrange(lo, hi)))
  return "".join(chars)


@pytest.mark.parametrize("ascii_only", [True, False])
def test_random_text_matches_google(tiny_vocab_file, ascii_only):
  """Fuzz: 3,000 random strings per vocab and case, ids identical to Google's."""
  rng = random.Random(1234)
  texts = [_random_text(rng, ascii_only) for _ in range(3000)]
  for vocab_file in vocab_files(tiny_vocab_file):
    for do_lower_case in (True, False):
      ours = tokenization.FullTokenizer(vocab_file, do_lower_case=do_lower_case)
      google = google_full_tokenizer(vocab_file, do_lower_case)
      expected = [google.convert_tokens_to_ids(google.tokenize(text)) for text in texts]
      for text, ids in zip(texts, expected):
        assert ours.tokenize_to_ids(text) == ids, repr(text)
      # All at once (one pass over the joined ASCII texts), on a fresh memo.
      flat, lengths = tokenization.FullTokenizer(
          vocab_file, do_lower_case=do_lower_case).tokenize_many_to_ids(texts)
      assert lengths.tolist() == [len(ids) for ids in expected]
      assert flat.tolist() == [i for ids in expected for i in ids]


def test_fast_paths_equal_the_per_character_algorithm():
  """The ASCII regex path and the Unicode regex path vs Google's loops, as ported."""
  rng = random.Random(7)
  for do_lower_case in (True, False):
    basic = tokenization.BasicTokenizer(do_lower_case)
    for ascii_only in (True, False):
      for _ in range(3000):
        text = _random_text(rng, ascii_only=ascii_only)
        expected = basic.tokenize_reference(text)
        assert basic.tokenize(text) == expected, repr(text)
        assert basic.tokenize_unicode(text) == expected, repr(text)


def test_unicode_tables_agree_with_the_character_predicates():
  tables = tokenization._unicode_tables()  # pylint: disable=protected-access
  for cp in list(range(0, 0x3100)) + list(range(0xFE00, 0x10000)) + [0x1F600, 0xE0001]:
    char = chr(cp)
    removed = cp == 0 or cp == 0xfffd or tokenization._is_control(char)  # pylint: disable=protected-access
    assert bool(tables.control.fullmatch(char)) == removed, hex(cp)
    spaced = not removed and tokenization._is_whitespace(char)  # pylint: disable=protected-access
    assert bool(tables.whitespace.fullmatch(char)) == spaced, hex(cp)
    punct = tokenization._is_punctuation(char)  # pylint: disable=protected-access
    assert (tables.punctuation_split.fullmatch(char) is not None and
            len(tables.punctuation_split.findall(char + "a")) == 2) == punct, hex(cp)


def _google_ids(tok, text):
  return tok.convert_tokens_to_ids(tok.tokenize(text))  # no memo


def test_tokenize_many_equals_one_by_one(tiny_vocab_file):
  tok = tokenization.FullTokenizer(tiny_vocab_file, True)
  texts = ["Good movie!", "", "caf\xe9 au lait", "a\x1eb", "a\x1ab \x1a", b"bad movie",
           "tab\tand\nnew", "don't,stop.Now", "x\x0by\x0cz\x1cw\x1fv",
           "\u4e2d\u6587 good", "UNAFFABLE.", "  ", "unaffable the"]
  flat, lengths = tok.tokenize_many_to_ids(texts)
  expected = [_google_ids(tok, t) for t in texts]
  assert lengths.tolist() == [len(x) for x in expected]
  assert flat.tolist() == [i for x in expected for i in x]
  assert [tok.tokenize_to_ids(t) for t in texts] == expected
  assert [len(a) for a in tok.tokenize_many_to_ids([])] == [0, 0]


def _random_texts(rng, n):
  words = ["the", "movie", "un", "aff", "able", "unaffable", "runs", "Good", "!", ",", "x",
           "caf\xe9", "\u4e2d", "\x1e", "\x1a", "it's", "a.b"]
  return ["".join(rng.choice(words) + rng.choice(["", " "]) for _ in range(rng.randrange(12)))
          for _ in range(n)]


def test_word_memo_is_bounded_and_stays_right(tiny_vocab_file, monkeypatch):
  monkeypatch.setattr(tokenization._WordMemo, "MAX_WORDS", 5)  # replaced every few calls
  tok = tokenization.FullTokenizer(tiny_vocab_file, True)
  rng = random.Random(0)
  for _ in range(30):
    texts = _random_texts(rng, rng.randrange(1, 8))
    flat, lengths = tok.tokenize_many_to_ids(texts)
    expected = [_google_ids(tok, t) for t in texts]
    assert flat.tolist() == [i for x in expected for i in x]
    assert lengths.tolist() == [len(x) for x in expected]
    assert tok.tokenize_to_ids(texts[0]) == expected[0]
  assert len(tok._memo.row) <= 5 + 40  # replaced when over the bound


def test_word_memo_is_bounded_in_characters(tiny_vocab_file, monkeypatch):
  monkeypatch.setattr(tokenization._WordMemo, "MAX_CHARS", 1000)
  tok = tokenization.FullTokenizer(tiny_vocab_file, True)
  texts = ["the%d,movie%s" % (i, "x" * 300) for i in range(20)]  # one long chunk each
  memos = set()
  for text in texts:
    assert tok.tokenize_to_ids(text) == _google_ids(tok, text)
    memos.add(id(tok._memo))
    assert 300 <= tok._memo.chars <= 1000 + 320  # counted, and replaced once over the bound
  assert len(memos) >= 5  # 20 texts of ~313 characters: a new memo every 4
  flat, _ = tok.tokenize_many_to_ids(texts)
  assert flat.tolist() == [i for t in texts for i in _google_ids(tok, t)]


def test_threads_can_share_a_tokenizer(tiny_vocab_file):
  tok = tokenization.FullTokenizer(tiny_vocab_file, True)
  rng = random.Random(0)
  new_word = lambda: "".join(rng.choice("abcdefghij") for _ in range(rng.randrange(1, 6)))
  batches = [[" ".join(new_word() for _ in range(10)) for _ in range(300)] for _ in range(8)]
  expected = [[_google_ids(tok, t) for t in texts] for texts in batches]
  results = [None] * len(batches)

  def work(k):
    if k % 2:
      results[k] = [tok.tokenize_to_ids(t) for t in batches[k]]
    else:
      flat, lengths = tok.tokenize_many_to_ids(batches[k])
      results[k] = np.split(flat, np.cumsum(lengths)[:-1])
  interval = sys.getswitchinterval()
  sys.setswitchinterval(1e-6)  # threads switch often, so races would show
  try:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
      list(pool.map(work, range(len(batches))))
  finally:
    sys.setswitchinterval(interval)
  for got, want in zip(results, expected):
    assert [list(x) for x in got] == want


def test_tokenizer_copies_and_pickles(tiny_vocab_file):
  tok = tokenization.FullTokenizer(tiny_vocab_file, True)
  tok.tokenize_many_to_ids(["the movie runs"])
  for other in (copy.deepcopy(tok), pickle.loads(pickle.dumps(tok))):
    assert other.tokenize_to_ids("unaffable movie") == tok.tokenize_to_ids("unaffable movie")
    assert other.tokenize_many_to_ids(["runs x"])[0].tolist() == tok.tokenize_to_ids("runs x")
  # A pickle of an older version, whose join table deleted today's join character, loads
  # with today's table: the texts of a batch stay apart.
  old = dict(tok.__getstate__(), _join_table={ord(tokenization._JOIN): None})
  other = tokenization.FullTokenizer.__new__(tokenization.FullTokenizer)
  other.__setstate__(old)
  assert other.tokenize_many_to_ids(["the movie", "runs"])[1].tolist() == [
      len(tok.tokenize_to_ids("the movie")), len(tok.tokenize_to_ids("runs"))]
