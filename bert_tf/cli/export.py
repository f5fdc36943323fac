r"""Export a trained run for serving: a SavedModel for TF Serving, TFLite, or TF-Hub.

  python -m bert_tf.cli.export --output_dir=RUN --export_dir=serving/my_model   # .../1/
  python -m bert_tf.cli.export --output_dir=RUN --export_dir=tflite --format=tflite \
      --quantization=int8
  python -m bert_tf.cli.export --model=all-MiniLM-L6-v2 --export_dir=hub --format=hub
"""

import dataclasses
import os
from typing import Optional

from bert_tf.cli import common
from bert_tf.config import INFERENCE_DTYPE_HELP, INFERENCE_DTYPES, option
from bert_tf.errors import UsageError


@dataclasses.dataclass
class ExportOptions:
  output_dir: Optional[str] = option(None, "A training output_dir to export.")
  model: Optional[str] = option(None, "With --format=hub and no --output_dir: a named model or "
                                "Google-format directory to export as a TF-Hub encoder.")
  export_dir: str = option(None, "Where to write the export.")
  format: str = option("saved_model", "What to export.", choices=("saved_model", "tflite", "hub"))
  quantization: str = option("float32", "TFLite weights.", choices=("float32", "float16", "int8"))
  tflite_input: str = option("ids", "TFLite inputs: token ids (builtin ops) or one raw string "
                             "(needs tf-text's TFLite custom ops).", choices=("ids", "text"))
  checkpoint: Optional[str] = option(None, "model.ckpt-N to export (default: best, else "
                                     "latest).")
  version: Optional[int] = option(None, "SavedModel version directory (default: next).")
  dtype: str = option("float32", "The SavedModel's dtype. " + INFERENCE_DTYPE_HELP,
                      choices=INFERENCE_DTYPES)
  max_seq_length: int = option(128, "Preprocessor sequence length (--format=hub from --model).")


# Flags that only some --format values read: set with another, they would be ignored.
_FORMAT_ONLY = dict(quantization="tflite", tflite_input="tflite", version="saved_model",
                    dtype="saved_model", model="hub", max_seq_length="hub")
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ExportOptions)}


def _check_flags(o):
  if not o.export_dir:
    raise UsageError("--export_dir is required.")
  for name, fmt in _FORMAT_ONLY.items():
    # At its default value (e.g. a script's --quantization=float32) the flag changes nothing.
    if getattr(o, name) != _DEFAULTS[name] and o.format != fmt:
      raise UsageError("--%s is read only with --format=%s, not --format=%s: leave it out." %
                       (name, fmt, o.format))
  if o.output_dir and o.model:
    raise UsageError("--model exports a pretrained model; --output_dir exports a training run: "
                     "pass one of them.")
  if o.output_dir and common.FLAGS["max_seq_length"].present:
    raise UsageError("--max_seq_length is the run's own with --output_dir: leave it out.")
  if o.checkpoint and not o.output_dir:
    raise UsageError("--checkpoint picks a training run's model.ckpt-N: it needs --output_dir "
                     "(a pretrained --model is exported as it is).")
  if o.format != "hub" and not o.output_dir:
    raise UsageError("--format=%s needs --output_dir (a training run)." % o.format)


def main(_):
  from bert_tf import export, pretrained  # pylint: disable=g-import-not-at-top
  o = common.options_from_flags(ExportOptions)  # checked by _check_flags
  if o.format == "hub":
    if o.output_dir:
      paths = export.export_run_to_hub(o.output_dir, o.export_dir, o.checkpoint)
    else:
      paths = export.export_pretrained_to_hub(o.model or pretrained.DEFAULT_MODEL, o.export_dir,
                                              o.max_seq_length)
    print("TF-Hub encoder: %s\nTF-Hub preprocessor: %s" % paths)
  elif o.format == "tflite":
    path = export.tflite_path(o.export_dir, o.quantization, o.tflite_input == "text")
    export.export_tflite(o.output_dir, path, o.quantization, o.checkpoint,
                         text_input=o.tflite_input == "text")
    print("TFLite model: %s (%.1f MB)" % (path, os.path.getsize(path) / 1e6))
  else:
    path = export.export_saved_model(o.output_dir, o.export_dir, o.checkpoint, o.version,
                                     dtype=o.dtype)
    print("SavedModel for TF Serving%s: %s" % (" (bfloat16)" if o.dtype == "bfloat16" else "",
                                               path))


def console_main():
  common.run(main, ExportOptions, __doc__,
             check=lambda: _check_flags(common.options_from_flags(ExportOptions)))


if __name__ == "__main__":
  console_main()
