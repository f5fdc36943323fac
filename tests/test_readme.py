"""The README's code blocks that can run here, run (with the tiny model standing in for
MiniLM where a block trains)."""

import os
import re
import subprocess
import sys

from bert_tf.config import RunConfig
from bert_tf.runner import run_classifier
from conftest import TINY_CONFIG, write_google_model
from test_training import write_sentiment_csv

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python_block(containing):
  readme = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
  blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
  return next(b for b in blocks if containing in b)


def test_the_tflite_snippet_classifies_a_sentence(tmp_path):
  from bert_tf import export
  model_dir, _ = write_google_model(str(tmp_path / "tiny"), TINY_CONFIG)
  data = tmp_path / "data"
  data.mkdir()
  write_sentiment_csv(str(data / "train.csv"), 32, seed=1)
  out = str(tmp_path / "run")
  run_classifier(RunConfig(output_dir=out, data_dir=str(data), task_name="file", do_train=True,
                           model=model_dir, max_seq_length=16, num_train_epochs=1,
                           train_batch_size=16))
  export.export_tflite(out, str(tmp_path / "tflite" / "model_ids_float32.tflite"))
  proc = subprocess.run([sys.executable, "-c", _python_block("Interpreter(model_path")],
                        capture_output=True, text=True, cwd=str(tmp_path), timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  label, _ = proc.stdout.split(" ", 1)
  assert label in ("neg", "pos")
