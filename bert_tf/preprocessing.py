"""`Preprocessor`: text -> the encoder's three id sequences, one recipe in one place.

It owns the tokenizer (vocab + casing), optional web-text cleaning (text_cleaning),
`max_seq_length`, the truncation of long
single texts (head, tail, head+tail: Sun et al. 2019 keep the first 128 and the
last tokens) and Google's packing of one or two segments:

    (a) For sequence pairs:
     tokens:   [CLS] is this jack ##son ##ville ? [SEP] no it is not . [SEP]
     type_ids: 0     0  0    0    0     0       0 0     1  1  1  1   1 1
    (b) For single sequences:
     tokens:   [CLS] the dog is hairy . [SEP]
     type_ids: 0     0   0   0  0     0 0

Features, the predictor and the exports all use it; its settings are saved in
the run directory (model_info.json) and `in_graph()` builds the same recipe as
TensorFlow ops for string-in serving.
"""

import contextlib
import dataclasses
import gc
import hashlib
import multiprocessing
import os
import signal
from typing import Optional

import numpy as np
from absl import logging

from bert_tf import tokenization
from bert_tf.errors import UsageError, interrupts_deferred
from bert_tf.text_cleaning import clean_text
from bert_tf.progress import progress_bar

TRUNCATIONS = ("head", "tail", "head_tail")
# Forking pays off only for big inputs (measured: SST-2's 3.4M characters run
# faster in one process, IMDB's 33M nearly 2x faster in two).
_PARALLEL_MIN_CHARS = 10_000_000
# The settings that make two preprocessors produce the same ids (with the vocab).
SETTINGS = ("do_lower_case", "max_seq_length", "truncation", "head_tokens", "clean_text",
            "doc_stride", "max_windows", "window_pooling")
POOLINGS = ("mean", "max")
WINDOW_SETTINGS = ("doc_stride", "max_windows", "window_pooling")


def truncate_seq_pair(tokens_a, tokens_b, max_length):
  """Truncates a sequence pair in place to the maximum length (longest first).

  Trimming the longer one a token at a time keeps more of the short sequence,
  which is likely to carry more information per token (Google's comment).
  """
  while len(tokens_a) + len(tokens_b) > max_length:
    if len(tokens_a) > len(tokens_b):
      tokens_a.pop()
    else:
      tokens_b.pop()


def truncate_single(tokens, max_length, strategy="head", head_tokens=128):
  """Keeps `max_length` tokens of a single text: its head, tail, or head + tail."""
  if len(tokens) <= max_length:
    return tokens
  if strategy == "head":
    return tokens[:max_length]
  if strategy == "tail":
    return tokens[len(tokens) - max_length:]
  if strategy == "head_tail":
    head = min(head_tokens, max_length)
    tail = max_length - head
    return tokens[:head] + (tokens[len(tokens) - tail:] if tail else [])
  raise UsageError("--truncation=%s is not one of %s." % (strategy, ", ".join(TRUNCATIONS)))


@dataclasses.dataclass
class EncodedTexts:
  """[N, max_seq_length] int32 id arrays of N examples (padding examples: all zeros)."""
  input_ids: np.ndarray
  input_mask: np.ndarray
  segment_ids: np.ndarray
  is_real_example: np.ndarray  # [N] int64


@dataclasses.dataclass
class Preprocessor:
  """Tokenizer + max_seq_length + truncation + packing."""
  tokenizer: tokenization.FullTokenizer
  max_seq_length: int = 128
  truncation: str = "head"
  head_tokens: int = 128
  vocab_file: Optional[str] = None
  clean_text: bool = False    # text_cleaning's rules for web text, before tokenization
  # Long texts as overlapping windows (doc_stride > 0): each text becomes max_windows rows
  # (unused ones empty), the model pools the windows' logits (window_pooling).
  doc_stride: int = 0
  max_windows: int = 8
  window_pooling: str = "mean"

  def __post_init__(self):
    if not isinstance(self.max_seq_length, int) or not 3 <= self.max_seq_length <= 512:
      raise UsageError("--max_seq_length must be between 3 and 512, got %r." %
                       (self.max_seq_length,))
    if self.truncation not in TRUNCATIONS:
      raise UsageError("--truncation must be one of %s, got %r." % (", ".join(TRUNCATIONS),
                                                                    self.truncation))
    if self.head_tokens < 0:
      raise UsageError("--head_tokens must be >= 0, got %d." % self.head_tokens)
    if not 0 <= self.doc_stride <= self.max_seq_length - 2:
      raise UsageError("--doc_stride must be between 0 (no windows) and max_seq_length - 2 = %d, "
                       "got %r." % (self.max_seq_length - 2, self.doc_stride))
    if self.max_windows < 1 or self.window_pooling not in POOLINGS:
      raise UsageError("--max_windows must be >= 1 and --window_pooling one of %s." %
                       ", ".join(POOLINGS))
    vocab = self.tokenizer.vocab
    if vocab.get("[CLS]") is None or vocab.get("[SEP]") is None:
      raise UsageError("The vocabulary %s has no [CLS] or [SEP] token; is it a BERT vocab.txt?"
                       % (self.vocab_file or ""))

  @classmethod
  def from_vocab(cls, vocab_file, do_lower_case=True, max_seq_length=128, truncation="head",
                 head_tokens=128, clean_text=False, doc_stride=0, max_windows=8,
                 window_pooling="mean"):
    tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case)
    return cls(tokenizer, max_seq_length, truncation, head_tokens, vocab_file, clean_text,
               doc_stride, max_windows, window_pooling)

  def warn_about_texts(self, examples, source, sample=2000):
    """What the recipe does to a sample of the training texts, said when it loses much:
    [UNK] tokens (a vocabulary that does not cover the language), texts cut at
    max_seq_length, or past what the windows cover; and a --truncation that pairs and
    windows do not use."""
    examples = [e for e in examples[:sample] if getattr(e, "text_a", None)]
    if not examples:
      return
    ids = [self.tokenizer.tokenize_to_ids(e.text_a) for e in examples]
    ids_b = [self.tokenizer.tokenize_to_ids(e.text_b) if e.text_b else [] for e in examples]
    self._warn_unknown(examples, ids, source)
    pairs = any(ids_b)
    if self.truncation != "head" and (pairs or self.doc_stride):
      logging.warning("--truncation=%s is not used: %s keep Google's own cut.", self.truncation,
                      "sentence pairs" if pairs else "windows (--doc_stride)")
    if self.doc_stride:
      room = (self.max_windows - 1) * self.doc_stride + self.max_seq_length - 2
      how = ("lose their end past %d tokens (%d windows of %d every %d): raise --max_windows" %
             (room, self.max_windows, self.max_seq_length - 2, self.doc_stride))
    else:
      room = self.max_seq_length - (3 if pairs else 2)
      how = ("are cut to --max_seq_length=%d (--truncation=%s%s)" % (
          self.max_seq_length, self.truncation, "" if pairs else "; --doc_stride reads long "
          "texts whole, as windows"))
    cut = sum(len(a) + len(b) > room for a, b in zip(ids, ids_b))
    if cut >= 0.1 * len(examples):
      logging.warning("%s: %d of %d texts %s.", source, cut, len(examples), how)
    elif cut:
      logging.info("%s: %d of %d texts %s.", source, cut, len(examples), how)

  def _warn_unknown(self, examples, ids, source, share=0.1):
    """Texts the vocabulary cannot read (Chinese for an English model): many [UNK] ids.
    English for an English model has about 0.1%; emoji-heavy posts a few percent."""
    unk = self.tokenizer.vocab.get("[UNK]")
    if unk is None:
      return
    total = sum(map(len, ids))
    unknown = sum(row.count(unk) for row in ids)
    if not total or unknown < share * total:
      return
    example = next(e.text_a for e, row in zip(examples, ids) if unk in row)
    logging.warning("%s: %.0f%% of the tokens of %d texts are [UNK] to %s (e.g. %r): the model "
                    "cannot read them; does its vocabulary cover the texts' language (a Chinese "
                    "or multilingual model)?", source, 100.0 * unknown / total, len(examples),
                    self.vocab_file or "the vocabulary", example[:60])

  @property
  def window_records(self):
    """Window records per text in the TFRecords (some empty), or 0: texts are not windows."""
    return self.max_windows if self.doc_stride else 0

  @property
  def rows_per_example(self):
    """Rows of ids per text: its windows, or 1."""
    return self.window_records or 1

  @property
  def pooling(self):
    """How the model pools a text's window logits, or None: texts are not windows."""
    return self.window_pooling if self.doc_stride else None

  @property
  def do_lower_case(self):
    return self.tokenizer.do_lower_case

  def vocab_fingerprint(self):
    """A hash of the vocabulary (tokens in id order): part of what the ids depend on."""
    return hashlib.sha256("\n".join(self.tokenizer.vocab).encode()).hexdigest()

  def settings(self):
    """What model_info.json stores (the vocab travels as vocab.txt beside it). Window
    settings only when windows are on: runs and caches of earlier versions stay the same."""
    names = SETTINGS if self.doc_stride else [n for n in SETTINGS if n not in WINDOW_SETTINGS]
    return {name: getattr(self, name) for name in names}

  @property
  def largest_id(self):
    """The vocab's largest token id: the encoder must have a word embedding for it."""
    return max(self.tokenizer.vocab.values())

  def check_model(self, bert_config, source="bert_config.json"):
    """The one check of the recipe against the encoder it feeds."""
    if self.max_seq_length > bert_config.max_position_embeddings:
      raise UsageError("Cannot use --max_seq_length=%d because the BERT model was only trained "
                       "up to sequence length %d (%s)." % (
                           self.max_seq_length, bert_config.max_position_embeddings, source))
    largest = self.largest_id
    if largest >= bert_config.vocab_size:
      raise UsageError("The vocab %s has ids up to %d but %s has vocab_size %d: the vocab and "
                       "the model do not belong together." % (
                           self.vocab_file or "", largest, source, bert_config.vocab_size))

  # ---- packing ----
  def pack(self, ids_a, ids_b=None):
    """[CLS] A [SEP] (B [SEP]) with truncation; returns (input_ids, start of segment B)."""
    vocab = self.tokenizer.vocab
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    # Like Google's, a text_b that is empty or tokenizes to nothing makes a single
    # sequence (no second [SEP]).
    if ids_b:
      ids_a, ids_b = list(ids_a), list(ids_b)
      truncate_seq_pair(ids_a, ids_b, self.max_seq_length - 3)  # [CLS], [SEP], [SEP]
      return [cls_id] + ids_a + [sep_id] + ids_b + [sep_id], len(ids_a) + 2
    ids_a = truncate_single(ids_a, self.max_seq_length - 2, self.truncation, self.head_tokens)
    return [cls_id] + ids_a + [sep_id], len(ids_a) + 2

  def windows(self, ids):
    """A long single text's token ids as [CLS] window [SEP] rows: windows of
    max_seq_length - 2 tokens starting every doc_stride tokens (the last one ends with
    the text), at most max_windows of them, the first ones."""
    size = self.max_seq_length - 2
    starts = list(range(0, max(len(ids) - size, 0) + 1, self.doc_stride))
    if starts[-1] + size < len(ids):
      starts.append(len(ids) - size)
    return [self.pack(ids[start:start + size]) for start in starts[:self.max_windows]]

  def encode(self, examples, num_workers=None, show_progress=True):
    """Examples (with text_a/text_b; others are padding) -> EncodedTexts, with
    rows_per_example rows per example.

    Large lists are split over `num_workers` forked processes (default: all cores).
    """
    n = len(examples) * self.rows_per_example
    num_workers = num_workers if num_workers is not None else (os.cpu_count() or 1)
    parallel = (num_workers > 1 and "fork" in multiprocessing.get_all_start_methods() and
                _estimated_chars(examples) >= _PARALLEL_MIN_CHARS)
    args = (self, examples, show_progress and not parallel)
    if parallel:
      _WORKER["args"] = args  # forked workers read it copy-on-write: no pickling
      try:
        bounds = np.linspace(0, len(examples), num_workers + 1).astype(int)
        with contextlib.ExitStack() as stack:
          # Workers ignore Ctrl-C: the parent stops them, and says so in one line. Ctrl-C
          # while they fork waits for it to end (Python would drop it there).
          with interrupts_deferred():
            pool = stack.enter_context(multiprocessing.get_context("fork").Pool(
                num_workers, initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN)))
          parts = pool.starmap(_pack_range, zip(bounds[:-1], bounds[1:]))
      finally:
        _WORKER.clear()
      flat, lengths, b_starts = (np.concatenate(p) for p in zip(*parts))
    else:  # in this process: no shared state, so concurrent callers are safe
      flat, lengths, b_starts = _pack_range(0, len(examples), args)
    positions = np.arange(self.max_seq_length, dtype=np.int32)[None, :]
    input_mask = positions < lengths[:, None]
    input_ids = np.zeros((n, self.max_seq_length), np.int32)
    input_ids[input_mask] = flat  # row-major fill: each row's ids, then padding
    segment_ids = (input_mask & (positions >= b_starts[:, None])).astype(np.int32)
    # A real example's first row holds at least [CLS] [SEP]; a padding example's are empty.
    first_rows = lengths.reshape(len(examples), self.rows_per_example)[:, 0]
    is_real = np.repeat((first_rows > 0).astype(np.int64), self.rows_per_example)
    return EncodedTexts(input_ids, input_mask.astype(np.int32), segment_ids, is_real)

  def in_graph(self, pad_to_longest=False):
    """The same recipe as TensorFlow ops (tensorflow-text), for string-in serving."""
    from bert_tf.text_graph import BertTextPreprocessor  # pylint: disable=g-import-not-at-top
    return BertTextPreprocessor(self.vocab_file, self.do_lower_case, self.max_seq_length,
                                truncation=self.truncation, head_tokens=self.head_tokens,
                                pad_to_longest=pad_to_longest, clean_text=self.clean_text)


def _is_real(example):
  return getattr(example, "text_a", None) is not None


def _estimated_chars(examples):
  """The examples' characters, estimated from every (n // 1000)-th one (to decide on forking)."""
  step = max(len(examples) // 1000, 1)
  return step * sum(len(e.text_a) + len(e.text_b or "") for e in examples[::step]
                    if _is_real(e))


# Set before forking worker processes, which read it copy-on-write: no pickling.
_WORKER = {}


def _pack_range(start, end, args=None):
  """Packs examples[start:end] into flat ids plus per-row length and segment-B start.

  The cyclic garbage collector is paused meanwhile: the loop allocates millions of
  small lists that hold no cycles, and each full collection would walk the whole
  TensorFlow heap (measured: it made this loop up to 2x slower, and erratic).
  """
  was_enabled = gc.isenabled()
  gc.disable()
  try:
    return _pack_range_gc_off(start, end, args or _WORKER["args"])
  finally:
    if was_enabled:
      gc.enable()


def _pack_range_gc_off(start, end, args):
  preprocessor, examples, show_progress = args
  if not preprocessor.doc_stride:
    return _pack_range_in_numpy(start, end, args)
  # Windows of long texts: a chunk of texts tokenized in one batch call, then a handful
  # of rows per text, packed one text at a time.
  flat, lengths, b_starts = [], [], []
  progress = progress_bar(end - start, "example") if show_progress else None
  rows_per_example = preprocessor.rows_per_example
  for chunk in range(start, end, _WINDOW_CHUNK_TEXTS):
    part = examples[chunk:min(chunk + _WINDOW_CHUNK_TEXTS, end)]
    texts = [e.text_a if _is_real(e) else "" for e in part]
    if preprocessor.clean_text:
      texts = [clean_text(text) for text in texts]
    ids, counts = preprocessor.tokenizer.tokenize_many_to_ids(texts)
    for example, text_ids in zip(part, np.split(ids, np.cumsum(counts)[:-1])):
      rows = preprocessor.windows(text_ids.tolist()) if _is_real(example) else []
      for row_ids, b_start in rows:
        flat.extend(row_ids)
        lengths.append(len(row_ids))
        b_starts.append(b_start)
      lengths.extend([0] * (rows_per_example - len(rows)))  # empty rows: padding
      b_starts.extend([0] * (rows_per_example - len(rows)))
    if progress is not None:
      progress.update(chunk + len(part) - start, finalize=chunk + len(part) >= end)
  return (np.array(flat, np.int32), np.array(lengths, np.int32), np.array(b_starts, np.int32))


# Texts per batch tokenizer call on the windows path (long texts: a few MB of text).
_WINDOW_CHUNK_TEXTS = 2000


# Row positions (examples x max_seq_length) per numpy pass: bounds the temporary arrays
# (measured: 86 bytes per position, 172 MB), and the progress bar moves between passes.
_NUMPY_CHUNK_POSITIONS = 2_000_000


def _pack_range_in_numpy(start, end, args):
  """`_pack_range` without windows, in chunks: the tokenizer's batch call, then Google's
  truncation and packing as array arithmetic (the same ids; bench/featurize.py on SST-2
  train, with the per-chunk memo: 23-25x Google's Python path)."""
  preprocessor, examples, show_progress = args
  progress = progress_bar(end - start, "example") if show_progress else None
  size = max(_NUMPY_CHUNK_POSITIONS // preprocessor.max_seq_length, 1)
  parts = []
  for chunk in range(start, end, size):
    parts.append(_pack_in_numpy(preprocessor, examples[chunk:min(chunk + size, end)]))
    if progress is not None:
      progress.update(min(chunk + size, end) - start, finalize=chunk + size >= end)
  if not parts:
    return tuple(np.zeros(0, np.int32) for _ in range(3))
  return tuple(np.concatenate(p).astype(np.int32) for p in zip(*parts))


def _kept_lengths(preprocessor, len_a, len_b):
  """(head of A, tail of A, head of B) kept per row: Google's truncate_seq_pair for pairs
  (longest first, ties trim B, in closed form), truncate_single's strategy otherwise.

  Pairs over m tokens: if the shorter side has at most m // 2, it stays whole and the
  longer keeps the rest; otherwise both are trimmed down to equal lengths, and from then
  on a tie trims B first, so A ends with m - m // 2 and B with m // 2."""
  pair = len_b > 0
  m = preprocessor.max_seq_length - 3
  over = pair & (len_a + len_b > m)
  shorter_fits = np.minimum(len_a, len_b) <= m // 2
  a_shorter = len_a <= len_b
  pair_a = np.where(over, np.where(shorter_fits, np.where(a_shorter, len_a, m - len_b),
                                   m - m // 2), len_a)
  pair_b = np.where(over, np.where(shorter_fits, np.where(a_shorter, m - len_a, len_b),
                                   m // 2), len_b)
  n = preprocessor.max_seq_length - 2
  long = len_a > n
  head = {"head": n, "tail": 0, "head_tail": min(preprocessor.head_tokens, n)}[
      preprocessor.truncation]
  single_head = np.where(long, head, len_a)
  single_tail = np.where(long, n - head, 0)
  return (np.where(pair, pair_a, single_head), np.where(pair, 0, single_tail),
          np.where(pair, pair_b, 0))


def _pack_in_numpy(preprocessor, examples):
  """(flat ids, row lengths, segment-B starts) of `examples`, as `_pack_range` makes them."""
  texts_a = [getattr(e, "text_a", None) for e in examples]  # None: a padding example
  real = np.array([text is not None for text in texts_a], bool)
  texts_a = ["" if text is None else text for text in texts_a]
  texts_b = [getattr(e, "text_b", None) or "" for e in examples]
  if preprocessor.clean_text:
    texts_a, texts_b = [[clean_text(t) if t else t for t in texts] for texts in (texts_a, texts_b)]
  tokenize = preprocessor.tokenizer.tokenize_many_to_ids
  ids_a, len_a = tokenize(texts_a)
  ids_b, len_b = tokenize(texts_b) if any(texts_b) else (np.zeros(0, np.int32),
                                                        np.zeros(len(examples), np.int64))
  a_from, b_from = np.cumsum(len_a) - len_a, np.cumsum(len_b) - len_b + len(ids_a)
  # int32 from here on (a chunk's token counts fit): half the memory of int64.
  len_a, len_b, a_from, b_from = (x.astype(np.int32) for x in (len_a, len_b, a_from, b_from))
  head, tail, keep_b = _kept_lengths(preprocessor, len_a, len_b)
  pair = len_b > 0
  lengths = np.where(real, 2 + head + tail + np.where(pair, keep_b + 1, 0), 0).astype(np.int32)
  b_starts = np.where(real, head + tail + 2, 0)
  # One output slot per kept token: its row, and its position q in that row.
  row = np.repeat(np.arange(len(examples), dtype=np.int32), lengths)
  q = (np.arange(int(lengths.sum()), dtype=np.int32) -
       np.repeat(np.cumsum(lengths, dtype=np.int32) - lengths, lengths))
  head, tail, keep_b, a_from, b_from = (x[row] for x in (head, tail, keep_b, a_from, b_from))
  vocab = preprocessor.tokenizer.vocab
  pool = np.concatenate([ids_a, ids_b, [vocab["[CLS]"], vocab["[SEP]"]]]).astype(np.int32)
  cls_at, sep_at = len(pool) - 2, len(pool) - 1
  a_end = head + tail
  source = np.select(
      [q == 0, q <= head, q <= a_end, q == a_end + 1, q <= a_end + 1 + keep_b],
      [cls_at, a_from + q - 1, a_from + len_a[row] - tail + (q - 1 - head), sep_at,
       b_from + q - a_end - 2], sep_at)
  return pool[source], lengths, b_starts
