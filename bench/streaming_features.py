"""Featurizing a file past memory: time and peak memory as rows grow, streamed vs in memory.

  python bench/streaming_features.py [--rows 100000,1000000,5000000] [--peer_max 1000000]

SST-2 train repeated to each row count (a TSV with the sentence and label columns)
is turned into TFRecords with the embedded MiniLM vocab at max_seq_length 128, with a
10% dev split taken off train (so the label pass is exercised):

  ours: `bert-tf-features` (streams: a label pass, then chunks of 50k rows);
  peer: the in-memory path Google's run_classifier.py takes (every InputExample read
        into a list first, then converted), measured up to --peer_max rows.

Each run is its own process; peak RSS is that process's ru_maxrss. Prints rows, seconds,
rows/s and peak RSS for each, and the ratios.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SST2 = os.path.join(REPO, "..", "shared", "data", "glue", "SST-2", "train.tsv")

# Runs in a fresh process: featurize, then print wall seconds and peak RSS (MiB).
CHILD = r"""
import os, resource, sys, time
sys.path.insert(0, %(repo)r)
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
from absl import logging
logging.set_verbosity(logging.WARNING)
from bert_tf import run_dir, runner
from bert_tf.config import RunConfig
config = RunConfig(output_dir=%(out)r, train_file=%(data)r, file_format="tsv",
                   text_column="sentence", label_column="label", do_train=True,
                   do_eval=True, dev_split=0.1, max_seq_length=128, progress="off")
start = time.perf_counter()
if %(streamed)r:
  records = runner.prepare_data(config)
else:  # the whole file as InputExamples, then converted (Google's order of work)
  run = run_dir.RunDir(config.output_dir)
  run.create()
  records = runner._write_records(runner.make_plan(config, run))
seconds = time.perf_counter() - start
rows = sum(info.num_examples for info in records.values())
print("RESULT %%d %%.2f %%.1f" %% (rows, seconds,
                                 resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
"""


def make_file(source, rows, directory):
  """`source` (SST-2 train) repeated to `rows` rows."""
  with open(source, encoding="utf-8") as f:
    header, lines = f.readline(), f.readlines()
  path = os.path.join(directory, "sst2_%d.tsv" % rows)
  with open(path, "w", encoding="utf-8") as out:
    out.write(header)
    for i in range(rows):
      out.write(lines[i % len(lines)])
  return path


def measure(data, streamed, directory):
  out = tempfile.mkdtemp(dir=directory)
  code = CHILD % dict(repo=REPO, out=out, data=data, streamed=streamed)
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
  shutil.rmtree(out, ignore_errors=True)
  line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")]
  if proc.returncode or not line:
    raise SystemExit(proc.stderr[-3000:])
  rows, seconds, rss = line[0].split()[1:]
  return int(rows), float(seconds), float(rss)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rows", default="100000,1000000,5000000")
  parser.add_argument("--peer_max", type=int, default=1000000)
  parser.add_argument("--data", default=SST2, help="a TSV with sentence and label columns")
  parser.add_argument("--tmp", default=tempfile.gettempdir())
  args = parser.parse_args()
  directory = tempfile.mkdtemp(prefix="bert_tf-stream-bench-", dir=args.tmp)
  print("| rows | ours s | ours rows/s | ours peak RSS MiB | peer s | peer peak RSS MiB | "
        "time ours/peer | RSS ours/peer |\n|---|---|---|---|---|---|---|---|")
  try:
    for rows in [int(r) for r in args.rows.split(",")]:
      data = make_file(args.data, rows, directory)
      n, seconds, rss = measure(data, True, directory)
      line = "| %d | %.1f | %.0f | %.0f" % (n, seconds, n / seconds, rss)
      if rows <= args.peer_max:
        _, peer_seconds, peer_rss = measure(data, False, directory)
        line += " | %.1f | %.0f | %.2f | %.2f |" % (peer_seconds, peer_rss, seconds / peer_seconds,
                                                 rss / peer_rss)
      else:
        line += " | not run | not run | | |"
      print(line, flush=True)
      os.remove(data)
  finally:
    shutil.rmtree(directory, ignore_errors=True)
  print("(%s; %d cores)" % (time.strftime("%Y-%m-%d"), os.cpu_count()))


if __name__ == "__main__":
  main()
