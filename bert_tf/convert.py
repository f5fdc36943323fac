"""Command line: convert a Hugging Face BERT directory into Google's format.

  python -m bert_tf.convert --hf_dir DIR --output_dir OUT

writes OUT/bert_config.json, OUT/bert_model.ckpt.{index,data-*} and OUT/vocab.txt.
"""

import argparse
import sys

from bert_tf.checkpoints import convert_hf_to_google
from bert_tf.errors import UsageError


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--hf_dir", required=True,
                      help="Directory with config.json, model.safetensors and vocab.txt.")
  parser.add_argument("--output_dir", required=True,
                      help="Directory to write the Google-format model into.")
  args = parser.parse_args(argv)
  try:
    out = convert_hf_to_google(args.hf_dir, args.output_dir)
  except UsageError as e:
    print("error: %s" % e, file=sys.stderr)
    return 2
  print("Wrote %s/bert_config.json, bert_model.ckpt.*, vocab.txt" % out)
  return 0


if __name__ == "__main__":
  sys.exit(main())
