"""Convert a Hugging Face BERT directory into Google's format.

  python -m bert_tf.cli.convert --hf_dir=DIR --output_dir=OUT

writes OUT/bert_config.json, OUT/bert_model.ckpt.{index,data-*} and OUT/vocab.txt.
"""

import dataclasses
import os

from bert_tf.cli import common
from bert_tf.config import BertConfig, option
from bert_tf.errors import UsageError


@dataclasses.dataclass
class ConvertOptions:
  hf_dir: str = option(None, "Directory with config.json, model.safetensors and vocab.txt.")
  output_dir: str = option(None, "Directory to write the Google-format model into.")
  overwrite_output_dir: bool = option(False, "Replace a model already in --output_dir.")


def main(_):
  from bert_tf import modeling  # pylint: disable=g-import-not-at-top
  from bert_tf.checkpoints import convert_hf_to_google  # pylint: disable=g-import-not-at-top
  o = common.options_from_flags(ConvertOptions)
  if not o.hf_dir or not o.output_dir:
    raise UsageError("--hf_dir and --output_dir are required.")

  def check(bert_config, shapes):
    """Every weight the config asks for, with its shape, before anything is written."""
    expected = modeling.google_variable_shapes(BertConfig.from_dict(
        bert_config, os.path.join(o.hf_dir, "config.json")))
    problems = ["missing %s" % n for n in sorted(expected) if n not in shapes] + [
        "%s %s, config %s" % (n, shapes[n], expected[n]) for n in sorted(expected)
        if n in shapes and shapes[n] != expected[n]] + [
            "unexpected %s" % n for n in sorted(shapes) if n not in expected]
    if problems:
      raise UsageError("%s does not match %s: %d weight(s): %s%s." % (
          os.path.join(o.hf_dir, "model.safetensors"), os.path.join(o.hf_dir, "config.json"),
          len(problems), ", ".join(problems[:6]), ", ..." if len(problems) > 6 else ""))

  out = convert_hf_to_google(o.hf_dir, o.output_dir, check=check,
                             overwrite=o.overwrite_output_dir)
  print("Wrote %s/bert_config.json, bert_model.ckpt.*, vocab.txt" % out)


def console_main():
  common.run(main, ConvertOptions, __doc__)


if __name__ == "__main__":
  console_main()
