"""Whether mixed_bfloat16 pays on this CPU: the probe, and the warning it drives."""

import math

import pytest
import tensorflow as tf
from absl import logging as absl_logging

from bert_tf import hardware


def test_the_probe_times_both_precisions():
  speedup = hardware.bf16_matmul_speedup(shape=(64, 32, 48), repeats=2)
  assert math.isfinite(speedup) and speedup > 0


@pytest.mark.parametrize("speedup, flags, said", [
    (0.55, {"avx2", "avx512_bf16"}, "ran at 0.55x float32's speed (AVX-512 BF16 without AMX)"),
    (0.30, {"avx2"}, "ran at 0.30x float32's speed (no AVX-512 BF16 or AMX: bfloat16 is emulated)"),
    (0.70, set(), "ran at 0.70x float32's speed. Leave"),  # no x86 flags: no reason named
    (1.60, {"avx512_bf16"}, None),
])
def test_a_cpu_whose_bf16_is_slower_is_named_in_a_warning(monkeypatch, caplog, speedup, flags,
                                                           said):
  monkeypatch.setattr(hardware, "bf16_matmul_speedup", lambda: speedup)
  monkeypatch.setattr(hardware, "cpu_flags", lambda: flags)
  hardware.advise_on_precision(tf.distribute.get_strategy(), "mixed_bfloat16")
  if said:
    assert "mixed_bfloat16 will likely make training slower" in caplog.text
    assert said in caplog.text
  else:
    assert "mixed_bfloat16" not in caplog.text


@pytest.mark.parametrize("speedup, flags, suggested", [
    (2.8, {"avx2", "avx512_bf16", "amx_bf16"}, True),
    (1.2, {"avx2", "avx512_bf16"}, False),  # too little to pay for float32's share of a step
    (2.8, {"avx2"}, False),  # emulated bfloat16: the probe is not even run
])
def test_float32_training_on_a_cpu_fast_in_bf16_suggests_it(monkeypatch, caplog, speedup, flags,
                                                            suggested):
  probed = []
  monkeypatch.setattr(hardware, "bf16_matmul_speedup", lambda: probed.append(1) or speedup)
  monkeypatch.setattr(hardware, "cpu_flags", lambda: flags)
  level = absl_logging.get_verbosity()  # an earlier test may have quietened absl
  absl_logging.set_verbosity(absl_logging.INFO)
  try:
    with caplog.at_level("INFO"):
      hardware.advise_on_precision(tf.distribute.get_strategy(), None)
  finally:
    absl_logging.set_verbosity(level)
  assert ("--mixed_precision=mixed_bfloat16 would likely train faster" in caplog.text) == suggested
  assert bool(probed) == bool({"amx_bf16", "avx512_bf16"} & flags)
  assert "slower" not in caplog.text

