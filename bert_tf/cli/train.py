r"""Fine-tune, evaluate and predict with the flags of Google's run_classifier.py.

  python run_classifier.py --task_name=MRPC --do_train=true --do_eval=true \
    --data_dir=$GLUE_DIR/MRPC --vocab_file=$BERT_BASE_DIR/vocab.txt \
    --bert_config_file=$BERT_BASE_DIR/bert_config.json \
    --init_checkpoint=$BERT_BASE_DIR/bert_model.ckpt --max_seq_length=128 \
    --train_batch_size=32 --learning_rate=2e-5 --num_train_epochs=3.0 --output_dir=/tmp/mrpc

Without --init_checkpoint/--bert_config_file/--vocab_file it fine-tunes the embedded
all-MiniLM-L6-v2. Your own data: --train_file/--dev_file/--test_file (CSV, TSV, JSON,
JSON Lines or a folder per class) with --text_column/--label_column.
"""

from bert_tf.cli import common
from bert_tf.config import RunConfig


def config_from_flags():
  """The RunConfig of the flags; eval and predict of a trained run read their files with
  its training's column and label flags where theirs are left out."""
  config = common.options_from_flags(RunConfig)
  if config.do_train:
    return config
  return common.options_from_flags(RunConfig, common.trained_reading_options(config.output_dir))


def main(_):
  from bert_tf.runner import run_classifier  # pylint: disable=g-import-not-at-top
  result = run_classifier(config_from_flags())
  for section in ("train", "eval", "predict"):
    if section in result:
      scalars = {k: _short(v) for k, v in result[section].items()
                 if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
      print("%s: %s" % (section, ", ".join("%s=%s" % kv for kv in sorted(scalars.items()))))


def _short(value):
  return "%.4g" % value if isinstance(value, float) else value


def console_main():
  common.run(main, RunConfig, __doc__)


if __name__ == "__main__":
  console_main()
