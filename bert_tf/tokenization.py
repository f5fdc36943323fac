"""WordPiece tokenization with exactly the ids of Google's BERT `tokenization.py`.

`FullTokenizer` = `BasicTokenizer` (clean text, split CJK ideographs, lower-case and
strip accents, split punctuation) followed by `WordpieceTokenizer` (greedy
longest-match-first `##` pieces). The algorithm and its quirks are Google's; the
speed comes from two shortcuts that provably give the same tokens:

  * ASCII text (most English data) takes a fast path: on ASCII, Google's cleaning,
    punctuation split and lower-casing reduce to a translate table, a split at spaces
    and one regex within each chunk between spaces.
  * Results are memoised, since corpora repeat words endlessly: per chunk between
    spaces for ASCII text (a basic token never crosses a space, so the regex runs only
    on chunks not seen before), per basic token for other text.

Everything else runs Google's per-character algorithm unchanged.
"""

import collections
import itertools
import os
import re
import threading
import unicodedata

import numpy as np

from bert_tf.errors import UsageError

# Google's heuristic list of published checkpoints and their casing.
_LOWER_MODELS = ("uncased_L-24_H-1024_A-16", "uncased_L-12_H-768_A-12",
                 "multilingual_L-12_H-768_A-12", "chinese_L-12_H-768_A-12")
_CASED_MODELS = ("cased_L-12_H-768_A-12", "cased_L-24_H-1024_A-16",
                 "multi_cased_L-12_H-768_A-12")


def validate_case_matches_checkpoint(do_lower_case, init_checkpoint):
  """Fails when `do_lower_case` contradicts a well-known checkpoint's name.

  Casing is not stored in bert_config.json, so, like Google, we infer it from the
  directory name of the published checkpoints.
  """
  if not init_checkpoint:
    return
  match = re.match("^.*?([A-Za-z0-9_-]+)/bert_model.ckpt", init_checkpoint)
  if match is None:
    return
  model_name = match.group(1)
  if model_name in _LOWER_MODELS and not do_lower_case:
    actual, case_name, opposite = "False", "lowercased", "True"
  elif model_name in _CASED_MODELS and do_lower_case:
    actual, case_name, opposite = "True", "cased", "False"
  else:
    return
  raise UsageError(
      "You passed in `--do_lower_case=%s` with `--init_checkpoint=%s`. However, "
      "`%s` seems to be a %s model, so you should pass in `--do_lower_case=%s` so "
      "that the fine-tuning matches how the model was pre-trained." %
      (actual, init_checkpoint, model_name, case_name, opposite))


def convert_to_unicode(text):
  """Returns `text` as str, decoding bytes as UTF-8 and dropping invalid bytes."""
  if isinstance(text, str):
    return text
  if isinstance(text, bytes):
    return text.decode("utf-8", "ignore")
  raise ValueError("Unsupported string type: %s" % type(text))


def load_vocab(vocab_file):
  """Loads a vocabulary file into an ordered {token: id} dict, in file order.

  Like Google's, a token is the stripped line, a later duplicate wins, and
  reading stops at end of file.
  """
  vocab = collections.OrderedDict()
  try:
    with open(vocab_file, "r", encoding="utf-8") as reader:
      for index, line in enumerate(reader):
        vocab[line.strip()] = index
  except FileNotFoundError:
    raise UsageError("Vocabulary file %s does not exist; pass --vocab_file." %
                     vocab_file) from None
  except IsADirectoryError:
    raise UsageError("Vocabulary file %s is a directory; pass --vocab_file=%s." % (
        vocab_file, os.path.join(vocab_file, "vocab.txt"))) from None
  except UnicodeDecodeError as e:
    raise UsageError("Vocabulary file %s is not UTF-8 (%s)." % (vocab_file, e)) from None
  if not vocab:
    raise UsageError("Vocabulary file %s is empty." % vocab_file)
  return vocab


def convert_by_vocab(vocab, items):
  return [vocab[item] for item in items]


def whitespace_tokenize(text):
  """Runs basic whitespace cleaning and splitting on a piece of text."""
  text = text.strip()
  if not text:
    return []
  return text.split()


class FullTokenizer(object):
  """Runs end-to-end tokenization: basic tokenization, then WordPiece."""

  def __init__(self, vocab_file, do_lower_case=True):
    self.vocab = load_vocab(vocab_file)
    self.inv_vocab = {v: k for k, v in self.vocab.items()}
    self.do_lower_case = do_lower_case
    self.basic_tokenizer = BasicTokenizer(do_lower_case=do_lower_case)
    self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab)
    self._derive()

  def _derive(self):
    """What is built from the settings: rebuilt, not pickled (it may change between versions)."""
    self._memo = _WordMemo(self._chunk_ids)  # chunk between spaces -> its WordPiece ids
    self._join_table = {k: v for k, v in self.basic_tokenizer.ascii_table.items()
                        if k != ord(_JOIN)}

  def __getstate__(self):  # copies and pickles start with an empty memo (it holds a lock)
    return {k: v for k, v in self.__dict__.items() if k not in ("_memo", "_join_table")}

  def __setstate__(self, state):
    self.__dict__.update(state)
    self._derive()

  def tokenize(self, text):
    split_tokens = []
    for token in self.basic_tokenizer.tokenize(text):
      split_tokens.extend(self.wordpiece_tokenizer.tokenize(token))
    return split_tokens

  def tokenize_to_ids(self, text):
    """`convert_tokens_to_ids(tokenize(text))`, fast: memoised per chunk of an ASCII text
    between spaces (basic tokens never cross one), per basic token of the others."""
    if isinstance(text, str) and text.isascii():
      words = text.translate(self.basic_tokenizer.ascii_table).split()
    else:
      words = self.basic_tokenizer.tokenize(text)
    # Known words only, without the lock: .get adds no row, and filled rows never change.
    memo = self._memo
    get, pieces = memo.row.get, memo.pieces
    try:
      return [i for word in words for i in pieces[get(word)]]
    except (TypeError, IndexError):  # a new word: no row (None), or a row but no ids yet
      pass
    memo = self._current_memo()
    with memo.lock:
      collections.deque(map(memo.row.__getitem__, words), maxlen=0)  # rows for all
      memo.fill()
      return [i for word in words for i in memo.pieces[memo.row[word]]]

  def tokenize_many_to_ids(self, texts):
    """`[tokenize_to_ids(t) for t in texts]` as one flat int32 array and each text's
    number of ids. Plain ASCII texts are cleaned and cut at spaces in one pass over their
    concatenation; the others are tokenized one by one, then spliced in."""
    texts = list(texts)
    if not texts:
      return np.zeros(0, np.int32), np.zeros(0, np.int64)
    joined, others = _join_plain_ascii(texts)
    words = joined.translate(self._join_table).split()
    memo = self._current_memo()
    with memo.lock:
      rows = np.fromiter(map(memo.row.__getitem__, words), np.int32, count=len(words))
      memo.fill()
      flat, counts = memo.ids_of(rows)
    # Words before the first join belong to text 0, and so on (a join has no ids).
    text_of_word = np.cumsum(rows == memo.row[_JOIN])
    lengths = np.bincount(text_of_word, weights=counts, minlength=len(texts)).astype(np.int64)
    if others:  # their slots are empty: insert each one's ids at its slot
      ids = [np.array(self.tokenize_to_ids(texts[i]), np.int32) for i in others]
      at = (np.cumsum(lengths) - lengths)[others]
      flat = np.insert(flat, np.repeat(at, [len(x) for x in ids]), np.concatenate(ids))
      lengths[others] = [len(x) for x in ids]
    return flat, lengths

  def _current_memo(self):
    """The memo, a new one when it is full (so huge corpora cannot exhaust RAM).
    Callers keep the object they got: a concurrent replacement cannot mix two memos."""
    if len(self._memo.row) > _WordMemo.MAX_WORDS or self._memo.chars > _WordMemo.MAX_CHARS:
      self._memo = _WordMemo(self._memo.word_ids)
    return self._memo

  def _chunk_ids(self, chunk):
    """The ids of a cleaned ASCII chunk without spaces (its basic tokens are its runs of
    alphanumerics and its other characters one by one), or of one non-ASCII basic token."""
    if not chunk.isascii():
      return self._wordpiece_ids(chunk)
    return [i for word in _ASCII_TOKEN.findall(chunk) for i in self._wordpiece_ids(word)]

  def _wordpiece_ids(self, word):
    """WordPiece's ids for one word (a whole word in the vocab is its first match)."""
    if len(word) <= self.wordpiece_tokenizer.max_input_chars_per_word and word in self.vocab:
      return [self.vocab[word]]
    return convert_by_vocab(self.vocab, self.wordpiece_tokenizer.tokenize(word))

  def convert_tokens_to_ids(self, tokens):
    return convert_by_vocab(self.vocab, tokens)

  def convert_ids_to_tokens(self, ids):
    return convert_by_vocab(self.inv_vocab, ids)


class _WordMemo(object):
  """Memoised WordPiece ids: word (a chunk of a cleaned ASCII text between spaces, or a
  basic token of another text) -> row, and each row's ids, both as a list (to tokenize
  one text) and in flat arrays (to tokenize a batch with numpy).

  Looking up a new word gives it the next row, in C (a defaultdict counting rows), so
  a batch needs no Python loop over its words; fill() then computes the ids of the
  rows past len(pieces). Rows are given in order and never taken back, so a word's
  row is its position in the dict. _JOIN has row 0 and no ids: it separates texts.
  Threads may share a tokenizer: add rows and fill them with `lock` held; a reader
  without it must not add rows (row.get, not row[...]) and reads filled rows only."""

  MAX_WORDS = 2_000_000
  MAX_CHARS = 100_000_000  # of its words: long chunks (URLs, blobs) fill RAM before MAX_WORDS

  def __init__(self, word_ids):
    self.word_ids = word_ids  # word -> its ids, uncached
    rows = itertools.count()
    self.row = collections.defaultdict(rows.__next__)  # word -> row
    self.row[_JOIN] = next(rows)
    self.pieces = [[]]  # row -> its ids
    self.chars = 0  # in the words filled so far
    # The same as arrays, for the first `_rows` rows (`_ids` ids); they grow by doubling.
    self._rows, self._ids = 0, 0
    self._counts = np.zeros(1024, np.int32)
    self._starts = np.zeros(1024, np.int64)
    self._flat = np.zeros(1024, np.int32)
    self.lock = threading.Lock()

  def fill(self):
    """Computes the ids of the words that have a row but no ids yet."""
    # The newest words, read from the dict's end.
    new = list(itertools.islice(reversed(self.row), len(self.row) - len(self.pieces)))
    self.pieces.extend(map(self.word_ids, reversed(new)))
    self.chars += sum(map(len, new))

  def ids_of(self, rows):
    """(the rows' ids concatenated, ids per row); every row must be filled."""
    self._update_arrays()
    counts, starts, flat = self._counts[rows], self._starts[rows], self._flat
    ends = np.cumsum(counts)
    # Output position p of row k reads flat[starts[k] + p - (ends[k] - counts[k])].
    shift = np.repeat(starts - (ends - counts), counts)
    return flat[np.arange(int(ends[-1]) if len(ends) else 0) + shift], counts

  def _update_arrays(self):
    new = self.pieces[self._rows:]
    if not new:
      return
    counts = np.fromiter(map(len, new), np.int32, count=len(new))
    ids = np.fromiter(itertools.chain.from_iterable(new), np.int32)
    rows, end = self._rows + len(new), self._ids + len(ids)
    self._counts, self._starts = _room(self._counts, rows), _room(self._starts, rows)
    self._flat = _room(self._flat, end)
    self._counts[self._rows:rows] = counts
    self._starts[self._rows:rows] = np.cumsum(counts) - counts + self._ids
    self._flat[self._ids:end] = ids
    self._rows, self._ids = rows, end


def _room(array, size):
  """`array`, or a copy twice as long when it holds fewer than `size` items."""
  if size <= len(array):
    return array
  grown = np.zeros(max(size, 2 * len(array)), array.dtype)
  grown[:len(array)] = array
  return grown


def _join_plain_ascii(texts):
  """(the ASCII str texts joined by _JOIN between spaces, the indices of the others):
  those others (non-ASCII, bytes, or holding a _JOIN) stand in the join as empty texts.

  Google's cleaning deletes the control character _JOIN from every text, so in the
  joined string it can only mark where one text ends and the next begins."""
  try:
    joined = _JOIN_SPACED.join(texts)
  except TypeError:  # not all str
    joined = None
  if joined is not None and joined.count(_JOIN) == len(texts) - 1:
    if joined.isascii():
      return joined, []  # the common case, in two C-level passes
    others = [i for i, t in enumerate(texts) if not t.isascii()]
  else:
    others = [i for i, t in enumerate(texts)
              if not (isinstance(t, str) and t.isascii() and _JOIN not in t)]
  plain = list(texts)
  for i in others:
    plain[i] = ""
  return _JOIN_SPACED.join(plain), others


# On ASCII, Google's _clean_text deletes the control characters other than \t\n\r,
# turns \t\n\r into spaces, and every printable non-alphanumeric character is
# punctuation. So an ASCII text's basic tokens are the runs of alphanumerics and
# the single other printable characters.
_ASCII_CLEAN = {cp: None for cp in list(range(0, 32)) + [127]}
_ASCII_CLEAN.update({ord("\t"): " ", ord("\n"): " ", ord("\r"): " "})
_ASCII_LOWER = str.maketrans(dict(_ASCII_CLEAN, **{chr(c): chr(c + 32) for c in range(65, 91)}))
_ASCII_CLEAN = str.maketrans(_ASCII_CLEAN)
_ASCII_TOKEN = re.compile(r"[A-Za-z0-9]+|[^A-Za-z0-9 ]")
# Joins texts in tokenize_many_to_ids, between spaces: a control character (so no text
# holds it after cleaning) that str.split() does not take for whitespace (as \x1c-\x1f).
_JOIN = "\x1a"
_JOIN_SPACED = " %s " % _JOIN


class BasicTokenizer(object):
  """Runs basic tokenization (punctuation splitting, lower casing, etc.)."""

  def __init__(self, do_lower_case=True):
    self.do_lower_case = do_lower_case
    # Cleans (and lower-cases) ASCII text in one pass.
    self.ascii_table = _ASCII_LOWER if do_lower_case else _ASCII_CLEAN

  def tokenize(self, text):
    """Tokenizes a piece of text."""
    text = convert_to_unicode(text)
    if text.isascii():
      return _ASCII_TOKEN.findall(text.translate(self.ascii_table))
    return self.tokenize_unicode(text)

  def tokenize_unicode(self, text):
    """Google's algorithm for any text, with its per-character loops done by regexes.

    Each regex is built from the same per-character predicates as Google's code
    (`_is_control`, `_is_whitespace`, `_is_chinese_char`, `_is_punctuation`).
    """
    tables = _unicode_tables()
    text = tables.control.sub("", text)
    text = tables.whitespace.sub(" ", text)
    text = tables.chinese.sub(r" \g<0> ", text)
    split_tokens = []
    for token in whitespace_tokenize(text):
      if self.do_lower_case:
        token = token.lower()
        if not token.isascii():
          token = self._run_strip_accents(token)
      split_tokens.extend(tables.punctuation_split.findall(token))
    return whitespace_tokenize(" ".join(split_tokens))

  def tokenize_reference(self, text):
    """Google's per-character algorithm, line by line (slow; for checking)."""
    text = self._clean_text(convert_to_unicode(text))
    # Added in Google's Nov 2018 release for the multilingual and Chinese models;
    # harmless for English since its vocab holds few CJK characters.
    text = self._tokenize_chinese_chars(text)
    split_tokens = []
    for token in whitespace_tokenize(text):
      if self.do_lower_case:
        token = token.lower()
        token = self._run_strip_accents(token)
      split_tokens.extend(self._run_split_on_punc(token))
    return whitespace_tokenize(" ".join(split_tokens))

  def _run_strip_accents(self, text):
    """Strips accents from a piece of text (NFD, then drop Mn marks)."""
    text = unicodedata.normalize("NFD", text)
    return "".join(c for c in text if unicodedata.category(c) != "Mn")

  def _run_split_on_punc(self, text):
    """Splits punctuation on a piece of text."""
    output = []
    start_new_word = True
    for char in text:
      if _is_punctuation(char):
        output.append([char])
        start_new_word = True
      else:
        if start_new_word:
          output.append([])
        start_new_word = False
        output[-1].append(char)
    return ["".join(x) for x in output]

  def _tokenize_chinese_chars(self, text):
    """Adds whitespace around any CJK character."""
    output = []
    for char in text:
      if _is_chinese_char(ord(char)):
        output.extend((" ", char, " "))
      else:
        output.append(char)
    return "".join(output)

  def _clean_text(self, text):
    """Performs invalid character removal and whitespace cleanup on text."""
    output = []
    for char in text:
      cp = ord(char)
      if cp == 0 or cp == 0xfffd or _is_control(char):
        continue
      output.append(" " if _is_whitespace(char) else char)
    return "".join(output)


class WordpieceTokenizer(object):
  """Runs WordPiece tokenization (greedy longest-match-first)."""

  def __init__(self, vocab, unk_token="[UNK]", max_input_chars_per_word=200):
    self.vocab = vocab
    self.unk_token = unk_token
    self.max_input_chars_per_word = max_input_chars_per_word

  def tokenize(self, text):
    """Tokenizes whitespace-separated basic tokens into word pieces.

    For example: "unaffable" -> ["un", "##aff", "##able"].
    """
    text = convert_to_unicode(text)
    output_tokens = []
    for token in whitespace_tokenize(text):
      if len(token) > self.max_input_chars_per_word:
        output_tokens.append(self.unk_token)
        continue
      sub_tokens = []
      start = 0
      while start < len(token):
        end = len(token)
        cur_substr = None
        while start < end:
          substr = token[start:end]
          if start > 0:
            substr = "##" + substr
          if substr in self.vocab:
            cur_substr = substr
            break
          end -= 1
        if cur_substr is None:
          sub_tokens = None
          break
        sub_tokens.append(cur_substr)
        start = end
      if sub_tokens is None:
        output_tokens.append(self.unk_token)
      else:
        output_tokens.extend(sub_tokens)
    return output_tokens


class _UnicodeTables:
  """Regexes over every code point for Google's character predicates (built once)."""

  def __init__(self):
    control, whitespace, punctuation = [], [], []
    category = unicodedata.category
    for cp in range(0x110000):
      if 0xD800 <= cp <= 0xDFFF:  # surrogates cannot appear in decoded text
        continue
      # One category() call per code point; the same tests as _is_control,
      # _is_whitespace and _is_punctuation (checked against them in the tests).
      cat = category(chr(cp))
      if cp in (9, 10, 13, 32) or cat == "Zs":
        whitespace.append(cp)
      elif cp == 0 or cp == 0xfffd or cat in ("Cc", "Cf"):
        control.append(cp)
      if cat[0] == "P" or (33 <= cp <= 47) or (58 <= cp <= 64) or (91 <= cp <= 96) or (
          123 <= cp <= 126):
        punctuation.append(cp)
    self.control = re.compile(_char_class(control))
    self.whitespace = re.compile(_char_class(whitespace))
    self.chinese = re.compile(_char_class([cp for lo, hi in _CJK_RANGES
                                           for cp in range(lo, hi + 1)]))
    punct = _char_class(punctuation)
    self.punctuation_split = re.compile("%s|%s+" % (punct, "[^" + punct[1:]))


def _char_class(code_points):
  """A regex character class matching exactly `code_points` (as ranges)."""
  ranges, start, prev = [], None, None
  for cp in sorted(code_points):
    if start is None:
      start = prev = cp
    elif cp == prev + 1:
      prev = cp
    else:
      ranges.append((start, prev))
      start = prev = cp
  if start is not None:
    ranges.append((start, prev))
  esc = lambda cp: "\\U%08x" % cp
  return "[" + "".join(esc(a) if a == b else "%s-%s" % (esc(a), esc(b)) for a, b in ranges) + "]"


_TABLES = []


def _unicode_tables():
  if not _TABLES:
    _TABLES.append(_UnicodeTables())
  return _TABLES[0]


_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
               (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_chinese_char(cp):
  """Whether `cp` is in the CJK Unified Ideographs blocks (not Hangul or kana)."""
  return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def _is_whitespace(char):
  """Whether `char` is whitespace; \\t, \\n and \\r count as whitespace."""
  if char in " \t\n\r":
    return True
  return unicodedata.category(char) == "Zs"


def _is_control(char):
  """Whether `char` is a control character (\\t, \\n, \\r count as whitespace)."""
  if char in "\t\n\r":
    return False
  return unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char):
  """Whether `char` is punctuation: any non-alphanumeric ASCII, or Unicode P*."""
  cp = ord(char)
  if (33 <= cp <= 47) or (58 <= cp <= 64) or (91 <= cp <= 96) or (123 <= cp <= 126):
    return True
  return unicodedata.category(char).startswith("P")

