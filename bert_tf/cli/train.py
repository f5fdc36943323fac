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

import dataclasses

from absl import logging

from bert_tf import processors
from bert_tf.cli import common
from bert_tf.config import RunConfig, settings_from_training
from bert_tf.errors import UsageError


def config_from_flags():
  """The RunConfig of the flags; eval and predict of a trained run take what the user does
  not give from its training (config.FROM_TRAINING)."""
  config = common.options_from_flags(RunConfig)
  if config.do_train:
    return config
  return common.options_from_flags(RunConfig, _from_training(config.output_dir))


def _from_training(output_dir):
  from bert_tf import run_dir  # pylint: disable=g-import-not-at-top
  try:
    trained = run_dir.RunDir(output_dir).read_run_config()
  except UsageError:
    trained = None  # damaged: the run's own checks say so where it matters
  if not isinstance(trained, dict):
    return {}
  given = [f.name for f in dataclasses.fields(RunConfig) if common.FLAGS[f.name].present]
  taken = settings_from_training(trained, given)
  if taken:
    logging.info("As in the run's training: %s.", " ".join(
        "--%s=%s" % item for item in sorted(taken.items())))
  return taken


def main(_):
  from bert_tf.runner import run_classifier  # pylint: disable=g-import-not-at-top
  config = config_from_flags()
  processors.check_no_columns_for_folders(
      (config.train_file, config.dev_file, config.test_file),
      [name for name in processors.COLUMN_OPTIONS if common.FLAGS[name].present])
  result = run_classifier(config)
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
