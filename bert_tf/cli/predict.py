"""Classify texts with a trained run (its output_dir) or an exported SavedModel.

  python -m bert_tf.cli.predict --model_dir=OUTPUT_DIR --text="a gripping film"
  python -m bert_tf.cli.predict --model_dir=EXPORT_DIR/1 --input_file=texts.txt

Prints one JSON line per input line, so the output lines up with the input (a blank
line gets {"text": "", "empty": true} and no label); timings go to stderr.
"""

import dataclasses
import json
import os
import re
import sys
import time
from typing import Optional

from absl import logging

from bert_tf import processors
from bert_tf.cli import common
from bert_tf.config import INFERENCE_DTYPE_HELP, INFERENCE_DTYPES, option
from bert_tf.errors import UsageError


@dataclasses.dataclass
class PredictOptions:
  model_dir: str = option(None, "A training output_dir or an exported SavedModel directory "
                          "(export_dir/<version>).")
  checkpoint: Optional[str] = option(None, "model.ckpt-N to use (default: best, else latest).")
  text: Optional[str] = option(None, "One text to classify.")
  text_b: Optional[str] = option(None, "Second text, for sentence-pair models.")
  input_file: Optional[str] = option(None, "A text file with one text per line.")
  encoding: str = option("utf-8", "The encoding of --input_file.")
  batch_size: int = option(32, "Texts per forward pass.")
  dtype: Optional[str] = option(None, INFERENCE_DTYPE_HELP + " Default: float32 (a SavedModel: "
                                "the dtype it was exported in).", choices=INFERENCE_DTYPES)


def _check_flags(o):
  if not o.model_dir:
    raise UsageError("--model_dir is required.")
  if (o.text is None) == (o.input_file is None):
    raise UsageError("Pass exactly one of --text or --input_file.")
  if o.batch_size <= 0:
    raise UsageError("--batch_size must be positive, got %d." % o.batch_size)


def main(_):
  from bert_tf.predictor import Predictor  # pylint: disable=g-import-not-at-top
  o = common.options_from_flags(PredictOptions)  # checked by _check_flags
  texts = [o.text] if o.text is not None else _read_lines(o.input_file, o.encoding)
  start = time.perf_counter()
  predictor = Predictor(o.model_dir, checkpoint=o.checkpoint, batch_size=o.batch_size,
                        dtype=o.dtype)
  loaded = time.perf_counter()
  if (o.text_b is not None) != bool(predictor.info.text_pair):
    raise UsageError("--text_b: %s reads %s." % (o.model_dir, _pair_advice(predictor, o)))
  # A blank line keeps its place in the output, but gets no (meaningless) answer.
  readable = [text for text in texts if not processors.is_blank(text)]
  texts_b = [o.text_b] * len(readable) if o.text_b is not None else None
  results = iter(predictor.predict(readable, texts_b))
  done = time.perf_counter()
  for text in texts:
    answer = (dict(text=text, empty=True) if processors.is_blank(text) else
              dict(text=text, **next(results)))
    print(json.dumps(answer, ensure_ascii=False))
  print("%s loaded in %.2f s; %d text(s) in %.1f ms (%.1f ms/text)" % (
      predictor.checkpoint, loaded - start, len(texts), 1000 * (done - loaded),
      1000 * (done - loaded) / max(len(texts), 1)), file=sys.stderr)


def _pair_advice(predictor, o):
  if not predictor.info.text_pair:
    return "single texts; leave --text_b out"
  if o.text is not None:
    return "sentence pairs; pass --text_b with the second text"
  return ("sentence pairs, which --input_file cannot give; classify a file of pairs with "
          "run_classifier.py --do_predict --output_dir=RUN --test_file=FILE --text_column=A "
          "--text_b_column=B, or from Python (Predictor.predict(texts, texts_b))")


def _read_lines(path, encoding):
  """Every line (blank ones keep their place), read before the model loads."""
  from bert_tf.processors import read_text_lines  # pylint: disable=g-import-not-at-top
  try:
    lines = read_text_lines(path, encoding, keep_blank=True)  # the data files' guards
  except UsageError as e:
    if os.path.exists(path) and not os.path.isfile(path):  # the data files' advice is not ours
      raise UsageError("--input_file %s is not a regular file (a device, pipe or folder?): pass "
                       "a file with one text per line, or --text." % path) from None
    raise UsageError("--input_file: %s" % e) from None
  if not lines:
    raise UsageError("--input_file %s is empty: put one text per line." % path)
  if _looks_like_a_table(path, lines[0]):
    logging.warning("--input_file %s looks like a table (%s...): each line is classified as one "
                    "text, header and other columns included; to classify a column, run "
                    "run_classifier.py --do_predict --output_dir=RUN --test_file=%s "
                    "--text_column=NAME.", path, lines[0][:40], path)
  return lines


_TEXT_COLUMNS = {"text", "sentence", "sentence1", "review", "content", "comment_text",
                 "question", "question1", "title", "body"}


def _looks_like_a_table(path, first_line):
  """A CSV/TSV/JSON file, or a first line that is a header naming a text column."""
  if os.path.splitext(path)[1].lower() in (".csv", ".tsv", ".json", ".jsonl"):
    return True
  fields = [f.strip().strip('"').lower() for f in re.split("[,\t]", first_line)]
  return len(fields) > 1 and bool(_TEXT_COLUMNS & set(fields)) and all(
      re.fullmatch(r"[a-z_][a-z0-9_]*", f) for f in fields)


def console_main():
  common.run(main, PredictOptions, __doc__,
             check=lambda: _check_flags(common.options_from_flags(PredictOptions)))


if __name__ == "__main__":
  console_main()
