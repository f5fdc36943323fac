"""Parity, size and batch-1 latency of the exports of a trained run, on its dev set.

  python bench/export_parity.py --output_dir /work/runs/sst2 --task sst-2 \
      --data_dir ../shared/data/glue/SST-2

Keras (the checkpoint, float32) vs the same in bfloat16 (the Predictor's dtype), the
string-in SavedModel (float32 and bfloat16), TFLite float32, float16 and dynamic-range
int8: max |prob diff| against Keras, dev accuracy, file size, and batch-1 latency (median
of 100 single-example calls).
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bert_tf import export, predictor, processors  # noqa: E402
from bert_tf.features import featurize  # noqa: E402


def dir_size(path):
  if os.path.isfile(path):
    return os.path.getsize(path)
  return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def median_ms(fn, n=100):
  fn()  # warm up
  times = []
  for _ in range(n):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return 1000 * float(np.median(times))


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--output_dir", required=True)
  parser.add_argument("--task", default="sst-2")
  parser.add_argument("--data_dir", required=True)
  parser.add_argument("--work_dir", default=None)
  parser.add_argument("--max_examples", type=int, default=0, help="0: the whole dev set")
  args = parser.parse_args()
  work = args.work_dir or tempfile.mkdtemp(prefix="bert_tf_export_")
  examples = processors.get_processor(args.task).get_dev_examples(args.data_dir)
  if args.max_examples:
    examples = examples[:args.max_examples]
  texts = [e.text_a for e in examples]
  keras_predictor = predictor.Predictor(args.output_dir, batch_size=64)
  labels = np.array([keras_predictor.label_list.index(e.label) for e in examples])
  keras_probs = keras_predictor.predict_proba(texts)
  keras_acc = float((keras_probs.argmax(1) == labels).mean())
  ckpt = keras_predictor.checkpoint
  ckpt_size = sum(os.path.getsize(p) for p in tf.io.gfile.glob(ckpt + ".*"))
  print("%-30s acc %.4f  size %7.1f MB (checkpoint)  batch-1 %6.1f ms" % (
      "Keras (model.ckpt)", keras_acc, ckpt_size / 1e6,
      median_ms(lambda: keras_predictor.predict_proba(texts[0]))))

  bf16_predictor = predictor.Predictor(args.output_dir, batch_size=64, dtype="bfloat16")
  bf16_probs = bf16_predictor.predict_proba(texts)
  bf16_acc = float((bf16_probs.argmax(1) == labels).mean())
  print("%-30s acc %.4f  batch-1 %6.1f ms  max|diff| vs Keras %.2e  acc drop %.2f pt" % (
      "Keras, dtype=bfloat16", bf16_acc, median_ms(lambda: bf16_predictor.predict_proba(
          texts[0])), np.abs(bf16_probs - keras_probs).max(), 100 * (keras_acc - bf16_acc)))

  for dtype in ("float32", "bfloat16"):
    saved_path = export.export_saved_model(args.output_dir, os.path.join(work, "serving_" + dtype),
                                           dtype=dtype)
    saved = predictor.Predictor(saved_path, batch_size=64)
    saved_probs = saved.predict_proba(texts)
    saved_acc = float((saved_probs.argmax(1) == labels).mean())
    print("%-30s acc %.4f  size %7.1f MB  batch-1 %6.1f ms  max|diff| vs Keras %.2e  "
          "acc drop %.2f pt" % (
              "SavedModel %s (text in)" % dtype, saved_acc, dir_size(saved_path) / 1e6,
              median_ms(lambda: saved.predict_proba(texts[0])),
              np.abs(saved_probs - keras_probs).max(), 100 * (keras_acc - saved_acc)))

  length = keras_predictor.preprocessor.max_seq_length
  arrays = featurize(examples, keras_predictor.task, keras_predictor.preprocessor, num_workers=1,
                     show_progress=False)
  for quantization in export.QUANTIZATIONS:
    path = export.export_tflite(args.output_dir, os.path.join(work, "m_%s.tflite" % quantization),
                                quantization)
    interpreter = export.tflite_interpreter(path)
    row = lambda i: dict(input_word_ids=arrays.input_ids[i:i + 1],
                         input_mask=arrays.input_mask[i:i + 1],
                         input_type_ids=arrays.segment_ids[i:i + 1])
    probs = np.concatenate([export.run_tflite(interpreter, row(i)) for i in range(len(texts))])
    acc = float((probs.argmax(1) == labels).mean())
    print("%-30s acc %.4f  size %7.1f MB  batch-1 %6.1f ms  max|diff| vs Keras %.2e  "
          "acc drop %.2f pt" % (
              "TFLite %s (ids in, L=%d)" % (quantization, length), acc,
              os.path.getsize(path) / 1e6, median_ms(lambda: export.run_tflite(interpreter,
                                                                               row(0))),
              np.abs(probs - keras_probs).max(), 100 * (keras_acc - acc)))


if __name__ == "__main__":
  main()
