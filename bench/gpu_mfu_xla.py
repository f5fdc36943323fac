"""Our training step's XLA programs on a machine without TensorFlow, against HF PyTorch there.

  python bench/gpu_mfu.py --export_stablehlo DIR     # where TensorFlow is (a CPU will do)
  python bench/gpu_mfu_xla.py DIR                    # on the GPU: needs jax and, for the peer,
                                                     # torch + transformers

A GPU machine may have no TensorFlow that sees its GPU. TensorFlow compiles run_classifier.py's
--use_xla step (forward and backward) into one XLA program; gpu_mfu.py writes that program, as
TensorFlow hands it to XLA, in StableHLO. Here JAX's XLA compiles and runs it, so the GPU runs
our math, not a re-implementation. Differences from a TensorFlow GPU run: XLA's version (JAX's,
not TensorFlow's), and the optimizer update, which run_classifier.py runs op by op and this
bench runs as one compiled program, called from Python with every variable as an argument.

First the checks: the check programs (dropout off) on weights both sides make from a seed,
against TensorFlow's own loss and gradients for them (CPU, no XLA). Then, per batch, examples/s
of the forward-backward alone and followed by the optimizer update (the two times added), their
MFU against the --peak_tflops datasheet and against a bf16 matrix product measured in the same
run; then HF's BertForSequenceClassification at the same shape (random init, GELU in Google's
tanh form as ours, bf16 autocast, fused AdamW with weight decay on every parameter and a
constant learning rate, clip 1.0), in a child process.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

TRACED_STEPS = 4  # --profile traces a warm-up and 3 steps of each traced program


def _jax():
  """jax with 64-bit ints (the labels are int64) and no up-front grab of the device memory
  (the peer runs after us)."""
  os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
  import jax  # pylint: disable=g-import-not-at-top
  import jax.profiler  # pylint: disable=g-import-not-at-top,unused-import
  jax.config.update("jax_enable_x64", True)
  return jax


def compile_program(path):
  """A loaded executable for the StableHLO module (text) at `path` on the first device.
  jax has no public call for a module it did not trace: this uses its backend client."""
  from jax._src.lib import xla_client  # pylint: disable=g-import-not-at-top
  from jax.extend import backend  # pylint: disable=g-import-not-at-top
  client = backend.get_backend()
  with open(path) as f:
    module = f.read()
  devices = xla_client.DeviceList(tuple(client.local_devices()[:1]))
  compile_fn = getattr(client, "compile_and_load", None) or client.compile  # jax >= 0.7 / older
  return compile_fn(module, devices, xla_client.CompileOptions())


def check_values(shape, seed, name):
  """Weights both sides make without carrying them: uniform with BERT's init std (0.02),
  LayerNorm gammas near 1. The same numpy stream on any machine (PCG64's random())."""
  values = np.random.default_rng(seed).random(shape, dtype=np.float32)
  if "gamma" in name:
    return (0.9 + 0.2 * values).astype(np.float32)
  return ((values - 0.5) * 0.0693).astype(np.float32)


def timing_values(param, rng, vocab_size):
  """Inputs for a timed run: token ids in the vocabulary, full masks, one segment, example
  weights of 1, BERT-like weights, non-negative second moments."""
  shape, dtype, name = param["shape"], param["dtype"], param["name"]
  if name.endswith("input_word_ids"):
    return rng.integers(1000, vocab_size, shape).astype(dtype)
  if name.endswith("input_mask") or name == "weights":
    return np.ones(shape, dtype)
  if dtype.startswith("int"):  # segment ids, labels, the step counter
    return np.zeros(shape, dtype)
  values = rng.random(shape, dtype=np.float32)
  if "gamma" in name or "adam_v" in name:
    return values
  return ((values - 0.5) * 0.0693).astype(dtype)


def stepper(executable, buffers, aliases):
  """call() that runs one step and feeds the updated variables back: TensorFlow's variable
  updates donate their input buffers (`aliases`: [output index, parameter index] pairs, from
  the module), which a second call could not reuse."""
  def call():
    out = executable.execute(buffers)
    for output, param in aliases:
      buffers[param] = out[output]
    return out
  return call


def _await_arrays(out):
  for array in out:
    array.block_until_ready()


def seconds_per_call(call, steps, repeats=3, warmups=1, wait=_await_arrays):
  """(median, min) seconds per call() over `repeats` runs of `steps` calls, after warm-ups;
  wait(the last call's result) returns once the device has finished it."""
  for _ in range(warmups):
    wait(call())
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    for _ in range(steps):
      out = call()
    wait(out)
    times.append((time.perf_counter() - start) / steps)
  return float(np.median(times)), float(min(times))


def relative_error(out, ref):
  out, ref = np.asarray(out, np.float64).ravel(), np.asarray(ref, np.float64).ravel()
  return float(np.linalg.norm(out - ref) / max(np.linalg.norm(ref), 1e-30))


def check(jax, bundle, program):
  """Relative errors of a check program's loss and gradients against TensorFlow's."""
  ref = np.load(os.path.join(bundle, program["reference"]))
  device = jax.devices()[0]
  host = [ref["input:%d" % i] if p["role"] == "input" else check_values(p["shape"], i, p["name"])
          for i, p in enumerate(program["params"])]
  executable = compile_program(os.path.join(bundle, program["file"]))
  out = [np.asarray(o) for o in executable.execute([jax.device_put(a, device) for a in host])]
  if len(out) != 1 + len(ref["names"]):
    raise SystemExit("%s: %d outputs, expected the loss and %d gradients" % (
        program["name"], len(out), len(ref["names"])))
  loss, grads = out[0], dict(zip(ref["names"], out[1:]))
  norms = np.array([np.linalg.norm(grads[n].astype(np.float64)) for n in ref["names"]])
  by_norm = np.abs(norms - ref["grad_norms"]) / np.maximum(ref["grad_norms"], 1e-30)
  small = sorted(k[len("grad:"):] for k in ref.files if k.startswith("grad:"))
  return dict(precision=program["precision"], loss=float(loss), tf_loss=float(ref["loss"]),
              loss_error=relative_error(loss, ref["loss"]),
              grad_norms_error=relative_error(norms, ref["grad_norms"]),
              grad_norm_error_median=float(np.median(by_norm)),
              small_grads_error=relative_error(np.concatenate([grads[n].ravel() for n in small]),
                                               np.concatenate([ref["grad:" + n].ravel()
                                                               for n in small])),
              grads=len(norms), small_grads=len(small))


def time_programs(jax, bundle, manifest, batches, steps, profile=None):
  """{program name: (seconds a step median, min)} of the timed programs at `batches`; a
  program whose step does not fit in the device's memory is left out. With `profile`, a
  jax.profiler trace of the largest batch's forward-backward and of the optimizer."""
  device = jax.devices()[0]
  rng = np.random.default_rng(0)
  seconds, traced = {}, []
  for program in manifest["programs"]:
    if program["kind"] == "check" or program.get("batch", batches[0]) not in batches:
      continue
    start = time.perf_counter()
    executable = compile_program(os.path.join(bundle, program["file"]))
    buffers = [jax.device_put(timing_values(p, rng, manifest["config"]["vocab_size"]), device)
               for p in program["params"]]
    loaded_s = time.perf_counter() - start
    call = stepper(executable, buffers, program["aliases"])
    name = program["name"]
    try:
      seconds[name] = seconds_per_call(call, steps)
    except jax.errors.JaxRuntimeError as e:
      if "RESOURCE_EXHAUSTED" not in str(e):
        raise
      print("  %-22s does not fit (%s)" % (name, str(e).splitlines()[0][:120]), flush=True)
      continue
    print("  %-22s compiled + loaded in %5.1f s; %.2f ms a step (median), %.2f (min)" % (
        name, loaded_s, 1e3 * seconds[name][0], 1e3 * seconds[name][1]), flush=True)
    if profile and name in ("forward_backward_b%d" % max(batches), "optimizer"):
      traced.append(call)
    del executable, buffers, call
  if traced:
    with jax.profiler.trace(profile):
      for call in traced:
        seconds_per_call(call, TRACED_STEPS - 1, repeats=1)  # + its warm-up
  return seconds


def matmul_tflops(jax, n=8192, steps=10):
  """TFLOP/s of a bf16 [n, n] x [n, n] product on random data: the device's reachable peak."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  keys = jax.random.split(jax.random.PRNGKey(0), 2)
  a, b = (jax.random.normal(k, (n, n), jnp.bfloat16) for k in keys)
  product = jax.jit(lambda x, y: x @ y)
  median, _ = seconds_per_call(lambda: [product(a, b)], steps)
  return 2 * n ** 3 / median / 1e12


def hf_seconds(config, seq, batches, steps):
  """{batch: (seconds a step median, min)} of HF BERT at our shape; a batch that does not fit
  is left out. Runs in its own process (after ours has freed the device)."""
  import torch  # pylint: disable=g-import-not-at-top
  from transformers import BertConfig, BertForSequenceClassification  # pylint: disable=g-import-not-at-top
  from hf_peer import hf_train_step  # pylint: disable=g-import-not-at-top
  # Google's "gelu" is the tanh approximation, which HF calls "gelu_new".
  hf_config = BertConfig(num_labels=2, **dict(
      config, hidden_act={"gelu": "gelu_new"}.get(config["hidden_act"], config["hidden_act"])))
  device = "cuda" if torch.cuda.is_available() else "cpu"
  sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
  seconds = {}
  for batch in batches:
    torch.manual_seed(0)
    model = BertForSequenceClassification(hf_config).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, eps=1e-6, weight_decay=0.01,
                                  fused=device == "cuda")
    step = hf_train_step(model, optimizer, torch.bfloat16)
    ids = torch.randint(1000, config["vocab_size"], (batch, seq), device=device)
    data = (ids, torch.ones_like(ids), torch.zeros_like(ids),
            torch.randint(0, 2, (batch,), device=device))
    try:
      seconds[batch] = seconds_per_call(lambda: step(data), steps, warmups=2,
                                        wait=lambda _: sync())
    except torch.cuda.OutOfMemoryError:
      print("HF batch %d does not fit" % batch, file=sys.stderr)
    del model, optimizer, step
    if device == "cuda":
      torch.cuda.empty_cache()
  return seconds


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("bundle", help="the folder gpu_mfu.py --export_stablehlo wrote")
  parser.add_argument("--steps", type=int, default=10, help="steps per timed run (3 runs)")
  parser.add_argument("--peak_tflops", type=float, default=989.0,
                      help="the device's dense bf16 datasheet peak (H100/H200 SXM: 989)")
  parser.add_argument("--batches", help="comma-separated: time only these of the bundle's")
  parser.add_argument("--no_peer", action="store_true")
  parser.add_argument("--profile", metavar="DIR", help="write a jax.profiler trace there")
  parser.add_argument("--no_checks", action="store_true")
  parser.add_argument("--checks_only", action="store_true",
                      help="run the check programs only (e.g. on a CPU, before a GPU run)")
  parser.add_argument("--peer_only", action="store_true", help=argparse.SUPPRESS)
  args = parser.parse_args()
  with open(os.path.join(args.bundle, "manifest.json")) as f:
    manifest = json.load(f)
  batches = sorted(p["batch"] for p in manifest["programs"] if p["kind"] == "forward_backward"
                   and (args.batches is None or str(p["batch"]) in args.batches.split(",")))
  if not batches:
    raise SystemExit("no forward-backward program in %s at --batches=%s" % (args.bundle,
                                                                           args.batches))
  if args.peer_only:
    print(json.dumps(hf_seconds(manifest["config"], manifest["seq"], batches, args.steps)))
    return
  jax = _jax()
  device = jax.devices()[0]
  c = manifest["config"]
  print("device: %s (%s), jax %s; shape: %d layers, hidden %d, seq %d; %s + XLA" % (
      device.device_kind, device.platform, jax.__version__, c["num_hidden_layers"],
      c["hidden_size"], manifest["seq"], manifest["precision"]), flush=True)
  measured_peak = matmul_tflops(jax) if device.platform == "gpu" else float("nan")
  print("bf16 matrix product 8192^3: %.0f TFLOP/s (datasheet %.0f)" % (
      measured_peak, args.peak_tflops), flush=True)
  for program in [] if args.no_checks else manifest["programs"]:
    if program["kind"] == "check":
      print("check: %s" % json.dumps(check(jax, args.bundle, program)), flush=True)
  if args.checks_only:
    return
  seconds = time_programs(jax, args.bundle, manifest, batches, args.steps, args.profile)
  batches = [b for b in batches if "forward_backward_b%d" % b in seconds]
  if not batches:
    raise SystemExit("no batch fits")
  peer = {} if args.no_peer else run_peer(args, batches)
  report(manifest, batches, seconds, peer, args.peak_tflops, measured_peak)


def run_peer(args, batches):
  out = subprocess.run([sys.executable, __file__, args.bundle, "--peer_only", "--steps",
                        str(args.steps), "--batches", ",".join(map(str, batches))],
                       capture_output=True, text=True, check=False)
  if out.returncode:
    print("peer failed:\n" + out.stderr[-3000:])
    return {}
  return {int(k): v for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def report(manifest, batches, seconds, peer, peak, measured_peak):
  flops = manifest["flops_per_example"]
  optimizer = seconds.get("optimizer", (float("nan"),))[0]
  mfu = lambda rate: "%.1f%% / %.1f%%" % (100 * rate * flops / 1e12 / peak,
                                          100 * rate * flops / 1e12 / measured_peak)
  print("\nMFU: of the %.0f TFLOP/s datasheet peak / of the %.0f TFLOP/s bf16 product measured "
        "above; %.2f GFLOP per example (6 x encoder parameters + attention, every position; "
        "the pooler once)." % (peak, measured_peak, flops / 1e9))
  print("\n| batch | ours fwd+bwd ex/s (MFU) | ours step ex/s (MFU) | HF step ex/s (MFU) "
        "| ours step / HF |")
  print("|---|---|---|---|---|")
  for batch in batches:
    forward_backward = seconds["forward_backward_b%d" % batch][0]
    ours, step = batch / forward_backward, batch / (forward_backward + optimizer)
    hf = batch / peer[batch][0] if batch in peer else float("nan")
    print("| %d | %.0f (%s) | %.0f (%s) | %.0f (%s) | %.2fx |" % (
        batch, ours, mfu(ours), step, mfu(step), hf, mfu(hf), step / hf))
  print("\nstep = forward-backward + the optimizer update (clip + AdamW, one compiled program: "
        "%.2f ms), one after the other." % (1e3 * optimizer))
  for name, (no_dropout, _) in sorted(seconds.items()):
    batch = int(name.rsplit("_b", 1)[1]) if "no_dropout" in name else None
    if batch in batches:
      with_dropout = seconds["forward_backward_b%d" % batch][0]
      print("without dropout, batch %d: forward-backward %.2f ms against %.2f ms with it "
            "(dropout's random numbers and masks: %.0f%% of the forward-backward)." % (
                batch, 1e3 * no_dropout, 1e3 * with_dropout,
                100 * (with_dropout - no_dropout) / with_dropout))


if __name__ == "__main__":
  main()
