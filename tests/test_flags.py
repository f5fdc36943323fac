"""run_classifier.py keeps Google's 25 flags (names and defaults); code style rules."""

import ast
import importlib.util
import os
import pathlib

import pytest
from absl import flags

from bert_tf import flags as bert_flags
from bert_tf.config import RunConfig
from bert_tf.errors import UsageError

REPO = pathlib.Path(__file__).resolve().parent.parent


def _google_flag_defaults():
  """{flag: default} from Google's run_classifier.py source (PyPI bert-tensorflow)."""
  pytest.importorskip("bert.tokenization")
  spec = importlib.util.find_spec("bert")
  source = open(os.path.join(os.path.dirname(spec.origin), "run_classifier.py")).read()
  defaults = {}
  for node in ast.walk(ast.parse(source)):
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and
        node.func.attr.startswith("DEFINE_")):
      defaults[node.args[0].value] = ast.literal_eval(node.args[1])
  return defaults


def test_all_google_flags_with_their_defaults():
  bert_flags.define_flags()
  google = _google_flag_defaults()
  # The 25 of google-research/bert, plus tpu_job_name in the PyPI release.
  assert len(google) == 26 and "tpu_job_name" in google
  for name, default in google.items():
    assert name in flags.FLAGS, name
    ours = flags.FLAGS[name].default
    if name == "do_lower_case":
      # None means "the model's own casing", which is True for Google's checkpoints.
      assert ours is None and default is True
    else:
      assert ours == default, (name, ours, default)
  # Every RunConfig field is a flag and vice versa for ours.
  import dataclasses
  assert all(f.name in flags.FLAGS for f in dataclasses.fields(RunConfig))


@pytest.mark.parametrize("kwargs,message", [
    (dict(), "At least one of --do_train"),
    (dict(do_train=True, max_seq_length=1024), "--max_seq_length"),
    (dict(do_train=True, use_tpu=True), "--use_tpu needs --tpu_name"),
    (dict(do_train=True, init_checkpoint="a", bert_hub_module_handle="b"), "either"),
    (dict(do_train=True, warmup_proportion=1.5), "--warmup_proportion"),
    (dict(do_train=True, regression=True, label_delimiter=","), "--regression"),
])
def test_bad_flag_combinations(kwargs, message):
  with pytest.raises(UsageError, match=message):
    RunConfig(output_dir="/tmp/x", task_name="cola", **kwargs)


def test_no_keras3_imports_in_the_package():
  """One Keras everywhere: tf_keras (Keras 2 API), which tensorflow_hub needs."""
  for path in (REPO / "bert_tf").glob("*.py"):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
      if isinstance(node, ast.Import):
        assert all(a.name != "keras" and not a.name.startswith("keras.") for a in node.names), path
      if isinstance(node, ast.ImportFrom):
        assert node.module != "keras" and not (node.module or "").startswith("keras."), path
        assert not (node.module == "tensorflow" and any(a.name == "keras" for a in node.names)), path
    assert "tf.keras" not in path.read_text(), path


def test_library_never_reads_flags():
  for path in (REPO / "bert_tf").glob("*.py"):
    if path.name in ("flags.py",):
      continue
    text = path.read_text()
    body = text.split('if __name__ == "__main__":')[0]
    assert "FLAGS." not in body or path.name in ("predictor.py", "export.py", "features.py"), path
