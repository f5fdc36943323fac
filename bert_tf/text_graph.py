"""In-graph tokenization and packing (tensorflow-text), for string-in serving.

`BertTextPreprocessor` turns raw strings into the encoder's three inputs inside
the TensorFlow graph, so an exported SavedModel takes text. It follows Google's
FullTokenizer step by step with TF string ops:

  clean (drop Cc/Cf, U+0000, U+FFFD; Zs/\\t/\\n/\\r -> space) -> space out CJK
  ideographs -> [lower-case, NFD, drop Mn] -> split on whitespace, keep each
  punctuation character (ASCII non-alphanumerics and \\p{P}) as a token ->
  words over 200 characters -> [UNK] -> greedy longest-match-first WordPiece
  (FastWordpieceTokenizer) -> [CLS] A [SEP] (B [SEP]) with Google's longest-first
  pair truncation -> padding.

Known, measured differences from FullTokenizer (see bench/tokenizer_parity.py
--in_graph): Unicode tables may differ between Python's and TensorFlow's (ICU,
RE2) versions for recently added characters. (TensorFlow 2.21 lower-cases a
final Greek sigma to 'ς', as Python does; older versions wrote 'σ'.)

For TFLite, where regex ops have no kernels, `fast_bert_tokenizer` builds
tf-text's FastBertTokenizer instead (its normalisation differs more: NFKC-style
case folding).
"""

import tensorflow as tf

from bert_tf.text_cleaning import clean_text_graph
from bert_tf.tokenization import _CJK_RANGES, load_vocab

try:
  import tensorflow_text as tf_text
except ImportError:  # pragma: no cover - tensorflow-text is an install requirement
  tf_text = None

MAX_WORD_CHARS = 200
# Cc except \t \n \r, all of Cf, U+FFFD (Google's _clean_text deletes these).
_CONTROL = r"[\x{0}-\x{8}\x{B}\x{C}\x{E}-\x{1F}\x{7F}-\x{9F}\p{Cf}\x{FFFD}]"
_WHITESPACE = r"[\t\n\r\p{Zs}]"
# Python's str.split() also splits on U+2028/U+2029 (line/paragraph separators).
_SPLIT = r"[ \x{2028}\x{2029}\x{1C}-\x{1F}\x{85}]"
_PUNCTUATION = r"[!-/:-@\[-`{-~\p{P}]"
_CJK = "[" + "".join(r"\x{%X}-\x{%X}" % r for r in _CJK_RANGES) + "]"


def _require_tf_text():
  if tf_text is None:
    raise ImportError("tensorflow-text is needed for in-graph tokenization: "
                      "pip install tensorflow-text")


class BertTextPreprocessor(tf.Module):
  """Raw strings -> input_word_ids / input_mask / input_type_ids, in the graph."""

  def __init__(self, vocab_file, do_lower_case=True, max_seq_length=128, truncation="head",
               head_tokens=128, pad_to_longest=False, clean_text=False,
               name="bert_preprocessor"):
    """`pad_to_longest` pads a batch to its longest sequence (faster serving) instead
    of to max_seq_length (fixed shapes, as TF-Hub preprocessors do); `clean_text`
    applies text_cleaning's rules first, as the run did in training."""
    super().__init__(name=name)
    self.pad_to_longest = pad_to_longest
    self.clean_text = clean_text
    _require_tf_text()
    vocab = load_vocab(vocab_file)
    ids = sorted(vocab.values())
    if ids != list(range(len(ids))):
      raise ValueError("%s: in-graph tokenization needs a vocab with one token per id "
                       "(no duplicates)." % vocab_file)
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    self.vocab_file = tf.saved_model.Asset(vocab_file)
    self.do_lower_case = tf.Variable(do_lower_case, trainable=False, name="do_lower_case")
    self._lower = do_lower_case
    self.max_seq_length = max_seq_length
    self.truncation = truncation
    self.head_tokens = head_tokens
    self.cls_id, self.sep_id = vocab["[CLS]"], vocab["[SEP]"]
    self.wordpiece = tf_text.FastWordpieceTokenizer(
        vocab=tokens, suffix_indicator="##", max_bytes_per_word=4 * MAX_WORD_CHARS + 4,
        token_out_type=tf.int64, unknown_token="[UNK]", no_pretokenization=True)

  # ---- tokenization ----
  def basic_tokenize(self, text):
    """[batch] strings -> [batch, (words)] basic tokens, as Google's BasicTokenizer."""
    text = tf.strings.regex_replace(text, _CONTROL, "")
    text = tf.strings.regex_replace(text, _WHITESPACE, " ")
    text = tf.strings.regex_replace(text, _CJK, r" \0 ")
    if self._lower:
      text = tf.strings.lower(text, encoding="utf-8")
      text = tf_text.normalize_utf8(text, "NFD")
      text = tf.strings.regex_replace(text, r"\p{Mn}", "")
    return tf_text.regex_split(text, "(?:" + _SPLIT + "|" + _PUNCTUATION + ")", _PUNCTUATION)

  def tokenize(self, text):
    """[batch] strings -> [batch, (pieces)] int64 WordPiece ids."""
    if self.clean_text:
      text = clean_text_graph(text)
    words = self.basic_tokenize(text)
    too_long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > MAX_WORD_CHARS
    words = words.with_flat_values(tf.where(too_long, "[UNK]", words.flat_values))
    return self.wordpiece.tokenize(words).merge_dims(-2, -1)

  # ---- packing ----
  def _kept_single(self, lengths, budget):
    """Which positions Google's head truncation, or tail / head+tail, keeps of a single
    text: a ragged boolean mask."""
    head, tail = {"head": (budget, 0), "tail": (0, budget),
                  "head_tail": (min(self.head_tokens, budget),
                                budget - min(self.head_tokens, budget))}[self.truncation]
    positions = tf.ragged.range(lengths)
    return ((positions < head) | (positions >= tf.expand_dims(lengths, 1) - tail) |
            tf.expand_dims(lengths <= budget, 1))

  def pack(self, ids_a, ids_b=None):
    """Ragged ids -> padded dict of int32 [batch, max_seq_length (or longest)]."""
    length = None if self.pad_to_longest else self.max_seq_length
    if ids_b is None:
      ids_a = tf.ragged.boolean_mask(ids_a, self._kept_single(ids_a.row_lengths(),
                                                              self.max_seq_length - 2))
      segments = [ids_a]
    else:
      budget = self.max_seq_length - 3
      la, lb = ids_a.row_lengths(), ids_b.row_lengths()
      shorter = tf.minimum(la, lb)
      fits = la + lb <= budget
      short_fits = 2 * shorter <= budget
      # Google's _truncate_seq_pair pops from the longer one (ties: from B).
      keep_a = tf.where(fits | (la <= lb) & short_fits, la,
                        tf.where(short_fits, budget - lb, budget - budget // 2))
      keep_b = tf.where(fits | (lb < la) & short_fits, lb,
                        tf.where(short_fits, budget - la, budget // 2))
      keep_a, keep_b = tf.minimum(keep_a, la), tf.minimum(keep_b, lb)
      # Google: a text_b that tokenizes to nothing makes a single sequence, truncated as one.
      single = tf.expand_dims(lb == 0, 1)
      ids_a = tf.ragged.boolean_mask(ids_a, (
          single & self._kept_single(la, budget + 1) |
          ~single & (tf.ragged.range(la) < tf.expand_dims(keep_a, 1))))
      ids_b = tf.ragged.boolean_mask(ids_b, tf.ragged.range(lb) < tf.expand_dims(keep_b, 1))
      segments = [ids_a, ids_b]
    batch = ids_a.nrows()
    cls = tf.fill([batch, 1], tf.constant(self.cls_id, tf.int64))
    sep = tf.fill([batch, 1], tf.constant(self.sep_id, tf.int64))
    parts, types = [cls, segments[0], sep], [tf.zeros([batch, 1], tf.int64),
                                             tf.zeros_like(segments[0]),
                                             tf.zeros([batch, 1], tf.int64)]
    if len(segments) == 2:
      has_b = tf.expand_dims(segments[1].row_lengths() > 0, 1)
      b_sep = tf.ragged.boolean_mask(sep, has_b)
      parts += [segments[1], b_sep]
      types += [tf.ones_like(segments[1]), tf.ones_like(b_sep)]
    word_ids = tf.concat(parts, axis=1)
    type_ids = tf.concat(types, axis=1)
    mask = tf.ones_like(word_ids)
    to_dense = lambda t: tf.cast(t.to_tensor(shape=[None, length]), tf.int32)
    return dict(input_word_ids=to_dense(word_ids), input_mask=to_dense(mask),
                input_type_ids=to_dense(type_ids))

  def __call__(self, text_a, text_b=None):
    ids_a = self.tokenize(text_a)
    ids_b = self.tokenize(text_b) if text_b is not None else None
    return self.pack(ids_a, ids_b)


def fast_bert_tokenizer(vocab_file, do_lower_case=True):
  """tf-text's FastBertTokenizer (TFLite-compatible; normalises differently)."""
  _require_tf_text()
  vocab = load_vocab(vocab_file)
  tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
  return tf_text.FastBertTokenizer(vocab=tokens, suffix_indicator="##",
                                   # Google's cap is 200 characters: exact for ASCII words
                                   max_bytes_per_word=MAX_WORD_CHARS, token_out_type=tf.int64,
                                   unknown_token="[UNK]", no_pretokenization=False,
                                   lower_case_nfd_strip_accents=do_lower_case)


def report_parity(vocab_file, texts, do_lower_case=True, batch_size=1024):
  """Prints how many texts the in-graph tokenizer tokenizes differently."""
  import time  # pylint: disable=g-import-not-at-top
  from bert_tf.tokenization import FullTokenizer  # pylint: disable=g-import-not-at-top
  reference = FullTokenizer(vocab_file, do_lower_case)
  graph = BertTextPreprocessor(vocab_file, do_lower_case)
  tokenize = tf.function(graph.tokenize)
  bad, examples, start = 0, [], time.perf_counter()
  for i in range(0, len(texts), batch_size):
    chunk = texts[i:i + batch_size]
    for text, ids in zip(chunk, tokenize(tf.constant(chunk)).to_list()):
      if ids != reference.tokenize_to_ids(text):
        bad += 1
        if len(examples) < 5:
          examples.append(text[:80])
  seconds = time.perf_counter() - start
  print("in-graph tokenizer (tensorflow-text): %d texts, %d differ from FullTokenizer "
        "(%.0f texts/s incl. the reference)" % (len(texts), bad, len(texts) / seconds))
  for text in examples:
    print("   e.g. %r" % text)
  return bad
