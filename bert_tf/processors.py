"""Reading labelled text into `InputExample`s: GLUE layouts and users' own files.

Two kinds of processor share one interface (`DataProcessor`):

  * GLUE/XNLI processors with Google's exact column handling (run_classifier.py).
  * `FileProcessor` for users' files: CSV, TSV, JSON array, JSON Lines, or a folder
    per class; columns by name or index; single-label, multi-label (several 0/1
    columns or one delimited column) or regression; a seeded stratified dev/test
    split when a set has no file of its own.

Every reader reports bad input as a UsageError naming the file and line.
"""

import collections
import csv
import dataclasses
import io
import json
import math
import os
import random
import re
import unicodedata
from typing import List, Optional, Sequence, Union

from absl import logging

from bert_tf.errors import UsageError

# Reads are bounded: one field, line or file past these is not a text to classify
# (a multi-GB line, /dev/zero), and stops with a clear error instead of eating memory.
MAX_FIELD_CHARS = 2_000_000
MAX_JSON_ARRAY_BYTES = 2 * 2 ** 30
csv.field_size_limit(MAX_FIELD_CHARS)

Label = Union[None, str, float, List[str]]


@dataclasses.dataclass
class InputExample:
  """A single example: text_a, optional text_b, and a label.

  label is a string (classification), a list of strings (multi-label), a float
  (regression), or None (unlabelled test data).
  """
  guid: str
  text_a: str
  text_b: Optional[str] = None
  label: Label = None
  where: Optional[str] = None  # "file line N" it came from, for error messages


class PaddingInputExample:
  """A fake example padding the last eval/predict batch to a full batch on TPU.

  Its features are all zeros with is_real_example=0, so metrics and
  test_results.tsv ignore it.
  """


# ============================================================================
# Low-level readers that know line numbers
# ============================================================================
def _open_text(path, encoding, newline=""):
  if not os.path.exists(path):
    raise UsageError("Data file %s does not exist." % path)
  if not os.path.isfile(path):
    raise UsageError("Data file %s is not a regular file (a device, pipe or folder?): pass a "
                     "CSV/TSV/JSON file, or --file_format=folder for a folder per class." % path)
  _refuse_binary(path, encoding)
  try:
    return open(path, "r", encoding=encoding, newline=newline)
  except LookupError:
    raise UsageError("--encoding=%s is not a known text encoding." % encoding) from None
  except OSError as e:
    raise UsageError("Data file %s cannot be read: %s." % (path, e.strerror)) from None


_COMPRESSED = ((rb"\x1f\x8b", "gzip", "gunzip"), (rb"BZh[1-9]1AY&SY", "bzip2", "bunzip2"),
               (rb"\xfd7zXZ\x00", "xz", "unxz"), (rb"\x28\xb5\x2f\xfd", "zstd", "unzstd"))


def _refuse_binary(path, encoding):
  """A spreadsheet or other binary file is not read as text (it would be garbage rows)."""
  with open(path, "rb") as f:
    head = f.read(4096)
  if head.startswith(b"PK\x03\x04"):
    raise UsageError("Data file %s is a zip archive (an Excel .xlsx?): save it as CSV, TSV or "
                     "JSON first." % path)
  for magic, kind, tool in _COMPRESSED:
    if re.match(magic, head):
      raise UsageError("Data file %s is %s-compressed: decompress it first (%s)." % (
          path, kind, tool))
  if b"\x00" in head and "16" not in encoding and "32" not in encoding:
    name = _utf16_name(head)
    raise UsageError("Data file %s holds NUL bytes: is it %s (pass --encoding=%s) or a binary "
                     "file?" % (path, name.upper()[:6], name))


def _utf16_name(head):
  """The UTF-16 (or UTF-32) encoding that reads these first bytes: with a byte-order mark,
  utf-16 or utf-32; without one, the byte order whose high bytes are the NULs of ASCII text."""
  if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
    return "utf-32"
  if head.startswith((b"\xff\xfe", b"\xfe\xff")):
    return "utf-16"
  return "utf-16-le" if head[1::2].count(0) >= head[0::2].count(0) else "utf-16-be"


def _bounded_lines(f, path):
  """Yields (line_number, line) without ever holding a line past MAX_FIELD_CHARS."""
  number = 0
  while True:
    line = f.readline(MAX_FIELD_CHARS + 1)
    if not line:
      return
    number += 1
    if len(line) > MAX_FIELD_CHARS:
      raise UsageError("%s line %d is longer than %d characters: is it really one text per "
                       "line?" % (path, number, MAX_FIELD_CHARS))
    yield number, line


def _decode_error(path, error, encoding):
  """A UsageError naming the line of an undecodable byte (the error's offset is within the
  reader's chunk, not the file: the file is scanned again, line by line)."""
  if not isinstance(error, UnicodeDecodeError):  # utf-16 without a byte-order mark
    return UsageError("%s cannot be read as %s (%s): pass the encoding with its byte order, "
                      "e.g. --encoding=utf-16-le." % (path, encoding, error))
  line, earlier_non_ascii = 1, None
  with open(path, "rb") as f:
    for line, raw in enumerate(f, start=1):
      try:
        raw.decode(encoding)
      except (UnicodeDecodeError, LookupError):
        break
      if earlier_non_ascii is None and not raw.isascii():
        earlier_non_ascii = line
  if earlier_non_ascii is not None:  # another encoding would garble the lines that decoded
    return UsageError("%s line %d: bytes are not valid %s (%s), yet line %d holds valid non-ASCII "
                      "%s: the file mixes encodings; save it again in one encoding (UTF-8)." % (
                          path, line, encoding, error.reason, earlier_non_ascii, encoding))
  return UsageError("%s line %d: bytes are not valid %s (%s); pass --encoding %s (or the "
                    "file's encoding)." % (path, line, encoding, error.reason,
                                           _one_byte_encoding_of(path)))


def _one_byte_encoding_of(path):
  """cp1252 (Windows' Western encoding: its curly quotes and dashes are bytes 0x80-0x9f, which
  latin-1 reads as invisible control characters) when it decodes the file, else latin-1."""
  try:
    with open(path, "rb") as f:
      f.read(1 << 26).decode("cp1252")  # one-byte: any 64 MiB prefix decodes alone
    return "cp1252"
  except UnicodeDecodeError:
    return "latin-1"


def read_text_lines(path, encoding="utf-8", keep_blank=False):
  """The non-empty lines of a plain text file (one text per line), stripped (keep_blank:
  every line, without its line break), with the guards of the data files: binary files,
  over-long lines, undecodable bytes. Lines end at \n (\r\n too); a bare \r stays inside
  its text, so one line is one text, as `wc -l` counts them."""
  _refuse_old_mac_line_ends(path)
  with _open_text(path, encoding, newline="\n") as f:
    try:
      if keep_blank:
        return [line.rstrip("\r\n") for _, line in _bounded_lines(f, path)]
      return [line.strip() for _, line in _bounded_lines(f, path) if line.strip()]
    except UnicodeError as e:
      raise _decode_error(path, e, encoding) from None


def _carriage_return_hint(path):
  """Why a row came up short in a file whose lines end in \n: a \r alone inside a text
  (pasted from an old Mac or a web form), which ends a row as a line end would."""
  with open(path, "rb") as f:
    data = f.read(1 << 26)
  if b"\n" in data and re.search(rb"\r(?!\n)", data):
    return ("; the file's lines end in \\n, yet a text holds a carriage return (\\r) alone, "
            "which ends a row: remove it from the text, or quote the text")
  return ""


def _refuse_old_mac_line_ends(path):
  """A file whose lines end in \r alone would be one text: say so instead."""
  if os.path.isfile(path):
    with open(path, "rb") as f:
      head = f.read(1 << 20)
    if b"\r" in head and b"\n" not in head:
      raise UsageError("%s ends its lines with \\r alone (old Mac line ends): convert them to "
                       "\\n (e.g. tr '\\r' '\\n' < old > new)." % path)


def read_delimited(path, delimiter, encoding="utf-8", quotechar='"'):
  """Yields (line_number, fields) of a CSV/TSV file; quotechar=None disables quoting."""
  try:
    with _open_text(path, encoding) as f:
      lines = _without_byte_order_marks(f)
      if quotechar is None:
        reader = csv.reader(lines, delimiter=delimiter, quoting=csv.QUOTE_NONE)
      else:
        # strict: an unclosed quote is an error, not the rest of the file as one text.
        reader = csv.reader(lines, delimiter=delimiter, quotechar=quotechar, strict=True)
      start = 1
      try:
        for fields in reader:
          yield start, fields
          start = reader.line_num + 1
      except csv.Error as e:
        raise UsageError("%s line %d: malformed CSV/TSV (%s): check the quoting of that row." %
                         (path, start, e)) from None
  except UnicodeError as e:
    raise _decode_error(path, e, encoding) from None


# What BERT's tokenizer drops or reads as space: control and format characters (zero-width
# spaces, BOMs, soft hyphens) and separators; combining marks with nothing to combine with
# (dropped by uncased models, [UNK] for cased ones) count as nothing too.
_BLANK_CATEGORIES = frozenset(("Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me"))


def is_blank(text):
  """Whether `text` holds nothing to read: only whitespace, control, zero-width or
  combining characters (the first readable character ends the scan)."""
  return all(c == "\ufffd" or unicodedata.category(c) in _BLANK_CATEGORIES for c in text)


_QUOTED_FIELD = re.compile(r'"(?:[^"]|"")*"')


def _tsv_is_quoted(path, encoding, sample_chars=1 << 20):
  """Whether a TSV file quotes its fields the CSV way: its header's names are in quotes,
  or a field is quoted with a doubled quote inside ("say ""hi"" now"), or quoting alone makes
  its first rows (a quoted text over two lines) all as wide as the header."""
  try:
    with _open_text(path, encoding) as f:
      sample = f.read(sample_chars)
  except UnicodeError:
    return False  # the reader names the bad bytes
  if '"' not in sample:
    return False
  lines = [line.rstrip("\r") for line in sample.split("\n")]  # as csv splits rows
  lines = lines[:-1] if len(sample) == sample_chars else lines  # the last may be cut
  raw = [line.split("\t") for line in lines if line]
  if not raw:
    return False
  if all(_QUOTED_FIELD.fullmatch(name) for name in raw[0]):
    return True
  if any(_QUOTED_FIELD.fullmatch(f) and '""' in f[1:-1] for row in raw for f in row):
    return True
  try:
    quoted = [r for r in csv.reader(io.StringIO("\n".join(lines)), delimiter="\t") if r]
  except csv.Error:
    return False
  widths = lambda rows: {len(r) for r in rows}
  return len(widths(raw)) > 1 and widths(quoted) == {len(raw[0])}


def _without_byte_order_marks(lines):
  """Lines without a leading byte-order mark: the file's own (a headerless file's first label
  would keep it, and a quoted header would read '"text"'), and those of files joined with cat
  (the repeated header would not match)."""
  for line in lines:
    yield line[1:] if line.startswith("\ufeff") else line


def read_tsv(path, encoding="utf-8"):
  """Google's _read_tsv: tab-separated, no quoting (read_delimited drops MRPC's BOM)."""
  return list(read_delimited(path, "\t", encoding=encoding, quotechar=None))


def read_json_records(path, encoding="utf-8"):
  """Yields (line_number, record) of a JSON array file or a JSON Lines file."""
  try:
    with _open_text(path, encoding) as f:
      start = f.read(4096).lstrip("\ufeff \t\r\n")
      f.seek(0)
      if start.startswith("["):
        yield from _json_array(f, path)
        return
      for number, line in _bounded_lines(f, path):
        line = line.lstrip("\ufeff")  # the file's own mark, or that of a file joined on
        if not line.strip():
          continue
        try:
          yield number, json.loads(line, object_pairs_hook=_JsonObject)
        except json.JSONDecodeError as e:
          if number == 1 and line.strip() == "{":  # one object over many lines
            yield number, _whole_json_object(f, path)
            return
          raise UsageError("%s line %d: invalid JSON Lines record: %s" % (path, number, e.msg)
                           ) from None
  except UnicodeError as e:
    raise _decode_error(path, e, encoding) from None


def _whole_json_object(f, path):
  """A file that is one (pretty-printed) JSON object: read whole, as one record."""
  f.seek(0)
  try:
    return json.loads(f.read(), object_pairs_hook=_JsonObject)
  except json.JSONDecodeError as e:
    raise UsageError("%s line %d: invalid JSON: %s" % (path, e.lineno, e.msg)) from None


def _refuse_wrapped_records(path, record, text_column):
  """{"data": [{"text": ...}, ...]}: the records are in a field, not the file's top level."""
  for key, value in record.items():
    if isinstance(value, list) and any(isinstance(r, dict) and text_column in r for r in value):
      raise UsageError("%s is one JSON object whose field %r holds the records: save that list "
                       "as the file (a JSON array), or one record per line (JSON Lines)." % (
                           path, key))


class _JsonObject(dict):
  """A JSON object that remembers a key given twice (`repeated`): json keeps the last
  value silently; the reader refuses such a record."""

  def __init__(self, pairs):
    super().__init__(pairs)
    seen = set()
    self.repeated = next((k for k, _ in pairs if k in seen or seen.add(k)), None)


def _json_array(f, path):
  if os.path.getsize(path) > MAX_JSON_ARRAY_BYTES:
    raise UsageError("%s is a JSON array over %d GiB, read whole; write it as JSON Lines (one "
                     "object per line) instead." % (path, MAX_JSON_ARRAY_BYTES // 2 ** 30))
  text = f.read().lstrip("\ufeff")
  try:
    records = json.loads(text, object_pairs_hook=_JsonObject)
  except json.JSONDecodeError as e:
    raise UsageError("%s line %d: invalid JSON: %s" % (path, e.lineno, e.msg)) from None
  if not isinstance(records, list):
    raise UsageError("%s: expected a JSON array of objects or JSON Lines." % path)
  # Line numbers of array items are not kept by json; count from the record.
  for index, record in enumerate(records):
    yield index + 1, record


# ============================================================================
# The processor interface and Google's GLUE processors
# ============================================================================
class DataProcessor:
  """Base class for data converters for sequence classification data sets."""

  # The kind of task the data describes: a tasks.KINDS name.
  task_kind = "classification"
  # The metric that picks the best checkpoint, when not the task's default.
  main_metric = None
  # Whether examples have a second text (sentence-pair tasks).
  has_text_b = False

  def get_train_examples(self, data_dir):
    raise NotImplementedError()

  def get_dev_examples(self, data_dir):
    raise NotImplementedError()

  def get_test_examples(self, data_dir):
    raise NotImplementedError()

  def get_labels(self):
    """The label list; for regression an empty list."""
    raise NotImplementedError()

  def file_of(self, set_name, data_dir=None):
    """The file a set is read from, or None where that is not one known file."""
    del set_name, data_dir
    return None

  def split_fractions(self):
    """(set name, fraction) of the sets split off train when they have no file."""
    return ()

  def labels_indexed_by_ids(self):
    """The labels file's names when integer labels index into it, else None."""
    return None

  def split_fraction(self, set_name, data_dir=None):
    """The fraction of train split off as `set_name`: 0 when the set has a file of its own
    (or the split is off), None where sets are never split (Google's layouts)."""
    fraction = dict(self.split_fractions()).get(set_name)
    return 0 if fraction and self.file_of(set_name, data_dir) else fraction


def _in_data_dir(data_dir, *names):
  """data_dir/names: where a task in Google's layout (GLUE, XNLI, TREC) reads a set."""
  if not data_dir:
    raise UsageError("This task reads %s from --data_dir: pass --data_dir." %
                     os.path.join(*names))
  return os.path.join(data_dir, *names)


def _field(path, number, line, index):
  try:
    return line[index]
  except IndexError:
    raise UsageError("%s line %d: expected at least %d tab-separated fields, found %d." %
                     (path, number, (index if index >= 0 else -index - 1) + 1, len(line))) from None


class _GlueProcessor(DataProcessor):
  """Shared GLUE reading: a header row, then fields picked by index."""
  train_file, dev_file, test_file = "train.tsv", "dev.tsv", "test.tsv"
  labels: Sequence[str] = ("0", "1")
  has_header = True
  # Column indexes (Google's): text_a, text_b (None for single sentences), label.
  columns = (0, None, 1)
  test_columns = (1, None)

  def get_labels(self):
    return list(self.labels)

  @property
  def has_text_b(self):
    return self.columns[1] is not None

  def get_train_examples(self, data_dir):
    return self._create_examples(_in_data_dir(data_dir, self.train_file), "train")

  def get_dev_examples(self, data_dir):
    return self._create_examples(_in_data_dir(data_dir, self.dev_file), "dev")

  def get_test_examples(self, data_dir):
    return self._create_examples(_in_data_dir(data_dir, self.test_file), "test")

  def file_of(self, set_name, data_dir=None):
    return os.path.join(data_dir, getattr(self, set_name + "_file")) if data_dir else None

  def _label(self, value, where):  # pylint: disable=unused-argument
    return value

  def _create_examples(self, path, set_type):
    lines = read_tsv(path)
    is_test = set_type == "test"
    num_fields = len(lines[0][1]) if lines else 0
    a_col, b_col = self.test_columns if is_test else self.columns[:2]
    if lines and (self.has_header or is_test):
      _check_text_headers(path, set_type, lines[0][1], (a_col, b_col))
      lines = lines[1:]
    examples = []
    for number, line in lines:
      if len(line) != num_fields:  # a tab in a text, or one lost, would shift fields silently
        raise UsageError("%s line %d: %d tab-separated fields, %s the %d of line 1: %s." % (
            path, number, len(line), "more than" if len(line) > num_fields else "fewer than",
            num_fields, "remove the tab inside a text" if len(line) > num_fields else
            "a field is missing; GLUE files have every field on every row"))
      guid = "%s-%d" % (set_type, len(examples))
      text_a = _field(path, number, line, a_col)
      text_b = None if b_col is None else _field(path, number, line, b_col)
      label = None
      if not is_test:
        label = self._label(_field(path, number, line, self.columns[2]),
                            "%s line %d" % (path, number))
        if self.labels and label not in self.labels:
          raise UsageError("%s line %d: label %r is not one of %s." %
                           (path, number, label, ", ".join(self.labels)))
      examples.append(InputExample(guid, text_a, text_b, label, "%s line %d" % (path, number)))
    return examples


# GLUE headers' names of columns that hold no text: one of them over a column read as text
# means the file is in another set's layout (a train file given as test.tsv reads its labels).
_GLUE_NON_TEXT_HEADERS = frozenset((
    "label", "gold_label", "score", "quality", "is_duplicate", "index", "id", "qid1", "qid2",
    "#1 id", "#2 id", "promptid", "pairid", "genre", "filename", "year", "old_index"))


def _check_text_headers(path, set_type, header, text_columns):
  """A header over the text columns that names another column, or is a number (a row of data:
  CoLA's train layout, headerless, given as its test.tsv), stops the read."""
  for column in text_columns:
    name = header[column].strip().lower() if column is not None and column < len(header) else ""
    if name in _GLUE_NON_TEXT_HEADERS or name.isdigit():
      raise UsageError("%s line 1: the column read as text (%d) is headed %r: is the file in "
                       "another set's layout? The %s set reads its texts from columns %s." % (
                           path, column, header[column],
                           set_type, " and ".join(str(c) for c in text_columns if c is not None)))


class ColaProcessor(_GlueProcessor):
  """CoLA: train/dev have no header (source, label, original label, sentence)."""
  has_header = False
  columns = (3, None, 1)
  main_metric = "mcc"


class Sst2Processor(_GlueProcessor):
  columns = (0, None, 1)


class MrpcProcessor(_GlueProcessor):
  columns = (3, 4, 0)
  test_columns = (3, 4)


class QnliProcessor(_GlueProcessor):
  labels = ("entailment", "not_entailment")
  columns = (1, 2, -1)
  test_columns = (1, 2)


class RteProcessor(QnliProcessor):
  pass


class WnliProcessor(_GlueProcessor):
  columns = (1, 2, -1)
  test_columns = (1, 2)


class QqpProcessor(_GlueProcessor):
  columns = (3, 4, 5)
  test_columns = (1, 2)


class MnliProcessor(_GlueProcessor):
  """MultiNLI; `matched=False` reads the mismatched dev/test sets."""
  labels = ("contradiction", "entailment", "neutral")
  columns = (8, 9, -1)
  test_columns = (8, 9)

  def __init__(self, matched=True):
    suffix = "matched" if matched else "mismatched"
    self.dev_file = "dev_%s.tsv" % suffix
    self.test_file = "test_%s.tsv" % suffix


class StsbProcessor(_GlueProcessor):
  """STS-B: a 0-5 similarity score, regression."""
  task_kind = "regression"
  labels = ()
  columns = (7, 8, -1)
  test_columns = (7, 8)

  def _label(self, value, where):
    try:
      score = float(value)
    except ValueError:
      raise UsageError("%s: STS-B score %r is not a number." % (where, value)) from None
    if not math.isfinite(score):
      raise UsageError("%s: STS-B score %r is not a finite number." % (where, value))
    return score


class XnliProcessor(DataProcessor):
  """XNLI: MultiNLI machine-translated train set, XNLI dev set, for one language."""
  labels = ("contradiction", "entailment", "neutral")
  has_text_b = True

  def __init__(self, language="zh"):
    self.language = language

  def get_labels(self):
    return list(self.labels)

  def _names(self, set_name):
    return dict(train=("multinli", "multinli.train.%s.tsv" % self.language),
                dev=("xnli.dev.tsv",)).get(set_name)

  def file_of(self, set_name, data_dir=None):
    names = self._names(set_name)
    return os.path.join(data_dir, *names) if data_dir and names else None

  def get_train_examples(self, data_dir):
    path = _in_data_dir(data_dir, *self._names("train"))
    examples = []
    for number, line in read_tsv(path)[1:]:
      label = _field(path, number, line, 2)
      examples.append(InputExample("train-%d" % len(examples), _field(path, number, line, 0),
                                   _field(path, number, line, 1),
                                   "contradiction" if label == "contradictory" else label))
    return examples

  def get_dev_examples(self, data_dir):
    path = _in_data_dir(data_dir, *self._names("dev"))
    examples = []
    for number, line in read_tsv(path)[1:]:
      if _field(path, number, line, 0) != self.language:
        continue
      examples.append(InputExample("dev-%d" % len(examples), _field(path, number, line, 6),
                                   _field(path, number, line, 7), _field(path, number, line, 1)))
    return examples

  def get_test_examples(self, data_dir):
    raise UsageError("XNLI has no test set in Google's layout; use --do_predict with another task.")


class TrecProcessor(DataProcessor):
  """TREC questions: `COARSE:fine question` per line (latin-1; train_5500.label)."""
  COARSE_LABELS = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
  FILES = dict(train="train_5500.label", dev="TREC_10.label", test="TREC_10.label")

  def __init__(self, fine=False, encoding="latin-1", data_dir=None):
    self.fine = fine
    self.encoding = encoding
    self.data_dir = data_dir

  def _read(self, path, set_type):
    examples = []
    try:
      with open(path, encoding=self.encoding) as f:
        for number, line in enumerate(f, start=1):
          if not line.strip():
            continue
          label, _, text = line.rstrip("\n").partition(" ")
          if ":" not in label or not text:
            raise UsageError("%s line %d: expected 'COARSE:fine question'." % (path, number))
          label = label if self.fine else label.split(":")[0]
          examples.append(InputExample("%s-%d" % (set_type, len(examples)), text.strip(), None,
                                       label, "%s line %d" % (path, number)))
    except FileNotFoundError:
      raise UsageError("Data file %s does not exist." % path) from None
    return examples

  def file_of(self, set_name, data_dir=None):
    data_dir = data_dir or self.data_dir
    return os.path.join(data_dir, self.FILES[set_name]) if data_dir else None

  def get_train_examples(self, data_dir):
    return self._read(_in_data_dir(data_dir or self.data_dir, self.FILES["train"]), "train")

  def get_dev_examples(self, data_dir):
    return self._read(_in_data_dir(data_dir or self.data_dir, self.FILES["dev"]), "dev")

  def get_test_examples(self, data_dir):
    return self.get_dev_examples(data_dir)

  def get_labels(self):
    if not self.fine:
      return list(self.COARSE_LABELS)
    if not self.data_dir:
      raise UsageError("TREC fine labels come from the training data: pass --data_dir.")
    return sort_labels(e.label for e in self.get_train_examples(self.data_dir))


GLUE_PROCESSORS = {
    "cola": ColaProcessor, "sst-2": Sst2Processor, "sst2": Sst2Processor,
    "mrpc": MrpcProcessor, "mnli": MnliProcessor,
    "mnli-mm": lambda: MnliProcessor(matched=False), "xnli": XnliProcessor,
    "qnli": QnliProcessor, "qqp": QqpProcessor, "rte": RteProcessor, "wnli": WnliProcessor,
    "sts-b": StsbProcessor, "stsb": StsbProcessor, "trec": TrecProcessor,
    "trec-fine": lambda: TrecProcessor(fine=True),
}


# ============================================================================
# Users' own files
# ============================================================================
@dataclasses.dataclass
class FileDataConfig:
  """How to read a user's data files (the generic data flags)."""
  train_file: Optional[str] = None
  dev_file: Optional[str] = None
  test_file: Optional[str] = None
  # "csv", "tsv", "json" (array or lines), "jsonl", "folder"; None: from the extension.
  file_format: Optional[str] = None
  text_column: Union[str, int] = "text"
  text_b_column: Union[None, str, int] = None
  # One column, or several (multi-label, one 0/1 column per label).
  label_columns: Sequence[Union[str, int]] = ("label",)
  label_delimiter: Optional[str] = None   # set: one column holds "3,12" (multi-label)
  labels_file: Optional[str] = None       # label names; int labels index into it
  header: Optional[bool] = None           # None: CSV/TSV have a header row
  encoding: str = "utf-8"
  regression: bool = False
  dev_split: float = 0.1                  # used only when there is no dev file
  test_split: float = 0.0                 # used only when there is no test file
  split_seed: int = 12345
  skip_bad_rows: bool = False             # CSV/TSV rows with a wrong field count: skip, count

  @property
  def multi_label(self):
    return len(self.label_columns) > 1 or self.label_delimiter is not None

  @classmethod
  def from_run_config(cls, config):
    return cls(
        train_file=config.train_file, dev_file=config.dev_file, test_file=config.test_file,
        file_format=config.file_format, text_column=config.text_column,
        text_b_column=config.text_b_column,
        label_columns=[c.strip() for c in config.label_column.split(",") if c.strip()],
        label_delimiter=config.label_delimiter, labels_file=config.labels_file,
        header=config.header, encoding=config.encoding, regression=config.regression,
        dev_split=config.dev_split, test_split=config.test_split, split_seed=config.seed if config.split_seed is None else config.split_seed,
        skip_bad_rows=config.skip_bad_rows)


def _format_of(path, explicit):
  if explicit:
    return explicit
  if os.path.isdir(path):
    return "folder"
  ext = os.path.splitext(path)[1].lower()
  return {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".json": "json", ".jsonl": "jsonl",
          ".ndjson": "jsonl"}.get(ext, "tsv")


def _looks_int(value):
  try:
    int(value)
    return True
  except (TypeError, ValueError):
    return False


def sort_labels(labels):
  """Stable label order: numerically when all labels are numbers ("2" before "10", "0.5"
  before "1.5"), else by string."""
  labels = set(labels)
  if all(_looks_int(l) for l in labels):
    return sorted(labels, key=lambda l: (int(l), l))  # "01" and "1": not by the set's order
  if all(as_number(l) is not None for l in labels):
    return sorted(labels, key=lambda l: (as_number(l), l))
  return sorted(labels)


def read_labels_file(path):
  """The labels file's names, one per non-empty line, each once."""
  try:
    with open(path, encoding="utf-8-sig") as f:
      lines = [(number, line.strip()) for number, line in enumerate(f, 1) if line.strip()]
  except FileNotFoundError:
    raise UsageError("Labels file %s does not exist." % path) from None
  first = {}
  for number, name in lines:
    if name in first:
      raise UsageError("%s line %d: label %r is listed again (first on line %d); each label "
                       "must be listed once." % (path, number, name, first[name]))
    first[name] = number
  return [name for _, name in lines]


class FileProcessor(DataProcessor):
  """Reads CSV/TSV/JSON/JSONL files or class folders as configured by FileDataConfig."""

  def __init__(self, config, label_list=None, data_dir=None, data_frames=None):
    self.config = config
    self.data_dir = data_dir  # used when a get_*_examples call passes no data_dir
    # set name -> pandas DataFrame (the API's), and what messages and predictions' source
    # column call it: "dev DataFrame", or the caller's name given as a (name, DataFrame) pair.
    self.data_frames, self._frame_names = {}, {}
    for set_name, frame in (data_frames or {}).items():
      name, frame = frame if isinstance(frame, tuple) else ("%s DataFrame" % set_name, frame)
      self.data_frames[set_name], self._frame_names[set_name] = frame, name
    self.task_kind = ("regression" if config.regression else
                      "multi_label" if config.multi_label else "classification")
    self.has_text_b = config.text_b_column is not None
    self._label_names = read_labels_file(config.labels_file) if config.labels_file else None
    # Labels are names of the file, or 0-based ids into it; when names are numbers, "1"
    # would be either, so they are names only.
    self._ids_allowed = self._label_names is not None and not any(
        _looks_int(n) for n in self._label_names)
    names_are_ids = self._label_names == [str(i) for i in range(len(self._label_names or ()))]
    if self._label_names is not None and not self._ids_allowed and not names_are_ids:
      logging.warning("%s: label names include numbers, so the data's labels are read as these "
                      "names, not as 0-based ids into the file.", config.labels_file)
    self._labels = list(label_list) if label_list else None
    if self._labels is None and self._label_names is not None:
      self._labels = list(self._label_names)
    if self._labels is None and len(config.label_columns) > 1:
      self._labels = [str(c) for c in config.label_columns]
    self._splits = None
    self._paths = {}  # (data_dir, set name) -> its file
    self._quoted = {}  # TSV path -> whether it is quoted the CSV way (sniffed once)
    self._warned = set()  # a file is read once per pass; say each thing about it once

  # ---- public interface ----
  def declared_labels(self):
    """The labels known without reading the data (--label_list, a labels file, label
    columns; none for regression), else None."""
    return [] if self.config.regression else self._labels

  def labels_indexed_by_ids(self):
    """The labels file's names when integer labels index into it (0 is the first), else
    None."""
    return list(self._label_names) if self._ids_allowed else None

  def get_labels(self):
    if self.config.regression:
      return []
    if self._labels is None:
      train = self.get_train_examples(self.data_dir)
      self._labels = sort_labels(
          l for e in train for l in (e.label if isinstance(e.label, list) else [e.label]))
    return list(self._labels)

  def get_train_examples(self, data_dir):
    return self._split(data_dir)["train"]

  def get_dev_examples(self, data_dir):
    return self._split(data_dir)["dev"]

  def get_test_examples(self, data_dir):
    return self._split(data_dir)["test"]

  # ---- files and splits ----
  def _path(self, data_dir, set_name):
    # Resolved once per set: file_of is asked again by each pass, and the comparison with
    # the training data may read both files whole.
    key = (data_dir, set_name)
    if key not in self._paths:
      self._paths[key] = self._resolve_path(data_dir, set_name)
    return self._paths[key]

  def _resolve_path(self, data_dir, set_name):
    path = self._find_path(data_dir, set_name)
    if path and set_name != "train":
      try:
        train = self._path(data_dir, "train")
      except UsageError:
        train = None  # an unclear train set stops where train is read, not here
      if same_data(path, train):
        self._warn_training_data_reused(path, set_name)
    return path

  def _warn_training_data_reused(self, what, set_name):
    self._warn_once("%s: the %s set is the training data itself: %s", what, set_name,
                    "its metrics measure memorization, not generalization; pass held-out data "
                    "(or leave it out: --dev_split holds some training data out)."
                    if set_name == "dev" else "its predictions are of examples trained on.")

  def _find_path(self, data_dir, set_name):
    explicit = getattr(self.config, "%s_file" % set_name)
    named = _set_files(data_dir, set_name) if data_dir else []
    aliases = _alias_files(data_dir, set_name) if data_dir else []
    others = named + aliases
    if explicit:
      shadowed = [f for f in others if os.path.normcase(os.path.realpath(f)) !=
                  os.path.normcase(os.path.realpath(explicit))]
      if shadowed:
        self._warn_once("Reading --%s_file=%s; %s in --data_dir %s not read.", set_name,
                        explicit, " and ".join(shadowed), "is" if len(shadowed) == 1 else "are")
      return explicit
    if not data_dir:
      return None
    found = named or aliases
    files = [path for path in found if not os.path.isdir(path)]
    if len(files) > 1:
      raise UsageError("%s holds %s: which one is the %s set is unclear; pass --%s_file." % (
          data_dir, " and ".join(os.path.basename(p) for p in files), set_name, set_name))
    unread = [f for f in others if f not in found]
    if found and unread:  # dev.tsv beside val.csv: the alias is not read
      self._warn_once("Reading %s as the %s set; %s in --data_dir %s not read (pass --%s_file "
                      "to choose).", found[0], set_name, " and ".join(unread),
                      "is" if len(unread) == 1 else "are", set_name)
    return found[0] if found else None

  def _split(self, data_dir):
    if self._splits is not None:
      return self._splits
    data_dir = data_dir or self.data_dir
    paths = {name: self._frame_names.get(name) or self._path(data_dir, name)
             for name in ("train", "dev", "test")}
    for name in ("dev", "test"):
      if _same_frame(self.data_frames.get(name), self.data_frames.get("train")):
        self._warn_training_data_reused(paths[name], name)
    if not paths["train"] and not paths["dev"] and not paths["test"]:
      raise UsageError("No data files: pass --train_file/--dev_file/--test_file, or a "
                       "--data_dir holding train/dev/test .tsv/.csv/.json files.")
    sets = {name: (self._read_file(path, name, require_label=(name != "test"))
                   if path else []) for name, path in paths.items()}
    # A set with no file of its own is split off train, seeded and stratified.
    for name, fraction in self.split_fractions():
      if not paths[name] and sets["train"] and fraction > 0:
        sets["train"], sets[name] = stratified_split(sets["train"], fraction,
                                                     self.config.split_seed)
        for i, example in enumerate(sets[name]):
          example.guid = "%s-%d" % (name, i)
        logging.info("No %s file: split %d examples off train (seed %d).", name,
                     len(sets[name]), self.config.split_seed)
    self._splits = sets
    return sets

  def _read_file(self, path, set_name, require_label):
    examples = list(self.iter_file(path, set_name, require_label))
    if not examples and set_name != "test":
      raise UsageError("%s: no examples found." % path)
    return examples

  def iter_file(self, path, set_name, require_label=True):
    """The examples of one file, read as they are yielded (none held: data past memory)."""
    fmt = "frame" if set_name in self.data_frames else _format_of(path, self.config.file_format)
    if fmt == "frame":
      rows = self._read_frame(self.data_frames[set_name], path, labels_optional=not require_label)
    elif fmt == "folder":
      rows = self._read_folder(path, labels_optional=not require_label)
    elif fmt in ("json", "jsonl"):
      rows = self._read_json(path)
    elif fmt in ("csv", "tsv"):
      rows = self._read_delimited(path, "," if fmt == "csv" else "\t",
                                  labels_optional=not require_label)
    else:
      raise UsageError("--file_format %r is not one of csv, tsv, json, jsonl, folder." % fmt)
    if fmt not in ("frame", "folder"):
      self._check_utf8_read_as_one_byte(path)
    count, skipped, no_labels, stray = 0, 0, 0, []
    for where, text_a, text_b, raw_label in rows:
      if is_blank(text_a) and set_name != "test":
        skipped += 1  # documented: empty texts teach nothing; test rows are kept.
        continue
      if require_label and self._is_empty_label_set(raw_label):
        label, no_labels = [], no_labels + 1
      else:
        label = self._parse_label(where, raw_label, require_label)
        if self._has_empty_label(raw_label, label):
          stray = stray or [where, raw_label[0], 0]
          stray[2] += 1
      yield InputExample("%s-%d" % (set_name, count), text_a, text_b, label, where)
      count += 1
    if skipped:
      self._warn_once("%s: skipped %d rows with empty text (nothing but whitespace, control, "
                      "zero-width or combining characters).", path, skipped)
    if no_labels:
      self._warn_once("%s: %d rows have an empty label cell, read as none of the labels; "
                      "remove the rows that are unlabelled rather than negative.", path,
                      no_labels)
    if stray:
      self._warn_once("%s: %d label cells hold an empty label between delimiters (first: %s, "
                      "%r), read without it; is --label_delimiter=%r right?", path, stray[2],
                      stray[0], stray[1], self.config.label_delimiter)

  def file_of(self, set_name, data_dir=None):
    """The file a set is read from, or None (no file: split off train, or no such set)."""
    return self._path(data_dir or self.data_dir, set_name)

  def split_fractions(self):
    """(set name, fraction) of the sets split off train when they have no file."""
    return (("test", self.config.test_split), ("dev", self.config.dev_split))

  def _column_index(self, path, header, column):
    numeric = isinstance(column, int) or _looks_int(column)
    if header is not None and str(column) in header:
      column = str(column)  # a header's name, even one that looks like an index ("1")
      if numeric and int(column) != header.index(column):
        self._warn_once("%s: column %r is read by its name (column %d of the header), not as "
                        "0-based index %d.", path, column, header.index(column), int(column))
    elif numeric:
      return int(column)
    if header is None:
      raise UsageError("%s has no header row, so column %r must be given as a 0-based index." %
                       (path, column))
    if column not in header:
      raise UsageError("%s: column %r not found; the columns are %s%s." % (
          path, column, ", ".join(repr(h) for h in header),
          self._header_hint(path, header, column)))
    if header.count(column) > 1:
      raise UsageError("%s: the header names %d columns %r, so which one to read is unclear: "
                       "rename them." % (path, header.count(column), column))
    return header.index(column)

  def _first_row_is_data(self, path, header):
    """A file's header that names none of the columns and holds a number or words with
    spaces (a text): likely its first row of data."""
    named = [self.config.text_column] + list(self.config.label_columns)
    return (len(header) > 1 and self.config.header is None and os.path.isfile(path) and
            not any(str(c) in header for c in named) and
            any(" " in h.strip() or as_number(h) is not None for h in header))

  def _header_hint(self, path, header, column):
    """Why a one-field header lacks `column`: another separator, or no header at all."""
    if header and header[0].strip().lower().startswith("sep="):
      return " (the first line is Excel's %r line: delete it, so that the header comes first)" % (
          ",".join(header))
    if self._first_row_is_data(path, header):
      return (" (if the file has no header row, pass --header=false and name the columns by "
              "0-based index, e.g. --text_column=0 --label_column=%d)" % (len(header) - 1))
    if len(header) != 1:
      return ""
    if ";" in header[0] and column in [f.strip() for f in header[0].split(";")]:
      return (" (the header is one field holding semicolons: the file looks semicolon-separated, "
              "as some spreadsheets save CSV; save it comma- or tab-separated)")
    tabs = "\t" in header[0]
    fields = [f.strip() for f in header[0].split("\t" if tabs else ",")]
    kind = "tab" if tabs else "comma"
    fix = "pass --file_format=%s or give it that extension" % ("tsv" if tabs else "csv")
    if len(fields) > 1 and column in fields:
      return " (the header is one field holding %ss: the file looks %s-separated; %s)" % (
          kind, kind, fix)
    if column != self.config.text_column:
      return ""
    if len(fields) > 1:
      return (" (if the file is %s-separated, %s; if it holds one text per line, put the "
              "column's name, %r, on its first line, or classify it with bert-tf-predict "
              "--input_file)" % (kind, fix, column))
    return (" (a file of one text per line needs the column's name, %r, on its first line; "
            "bert-tf-predict --input_file classifies such a file as it is)" % column)

  def _column_indices(self, path, header, label_columns, labels_optional=False):
    """(text, text_b or None, [labels]) column indices, which must all differ."""
    col = lambda c: self._column_index(path, header, c)
    text_b = self.config.text_b_column
    indices = (col(self.config.text_column), None if text_b is None else col(text_b),
               [col(c) for c in label_columns])
    _check_distinct_columns(path, self.config, indices, label_columns)
    if header is not None:  # else the first row tells how many fields there are
      indices = _columns_within(path, indices, len(header), labels_optional)
    return indices

  def _read_delimited(self, path, delimiter, labels_optional=False):
    # TSV is read as Google's: no quoting (GLUE texts hold bare quotes), unless the file
    # is quoted the CSV way, as pandas, spreadsheets and R write it.
    if delimiter == "\t" and path not in self._quoted:
      self._quoted[path] = _tsv_is_quoted(path, self.config.encoding)
    quoted = delimiter == "," or self._quoted[path]
    if quoted and delimiter == "\t":
      self._warn_once("%s: read with CSV-style quoting (\"a text\", \"\" for a quote), as "
                      "pandas and spreadsheets write TSV.", path)
    rows = read_delimited(path, delimiter, encoding=self.config.encoding,
                          quotechar='"' if quoted else None)
    has_header = self.config.header if self.config.header is not None else True
    header = None
    if has_header:
      first = next(rows, None)
      if first is None:
        raise UsageError("%s is empty." % path)
      header = [h.strip() for h in first[1]]
    unlabelled = labels_optional and header is not None and not all(
        isinstance(c, int) or _looks_int(c) or c in header for c in self.config.label_columns)
    text_idx, text_b_idx, label_idx = self._column_indices(
        path, header, [] if unlabelled else self.config.label_columns, labels_optional)
    expected, skipped = len(header) if header is not None else None, 0
    blank, kept_blank = [], []  # an unlabelled one-column file's: empty texts before a row
    for number, fields in rows:
      if not fields:
        blank += [number] if labels_optional else []
        continue
      if blank and (expected or len(fields)) == 1:
        kept_blank += blank
        for line in blank:
          yield "%s line %d" % (path, line), "", None, [None]
      blank = []
      where = "%s line %d" % (path, number)
      # A one-column file's text may well be its header's name: only wider rows are checked.
      if header is not None and len(header) > 1 and fields[0].strip() == header[0] and [
          f.strip() for f in fields] == header:
        if self.config.skip_bad_rows:
          skipped += 1
          continue
        raise UsageError("%s repeats the header row (were two files joined?): remove it, or "
                         "pass --skip_bad_rows to skip such rows." % where)
      if expected is None:  # without a header: as many as the first row
        expected = len(fields)
        text_idx, text_b_idx, label_idx = _columns_within(
            path, (text_idx, text_b_idx, label_idx), expected, labels_optional)
      if len(fields) != expected:
        if self.config.skip_bad_rows:
          skipped += 1
          continue
        other = "\t" if delimiter == "," else ","
        fix = ("a field is missing" + (" (or the row is separated by %r)" % other if any(
            other in f for f in fields) else "") + _carriage_return_hint(path)
               if len(fields) < expected else
               "quote texts that contain %r" % delimiter if quoted else
               "a text holds a tab: remove tabs from texts, or save the file as CSV")
        raise UsageError(
            "%s: %d fields, expected %d%s: %s, or pass --skip_bad_rows to skip such rows." % (
                where, len(fields), expected, " (as in the header)" if header is not None else
                " (as in the first row)", fix))
      labels = [fields[i] if i < len(fields) else None for i in label_idx] or [None]
      yield (where, fields[text_idx], None if text_b_idx is None else fields[text_b_idx],
             labels)
    if skipped:
      logging.warning("%s: skipped %d rows with a wrong number of fields or a repeated header "
                      "(--skip_bad_rows).", path, skipped)
    if kept_blank:
      self._warn_once("%s: %d blank line(s) read as empty texts (first: line %d), so that "
                      "predictions keep a row per line.", path, len(kept_blank), kept_blank[0])

  def _read_frame(self, frame, name, labels_optional=False):
    """Rows of a pandas DataFrame, columns by name (or position), like a CSV with a header."""
    header = [str(c) for c in frame.columns]
    unlabelled = labels_optional and not all(str(c) in header or _looks_int(c)
                                             for c in self.config.label_columns)
    text_idx, text_b_idx, label_idx = self._column_indices(
        name, header, [] if unlabelled else self.config.label_columns, labels_optional)
    for number, values in enumerate(frame.itertuples(index=False, name=None)):
      where = "%s row %d" % (name, number)
      texts = [_frame_text(values[i], where) for i in [text_idx] + (
          [text_b_idx] if text_b_idx is not None else [])]
      labels = [_frame_label(values[i]) for i in label_idx] or [None]
      yield where, texts[0], texts[1] if len(texts) > 1 else None, labels

  def _read_json(self, path):
    config = self.config
    _check_distinct_columns(path, config, (config.text_column, config.text_b_column,
                                           list(config.label_columns)), config.label_columns)
    for number, record in read_json_records(path, self.config.encoding):
      where = "%s record %d" % (path, number)
      if not isinstance(record, dict):
        raise UsageError("%s: expected a JSON object, got %s." % (where, type(record).__name__))
      if record.repeated is not None:
        raise UsageError("%s: the field %r is given twice; which value to read is unclear." %
                         (where, record.repeated))
      if config.text_column not in record:
        _refuse_wrapped_records(path, record, config.text_column)
      text_b = None
      if self.config.text_b_column is not None:
        text_b = _json_text(record, self.config.text_b_column, where)
      labels = [_json_field(record, c, where, required=False) for c in self.config.label_columns]
      yield where, _json_text(record, self.config.text_column, where), text_b, labels

  def _read_folder(self, path, labels_optional=False):
    """One sub-folder per class, one text file per example (aclImdb, 20 Newsgroups); a test
    set may be a flat folder of text files, unlabelled. What systems and editors leave beside
    the data is not read (_is_clutter); folders inside a class folder are skipped with a
    warning."""
    entries = [n for n in sorted(os.listdir(path)) if not _is_clutter(n)]
    if labels_optional and entries and not any(
        os.path.isdir(os.path.join(path, n)) for n in entries):
      for name in entries:
        yield os.path.join(path, name), self._read_text_file(os.path.join(path, name)), None, [
            None]
      return
    classes = self._labels or self._class_folders(path)
    if not classes:
      raise UsageError("%s has no class sub-folders: put each class's text files in a folder "
                       "named after the class." % path)
    for label in classes:
      folder = os.path.join(path, label)
      if not os.path.isdir(folder):
        raise UsageError("%s: class folder %r not found." % (path, label))
      names = [n for n in sorted(os.listdir(folder)) if not _is_clutter(n)]
      nested = [n for n in names if os.path.isdir(os.path.join(folder, n))]
      if nested:
        self._warn_once("%s: %d folder(s) inside the class folder are not read (%s); put each "
                        "text file directly in its class folder.", folder, len(nested),
                        ", ".join(nested[:5]))
      files = [n for n in names if os.path.isfile(os.path.join(folder, n))]
      if not files:
        self._warn_once("%s: the class folder holds no text files, so class %r has no "
                        "examples here.", folder, label)
      for name in files:
        yield (os.path.join(folder, name), self._read_text_file(os.path.join(folder, name)),
               None, [label])

  def _class_folders(self, path):
    """The visible sub-folders of a folder-per-class layout, sorted."""
    classes = sorted(d for d in os.listdir(path)
                     if not _is_clutter(d) and os.path.isdir(os.path.join(path, d)))
    unlabelled = [d for d in classes if d.lower() in _UNLABELLED_FOLDERS]
    if unlabelled:
      self._warn_once("%s: the folder %r looks like unlabelled texts, yet it is read as a "
                      "class; pass --label_list=%s to read only the classes.", path,
                      unlabelled[0], ",".join(d for d in classes if d not in unlabelled))
    return classes

  def _check_utf8_read_as_one_byte(self, path):
    """--encoding=latin-1 (the usual fix for bytes that are not UTF-8) on a file whose
    non-ASCII bytes are all valid UTF-8 reads "café" as "cafÃ©": say so."""
    encoding = self.config.encoding.lower().replace("_", "-")
    if encoding not in _ONE_BYTE_ENCODINGS:
      return
    try:
      with open(path, "rb") as f:
        head = f.read(1 << 20)
    except OSError:
      return  # a missing or unreadable file is named by the reader
    head = head[:head.rfind(b"\n") + 1] if len(head) == 1 << 20 else head
    try:
      text = head.decode("utf-8")
    except UnicodeDecodeError:
      return  # not UTF-8: the encoding given may well be right
    word = next((w for w in text.split() if not w.isascii()), None)
    if word is not None:
      self._warn_once("%s is valid UTF-8 (%r), which --encoding=%s reads as %r: pass "
                      "--encoding=utf-8 if the file is UTF-8.", path, word[:30],
                      self.config.encoding, word.encode("utf-8").decode(encoding, "replace")[:30])

  def _warn_once(self, message, *args):
    if (message, args) not in self._warned:
      self._warned.add((message, args))
      logging.warning(message, *args)

  def _read_text_file(self, file_path):
    """One class-folder file, opened once (aclImdb has 100k); the binary check reads the
    file again only when its text looks binary or does not decode."""
    try:
      with open(file_path, encoding=self.config.encoding) as f:
        text = f.read(MAX_FIELD_CHARS + 1)
    except UnicodeError as e:
      _refuse_binary(file_path, self.config.encoding)  # a PNG is named as binary, not latin-1
      raise _decode_error(file_path, e, self.config.encoding) from None
    if text.startswith("PK\x03\x04") or "\x00" in text[:4096]:
      _refuse_binary(file_path, self.config.encoding)
    if len(text) > MAX_FIELD_CHARS:
      raise UsageError("%s is longer than %d characters: is it really one text?" %
                       (file_path, MAX_FIELD_CHARS))
    return text

  def _is_empty_label_set(self, raw):
    """With --label_delimiter, an empty cell is none of the labels (what ",".join([])
    writes, like "," and JSON's []), and so is a DataFrame's NaN or None (pandas reads
    empty cells as NaN); the words of _MISSING_LABELS are still missing."""
    if self.config.label_delimiter is None or len(raw) != 1:
      return False
    value = raw[0]
    return (value is None or isinstance(value, float) and value != value
            or isinstance(value, str) and not value.strip())

  def _has_empty_label(self, raw, labels):
    """A multi-label cell with labels and an empty one between delimiters ("a,,b", "a,"):
    `labels`, parsed from it, has fewer entries than the cell has parts."""
    return (self.config.label_delimiter is not None and len(raw) == 1 and
            isinstance(raw[0], str) and bool(labels) and
            len(labels) < raw[0].count(self.config.label_delimiter) + 1)

  def _parse_label(self, where, raw, require_label):
    """Raw label field(s) -> str / list of str / float, validated."""
    missing = [_is_missing(r) for r in raw]
    if any(missing):
      if require_label:
        shown = next(r for r, m in zip(raw, missing) if m)
        raise UsageError("%s: the label is missing (%s); fill it in or remove the row." %
                         (where, "an empty cell" if shown in (None, "") else repr(shown)))
      return None
    if self.config.regression:
      try:
        score = float(raw[0])
      except (TypeError, ValueError):
        raise UsageError("%s: regression label %r is not a number." % (where, raw[0])) from None
      if not math.isfinite(score):
        raise UsageError("%s: regression label %r is not a finite number." % (where, raw[0]))
      if abs(score) > _FLOAT32_MAX:
        raise UsageError("%s: regression label %r is too large for float32 (at most %.3g): "
                         "rescale the targets." % (where, raw[0], _FLOAT32_MAX))
      return score
    if len(raw) > 1:  # one 0/1 column per label
      labels = []
      for name, value in zip(self._labels, raw):
        value = str(value).strip()
        on = _INDICATORS.get(value.lower())
        if on is None:
          raise UsageError("%s: label column %r holds %r, expected 0 or 1." % (where, name, value))
        if on:
          labels.append(name)
      return labels
    value = raw[0]
    if isinstance(value, dict):
      raise UsageError("%s: the label is a JSON object, not a label." % where)
    if self.config.label_delimiter is not None:
      parts = value if isinstance(value, list) else str(value).split(self.config.label_delimiter)
      joined = next((p for p in parts if self.config.label_delimiter in str(p)), None)
      if joined is not None:  # a file of these labels, read with the run's delimiter, would split it
        raise UsageError("%s: the label %r holds the label delimiter %r: pass another "
                         "--label_delimiter, one that no label holds." % (
                             where, joined, self.config.label_delimiter))
      return self._listed_labels(where, value, parts)
    if isinstance(value, list):
      raise UsageError("%s: the label is a list; pass --label_delimiter for multi-label data." %
                       where)
    return self._name_label(where, str(value).strip())

  def _listed_labels(self, where, value, parts):
    """The names a multi-label cell lists, each once. A name listed twice is refused: a row of
    0/1 indicators ("1,0,0", [1, 0, 0]) read as names would become the labels 0 and 1."""
    for part in parts:
      if _is_na(part) or isinstance(part, (list, tuple, dict)):
        raise UsageError("%s: the label list %s holds %s, not a label name; list names only "
                         "(an empty list is none of the labels)." % (
                             where, _shown_labels(value), "null" if part is None else repr(part)))
    listed = [str(p).strip() for p in parts if str(p).strip()]
    names = [self._name_label(where, p) for p in listed]
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
      hint = ("0/1 indicators go in one column per label (--label_column=a,b,c)"
              if {p.lower() for p in listed} <= set(_INDICATORS) else "list each label once")
      raise UsageError("%s: the labels %s name %r twice; %s." % (
          where, _shown_labels(value), twice, hint))
    return names

  def _name_label(self, where, value):
    names = self._label_names
    if names is not None and value not in names:
      if self._ids_allowed and _looks_int(value) and 0 <= int(value) < len(names):
        return names[int(value)]  # ids into the labels file (GoEmotions, THUCNews)
      raise UsageError("%s: label %r is not in the labels file (%d labels)%s." % (
          where, value, len(names), "" if self._ids_allowed else
          "; its names include numbers, so labels are read as names, not as 0-based ids"))
    return value


COLUMN_OPTIONS = ("text_column", "text_b_column", "label_column", "label_delimiter")


def check_no_columns_for_folders(paths, given):
  """A door's check: a folder (per class, or of texts to predict) has no columns, so a column
  option the user gave (`given`: the names of COLUMN_OPTIONS set) would be ignored."""
  folders = [p for p in paths if p and os.path.isdir(p)]
  given = [name for name in COLUMN_OPTIONS if name in given]
  if folders and given:
    raise UsageError("%s is a folder (one text per file; in a folder per class, the folder is "
                     "the label): --%s names a column, which it has not; leave --%s out, or pass "
                     "a CSV, TSV or JSON file." % (folders[0], given[0], given[0]))


def _is_clutter(name):
  """Hidden entries (.DS_Store, .git), macOS zips' __MACOSX, Windows' Thumbs.db and
  desktop.ini, and editors' backups (notes.txt~, #notes.txt#): never examples or classes."""
  return (name.startswith(".") or name in ("__MACOSX", "Thumbs.db", "desktop.ini")
          or name.endswith("~") or name.startswith("#") and name.endswith("#"))


def _shown_labels(value):
  return repr(value if isinstance(value, str) else list(value))[:80]


_FLOAT32_MAX = 3.4028234663852886e38  # regression targets are stored as float32

# Folders of unlabelled texts that sit beside class folders (aclImdb's train/unsup).
_UNLABELLED_FOLDERS = ("unsup", "unlabeled", "unlabelled")


def _columns_within(path, indices, num_fields, labels_optional=False):
  """The column indices (text, text_b or None, [labels]), checked against the rows' fields;
  an unlabelled test file without the label columns gets no label indices."""
  text, text_b, labels = indices
  if labels_optional and any(not 0 <= index < num_fields for index in labels):
    labels = []
  flags = [("text_column", text), ("text_b_column", text_b)] + [
      ("label_column", index) for index in labels]
  for flag, index in flags:
    if index is not None and not 0 <= index < num_fields:
      raise UsageError("%s: --%s=%d, but the rows have %d fields (columns count from 0)." %
                       (path, flag, index, num_fields))
  return text, text_b, labels


def _check_distinct_columns(path, config, indices, label_columns):
  """The text, text_b and label columns (indices or names) must be different columns: a
  label read as text would leak the answer into the input."""
  text, text_b, labels = indices
  roles = [("text column %r (--text_column)" % config.text_column, text)]
  if text_b is not None:
    roles.append(("second text column %r (--text_b_column)" % config.text_b_column, text_b))
  roles += [("label column %r (--label_column)" % name, index)
            for name, index in zip(label_columns, labels)]
  for i, (role, index) in enumerate(roles):
    for other, other_index in roles[:i]:
      if index == other_index:
        raise UsageError("%s: the %s and the %s are the same column; they must differ." %
                         (path, other, role))


# Cells that pandas, spreadsheets and JSON write for "no value": never a class name.
_MISSING_LABELS = ("", "nan", "none", "null", "n/a")


# A multi-label file's 0/1 cell (a DataFrame's or JSON's booleans too): is the label on?
_INDICATORS = {"0": False, "1": True, "0.0": False, "1.0": True, "false": False, "true": True}


def _is_na(value):
  """None, NaN of any float type, pandas' NA or NaT: a DataFrame's empty cell."""
  if value is None or isinstance(value, (str, list, tuple, dict, bool, int)):
    return value is None  # the common cells, without pandas (a hot path of reading)
  if isinstance(value, float):
    return value != value
  import pandas as pd  # pylint: disable=g-import-not-at-top  (numpy scalars, pd.NA, NaT)
  try:
    return bool(pd.isna(value))
  except (TypeError, ValueError):  # an array-like: not one missing cell
    return False


def _is_missing(value):
  if _is_na(value):
    return True
  return isinstance(value, str) and value.strip().lower() in _MISSING_LABELS


def _frame_text(value, where):
  if isinstance(value, str):
    return value
  if _is_na(value):
    return ""
  raise UsageError("%s: the text is a %s (%r), not a string." % (where, type(value).__name__,
                                                                 value))


def _frame_label(value):
  """A DataFrame cell as a raw label: strings as they are, integral numbers as "3",
  sequences (multi-label) as lists of such."""
  if isinstance(value, (list, tuple)) or hasattr(value, "tolist") and getattr(value, "ndim", 0):
    return [_frame_label(v) for v in (value.tolist() if hasattr(value, "tolist") else value)]
  if value is None or isinstance(value, str):
    return value
  if _is_na(value):
    return None  # NaN, pd.NA: a missing label
  if hasattr(value, "item"):
    value = value.item()  # numpy scalar
  if isinstance(value, float) and value.is_integer():
    return str(int(value))
  return str(value) if not isinstance(value, float) else value


def frame_label_name(value):
  """The label name a DataFrame's label value is read as (3 -> "3", 2.5 -> "2.5", True ->
  "True"), or None for a missing one."""
  raw = _frame_label(value)
  return None if _is_missing(raw) else str(raw).strip()


def _json_text(record, column, where):
  value = _json_field(record, column, where)
  if isinstance(record.get(column), bool):
    raise UsageError("%s: field %r is the JSON %s, not a text." % (
        where, column, json.dumps(record[column])))
  if isinstance(value, (list, dict)):
    raise UsageError("%s: field %r is a JSON %s, not a text." % (
        where, column, "array" if isinstance(value, list) else "object"))
  if isinstance(value, float) and not math.isfinite(value):  # NaN, Infinity, 1e400
    raise UsageError("%s: field %r is the number %s, not a text; write texts as JSON "
                     "strings (null for none)." % (where, column, value))
  return str(value)


def _json_field(record, column, where, required=True):
  """A JSON record's field: lists and numbers as they are, anything else as text."""
  if column not in record:
    if required:
      raise UsageError("%s: field %r not found; the fields are %s." %
                       (where, column, ", ".join(record)))
    return None
  value = record[column]
  if isinstance(value, (list, dict, float, int)) and not isinstance(value, bool):
    return value
  return "" if value is None else str(value)


def stratified_split(examples, fraction, seed):
  """Splits off `fraction` of examples, stratified by label, deterministically."""
  chosen = set(stratified_split_indices([e.label for e in examples], fraction, seed))
  keep = [e for i, e in enumerate(examples) if i not in chosen]  # file order within each part
  return keep, [e for i, e in enumerate(examples) if i in chosen]


def label_key(label):
  """A hashable, ordered key of a label (a string, a list of strings, a number)."""
  return json.dumps(label, sort_keys=True)


def stratified_split_indices(labels, fraction, seed, key=label_key):
  """The sorted positions of the examples split off, from their labels alone (so a file
  too big for memory is split from one pass over its labels' keys).

  round(N * fraction) examples in all, shared between the labels by largest remainder; a
  label with two or more examples keeps one in train, and gets one in the split when there
  are few labels; a label seen once goes only when nothing else can (regression values).
  Many small groups (label combinations, scores) so stay near the fraction instead of each
  giving one example away. No class loses its last training example: one that would
  (a rare label seen only in combinations, a class seen once) stays, and the split is that
  much smaller.
  """
  by_label = {}
  for i, label in enumerate(labels):
    by_label.setdefault(key(label), []).append(i)
  rng = random.Random(seed)
  groups = [by_label[k] for k in sorted(by_label)]
  for group in groups:
    rng.shuffle(group)
  target = int(round(len(labels) * fraction))
  most = [len(g) - 1 if len(g) > 1 else 1 for g in groups]
  counts = [min(int(len(g) * fraction), m) for g, m in zip(groups, most)]
  shared = [len(g) > 1 for g in groups]
  if fraction > 0 and sum(shared) <= target / 2:  # few labels: each one in the split
    counts = [max(c, 1) if ok else c for c, ok in zip(counts, shared)]
  by_remainder = sorted(range(len(groups)), key=lambda j: (
      not shared[j], counts[j] - len(groups[j]) * fraction, rng.random()))
  total = sum(counts)
  for j in by_remainder:
    if total >= target:
      break
    if counts[j] < most[j]:
      counts[j] += 1
      total += 1
  for j in reversed(by_remainder):  # the one-per-label rule overshot: give back the surplus
    if total <= target:
      break
    if counts[j] > 1:
      counts[j] -= 1
      total -= 1
  chosen = [(i, k) for k, n in zip(sorted(by_label), counts) for i in by_label[k][:n]]
  return sorted(_keep_each_class_in_train(chosen, by_label))


def _keep_each_class_in_train(chosen, by_label):
  """The chosen positions, less those holding a class (a string label, or one of a list's)
  that no example left in train has; a regression score is no class."""
  classes = {}
  for key in by_label:
    label = json.loads(key)
    classes[key] = [l for l in (label if isinstance(label, list) else [label])
                    if isinstance(l, str)]
  in_train = {}
  taken = collections.Counter(k for _, k in chosen)
  for k, group in by_label.items():
    for c in classes[k]:
      in_train[c] = in_train.get(c, 0) + len(group) - taken[k]
  kept = []
  for i, k in chosen:
    if any(in_train[c] == 0 for c in classes[k]):
      for c in classes[k]:
        in_train[c] += 1
    else:
      kept.append(i)
  return kept


def log_data_warnings(examples, source):
  """Legal but suspicious training examples: a column of numbers as the text (an id or label
  column read as the text), and many texts given contradictory labels."""
  texts = [t for t in (e.text_a.strip() for e in examples[:10000] if e.text_a) if t]
  numbers = [t for t in texts if as_number(t) is not None]
  if texts and len(numbers) >= 0.9 * len(texts):
    logging.warning("%s: %d of the first %d texts are numbers (e.g. %r): is --text_column the "
                    "column that holds the text?", source, len(numbers), len(texts), numbers[0])
  labels_of = {}
  for e in examples:
    if e.label is not None:
      label = sorted(e.label) if isinstance(e.label, list) else e.label
      labels_of.setdefault((e.text_a, e.text_b), set()).add(label_key(label))
  conflicting = [text for text, labels in labels_of.items() if len(labels) > 1]
  # A few are label noise (SST-2: 5 of 66,978 texts); 1% or more is a data problem.
  if len(conflicting) >= max(1, 0.01 * len(labels_of)):
    logging.warning("%s: %d of %d distinct texts occur with different labels (e.g. %r); check "
                    "the label column.", source, len(conflicting), len(labels_of),
                    conflicting[0][0])
  pairs = [e for e in examples if e.text_b is not None]
  lone = [e for e in pairs if not e.text_b.strip()]
  if len(lone) >= max(1, 0.01 * len(pairs)):  # QQP has a few; 1% or more is a data problem
    logging.warning("%s: %d of %d pairs have an empty second text (e.g. %s); they are read as "
                    "single texts: is --text_b_column right?", source, len(lone), len(pairs),
                    getattr(lone[0], "where", None) or repr(lone[0].text_a))


def as_number(text):
  """The number a text or label parses to ("1" and "1.0" alike), or None (NaN too)."""
  try:
    value = float(text)
  except (TypeError, ValueError):
    return None
  return value if value == value else None  # NaN equals nothing


def same_data(path, other):
  """Whether two data files hold the same bytes (the same file, or a copy)."""
  if not path or not other or not (os.path.isfile(path) and os.path.isfile(other)):
    return False
  try:
    if os.path.samefile(path, other):
      return True
    if os.path.getsize(path) != os.path.getsize(other):
      return False
    with open(path, "rb") as a, open(other, "rb") as b:
      while True:
        chunk = a.read(1 << 20)
        if chunk != b.read(1 << 20):
          return False
        if not chunk:
          return True
  except OSError:
    return False  # unreadable: the reader names it


def _same_frame(frame, other):
  return frame is not None and other is not None and (frame is other or frame.equals(other))


_ONE_BYTE_ENCODINGS = ("latin-1", "latin1", "iso-8859-1", "iso8859-1", "cp1252",
                       "windows-1252", "iso-8859-15", "cp1250", "windows-1250")
_DEV_ALIASES = ("val", "valid", "validation", "eval")


def _alias_files(data_dir, set_name):
  """data_dir's files named as the dev set under another usual name: val.csv, ..."""
  if set_name != "dev":
    return []
  return [path for alias in _DEV_ALIASES for ext in (".tsv", ".csv", ".jsonl", ".json")
          if os.path.isfile(path := os.path.join(data_dir, alias + ext))]


def _set_files(data_dir, set_name):
  """data_dir's files (or folder) named for a set: train.tsv, train.csv, ..., train/."""
  return [os.path.join(data_dir, set_name + ext)
          for ext in (".tsv", ".csv", ".jsonl", ".json", ".txt", "")
          if os.path.exists(os.path.join(data_dir, set_name + ext))]


FILE_TASKS = ("file", "csv", "tsv", "json", "generic")  # --task_name values for your own files


def get_processor(task_name, data_config=None, label_list=None, data_dir=None,
                  data_frames=None):
  """The processor for a GLUE task name, or FileProcessor for task_name 'file'/None."""
  name = (task_name or "file").lower()
  if name in FILE_TASKS:
    return FileProcessor(data_config or FileDataConfig(), label_list=label_list,
                         data_dir=data_dir, data_frames=data_frames)
  if name not in GLUE_PROCESSORS:
    raise UsageError("--task_name=%s is not known; use one of %s, or 'file' with --train_file." %
                     (task_name, ", ".join(sorted(GLUE_PROCESSORS) + ["file"])))
  processor = GLUE_PROCESSORS[name]()
  if isinstance(processor, TrecProcessor):
    processor.data_dir = data_dir
  return processor
