"""Token-id parity with Google's tokenization.py on the real corpora in ../shared/data.

  python bench/tokenizer_parity.py

Runs our FullTokenizer (one text at a time, and all at once as featurization does) and
Google's (PyPI bert-tensorflow 1.0.4, the original code) on every text of SST-2 train,
GoEmotions train and all SMP2020-EWECT JSON files, uncased (the embedded vocab) and cased,
and prints sentences compared and mismatches (a text counts when either of ours differs).
Also reports tensorflow-text's in-graph tokenizer on the same texts.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bert_tf import pretrained, processors, tokenization  # noqa: E402
from google_reference import google_full_tokenizer  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


def corpora():
  sst = processors.get_processor("sst-2").get_train_examples(os.path.join(DATA, "glue", "SST-2"))
  yield "glue/SST-2/train.tsv", [e.text_a for e in sst]
  rows = processors.read_tsv(os.path.join(DATA, "goemotions", "train.tsv"), encoding="utf-8")
  yield "goemotions/train.tsv", [fields[0] for _, fields in rows[1:]]
  smp = os.path.join(DATA, "smp2020-ewect")
  texts = []
  for name in sorted(os.listdir(smp)):
    if name.endswith(".json"):
      with open(os.path.join(smp, name), encoding="utf-8") as f:
        texts.extend(str(r["content"]) for r in json.load(f))
  yield "smp2020-ewect/*.json", texts


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--in_graph", action="store_true",
                      help="Also compare the tensorflow-text in-graph tokenizer.")
  args = parser.parse_args()
  vocab_file = pretrained.model_files(pretrained.DEFAULT_MODEL).vocab_file
  total, total_bad = 0, 0
  for name, texts in corpora():
    for do_lower_case in (True, False):
      ours = tokenization.FullTokenizer(vocab_file, do_lower_case)
      google = google_full_tokenizer(vocab_file, do_lower_case)
      t0 = time.perf_counter()
      mine = [ours.tokenize_to_ids(t) for t in texts]
      t1 = time.perf_counter()
      theirs = [google.convert_tokens_to_ids(google.tokenize(t)) for t in texts]
      t2 = time.perf_counter()
      # The batch path (what featurization runs), on a fresh memo.
      flat, lengths = tokenization.FullTokenizer(vocab_file, do_lower_case).tokenize_many_to_ids(
          texts)
      batch = np.split(flat, np.cumsum(lengths)[:-1]) if len(texts) else []
      bad = [t for t, a, b, c in zip(texts, mine, theirs, batch) if a != b or c.tolist() != b]
      total += len(texts)
      total_bad += len(bad)
      print("%-22s lower=%-5s sentences %6d  mismatches %d  (ours %.0f/s, Google %.0f/s)" %
            (name, do_lower_case, len(texts), len(bad), len(texts) / (t1 - t0),
             len(texts) / (t2 - t1)))
      for text in bad[:3]:
        print("   e.g. %r" % text[:100])
  print("TOTAL sentences compared %d, mismatches %d" % (total, total_bad))
  if args.in_graph:
    from bert_tf import text_graph  # noqa
    text_graph.report_parity(vocab_file, [t for _, ts in corpora() for t in ts])
  return 1 if total_bad else 0


if __name__ == "__main__":
  sys.exit(main())
