"""What this machine runs fast: whether mixed_bfloat16 pays on its CPU.

bfloat16 halves the cost of matrix products only where the CPU multiplies bfloat16 faster
than float32: AMX, or AVX-512 BF16 on some cores. bench/run_all.py measured mixed_bfloat16
training at 1.44x float32's speed on a 2-core AMD Zen 4 with AVX-512 BF16 (probe 1.9x),
at 1.63x on a 2-core Intel Xeon with AMX (probe 2.8-3.3x; 2.1x HF PyTorch's float32
training there), and at 0.60x on a 2-core Xeon with AVX-512 BF16 but no AMX, whose bfloat16
matmul ran at half float32's speed (bench/RESULTS_zen4.md, RESULTS_amx.md, RESULTS.md).
Feature flags do not tell these apart, so we time one product. float32 stays the default
everywhere (a run's numbers do not depend on the machine); where bfloat16 pays, a float32
training says so.
"""

import functools
import time

import numpy as np
import tensorflow as tf
from absl import logging

# Above this probe reading, mixed_bfloat16 is worth suggesting: a training step also holds
# float32 work (softmax, LayerNorm, GELU, AdamW) that bfloat16 does not speed up.
SUGGEST_BF16_ABOVE = 1.5

# One FFN product of a small BERT: big enough to reach each kernel's speed (~5-10 ms). Ten
# rounds, because over the first five a fresh process read 0.79-0.81 where later rounds read
# 0.60-0.63 (2-core Xeon).
_PROBE_SHAPE = (1024, 384, 1536)


def cpu_flags():
  """The CPU's feature flags (Linux's /proc/cpuinfo; empty elsewhere)."""
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("flags"):
          return set(line.split(":", 1)[1].split())
  except OSError:
    pass
  return set()


@functools.lru_cache(maxsize=None)
def bf16_matmul_speedup(shape=_PROBE_SHAPE, repeats=10):
  """float32's time / bfloat16's for one matrix product on the CPU (above 1: bf16 is faster):
  the best of `repeats` timings of each, taken in turn after a warm-up of both. Operands come
  from NumPy, so the probe leaves TensorFlow's random seeds as they were."""
  m, k, n = shape
  rng = np.random.default_rng(0)
  values = (rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32))
  with tf.device("/CPU:0"):
    operands = {dtype: tuple(tf.cast(v, dtype) for v in values)
                for dtype in (tf.float32, tf.bfloat16)}
    for a, b in operands.values():  # kernel selection, thread start-up
      tf.matmul(a, b).numpy()
    best = dict.fromkeys(operands, float("inf"))
    for _ in range(repeats):
      for dtype, (a, b) in operands.items():
        start = time.perf_counter()
        tf.matmul(a, b).numpy()
        best[dtype] = min(best[dtype], time.perf_counter() - start)
  return best[tf.float32] / best[tf.bfloat16]


def advise_on_precision(strategy, mixed_precision):
  """On a CPU-only training: warns when mixed_bfloat16 was asked for and this CPU's bfloat16
  products are slower than its float32 ones (the whole run is then slower, for no gain), and
  suggests it when float32 was and bfloat16 products are much faster here."""
  if (tf.config.list_logical_devices("GPU") or
      isinstance(strategy, tf.distribute.TPUStrategy)):
    return
  if mixed_precision == "mixed_bfloat16":
    warn_if_bf16_is_slow("--mixed_precision=mixed_bfloat16", "training",
                         "Leave --mixed_precision unset to train in float32.")
  elif not mixed_precision and {"amx_bf16", "avx512_bf16"} & cpu_flags():
    speedup = _probe()  # only where the CPU multiplies bfloat16 natively: it costs ~0.5 s
    if speedup and speedup > SUGGEST_BF16_ABOVE:
      logging.info("This CPU multiplies bfloat16 %.1fx faster than float32: "
                   "--mixed_precision=mixed_bfloat16 would likely train faster, with float32 "
                   "weights, softmax and LayerNorm.", speedup)


def _probe():
  """bf16_matmul_speedup(), or None where there is no bfloat16 matmul kernel."""
  try:
    return bf16_matmul_speedup()
  except tf.errors.OpError as e:  # no bfloat16 matmul kernel: a bf16 run itself will say so
    logging.info("bfloat16 speed probe failed: %s", str(e).splitlines()[0])
    return None


def warn_if_bf16_is_slow(asked, work, instead):
  """Warns that `asked` (a bfloat16 setting) will likely make `work` slower, when this CPU's
  bfloat16 products are slower than its float32 ones; `instead` says what to do. Silent
  on a GPU, where bfloat16 pays."""
  if tf.config.list_logical_devices("GPU"):
    return
  speedup = _probe()
  if speedup is None or speedup >= 1.0:
    return
  flags = cpu_flags()
  if "amx_bf16" in flags or not {"avx", "avx2"} & flags:
    why = ""  # not an x86 CPU's flags: no reason to name
  elif "avx512_bf16" in flags:
    why = " (AVX-512 BF16 without AMX)"
  else:
    why = " (no AVX-512 BF16 or AMX: bfloat16 is emulated)"
  logging.warning("%s will likely make %s slower on this CPU: its bfloat16 matrix products "
                  "ran at %.2fx float32's speed%s. %s", asked, work, speedup, why, instead)
