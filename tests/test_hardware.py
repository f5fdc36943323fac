"""Whether mixed_bfloat16 pays on this CPU: the probe, and the warning it drives."""

import math

import pytest
import tensorflow as tf

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
  hardware.warn_if_bf16_is_slow(tf.distribute.get_strategy())
  if said:
    assert "mixed_bfloat16 will likely make training slower" in caplog.text
    assert said in caplog.text
  else:
    assert "mixed_bfloat16" not in caplog.text
