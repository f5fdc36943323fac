"""Featurization speed on SST-2 train: ours vs Google's Python path vs HF's Rust tokenizer.

  python bench/featurize.py [--data ../shared/data/glue/SST-2] [--max_seq_length 128]

Each contender turns the same sentences into padded [N, max_seq_length] input ids
(+ mask and segment ids) with the embedded MiniLM vocab (uncased). Prints
sentences/s, the ratio of ours to each, and how many rows differ from Google's ids.
Ours runs 5 times and Google's 3 times; the ratios are of the best runs and of the
median runs.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bert_tf import features, pretrained, processors, tasks, tokenization  # noqa: E402
from bert_tf.preprocessing import Preprocessor  # noqa: E402


def run_google(examples, vocab_file, max_seq_length):
  from google_reference import google_full_tokenizer, google_run_classifier  # noqa
  google = google_run_classifier()
  tok = google_full_tokenizer(vocab_file, True)
  ids = np.zeros((len(examples), max_seq_length), np.int64)
  start = time.perf_counter()
  for i, e in enumerate(examples):
    g = google["convert_single_example"](10, google["InputExample"](e.guid, e.text_a, e.text_b,
                                                                     e.label),
                                         ["0", "1"], max_seq_length, tok)
    ids[i] = g.input_ids
  return time.perf_counter() - start, ids


def run_hf(texts, vocab_file, max_seq_length):
  try:
    from transformers import BertTokenizerFast  # noqa
    tok = BertTokenizerFast(vocab_file, do_lower_case=True)
    name = "HF BertTokenizerFast (batch)"
    start = time.perf_counter()
    out = tok(texts, truncation=True, max_length=max_seq_length, padding="max_length")
    return name, time.perf_counter() - start, np.array(out["input_ids"])
  except ImportError:
    pass
  try:
    from tokenizers import BertWordPieceTokenizer  # noqa
  except ImportError:
    return None, None, None
  # The Rust engine under BertTokenizerFast, configured as BertTokenizerFast does.
  tok = BertWordPieceTokenizer(vocab_file, lowercase=True, strip_accents=None,
                               clean_text=True, handle_chinese_chars=True)
  tok.enable_truncation(max_seq_length)
  tok.enable_padding(length=max_seq_length)
  name = "HF tokenizers BertWordPiece (Rust, batch; BertTokenizerFast's engine)"
  start = time.perf_counter()
  encodings = tok.encode_batch(texts)
  ids = np.array([e.ids for e in encodings])
  return name, time.perf_counter() - start, ids


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                     "shared", "data", "glue", "SST-2"))
  parser.add_argument("--max_seq_length", type=int, default=128)
  parser.add_argument("--skip_google", action="store_true")
  args = parser.parse_args()
  examples = processors.get_processor("sst-2").get_train_examples(args.data)
  texts = [e.text_a for e in examples]
  vocab_file = pretrained.model_files(pretrained.DEFAULT_MODEL).vocab_file
  n = len(examples)
  print("SST-2 train: %d sentences, max_seq_length %d, vocab %s" % (n, args.max_seq_length,
                                                                  vocab_file))

  # One-time cost per process: the Unicode regex tables for non-ASCII texts.
  start = time.perf_counter()
  tokenization._unicode_tables()  # pylint: disable=protected-access
  print("%-70s %9.2f s (once per process)" % ("bert_tf Unicode tables", time.perf_counter() - start))
  times = []
  for _ in range(5):
    tok = tokenization.FullTokenizer(vocab_file, True)  # fresh word memo each time
    start = time.perf_counter()
    arrays = features.featurize(examples, tasks.SingleLabel(["0", "1"]),
                                Preprocessor(tok, args.max_seq_length), show_progress=False)
    times.append(time.perf_counter() - start)
    ours_ids = arrays.input_ids
  print("%-70s %9.0f sentences/s   (5 runs: %s)" % (
      "bert_tf featurize (tokenize + pack into arrays)", n / min(times),
      ", ".join("%.0f/s" % (n / t) for t in times)))
  ours_best, ours_median = min(times), sorted(times)[len(times) // 2]

  if not args.skip_google:
    google_times = []
    for _ in range(3):  # about 7 s a run on SST-2 train
      seconds, google_ids = run_google(examples, vocab_file, args.max_seq_length)
      google_times.append(seconds)
    diff = int((google_ids != ours_ids).any(axis=1).sum())
    google_best, google_median = min(google_times), sorted(google_times)[1]
    print("%-70s %9.0f sentences/s   ours/google = %.1fx (best runs), %.1fx (median runs)   "
          "rows with different ids: %d   (3 runs: %s)" % (
              "Google run_classifier.convert_single_example + FullTokenizer", n / google_best,
              google_best / ours_best, google_median / ours_median, diff,
              ", ".join("%.0f/s" % (n / t) for t in google_times)))
  name, seconds, hf_ids = run_hf(texts, vocab_file, args.max_seq_length)
  if name:
    diff = int((hf_ids != ours_ids).any(axis=1).sum())
    print("%-70s %9.0f sentences/s   ours/hf = %.2fx   rows with different ids: %d" %
          (name, n / seconds, seconds / ours_best, diff))
  else:
    print("HF tokenizers not installed (pip install -e '.[bench]'): no HF comparison.")


if __name__ == "__main__":
  main()
