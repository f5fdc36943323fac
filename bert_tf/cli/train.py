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
import os

from absl import logging

from bert_tf import processors
from bert_tf.cli import common
from bert_tf.config import RunConfig
from bert_tf.errors import UsageError

# What eval and predict of a trained run take from its training when no flag of a group is
# given: how labels are read, whether texts are pairs, and how dev and test were split off
# the training file (another split would score examples the run trained on).
RUN_CONFIG_FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}
FROM_TRAINING = (("label_column", "label_delimiter"), ("labels_file",), ("regression",),
                 ("text_b_column",), ("dev_split", "test_split", "split_seed", "seed"))


def config_from_flags():
  """The RunConfig of the flags; eval and predict of a trained run fill in FROM_TRAINING."""
  config = common.options_from_flags(RunConfig)
  if config.do_train:
    return config
  return common.options_from_flags(RunConfig, _from_training(config.output_dir))


def _fits(name, value):
  """Whether a stored value is of the option's type (None: not stored)."""
  kind = common.flag_type(RUN_CONFIG_FIELDS[name])
  kinds = (int, float) if kind is float else (kind,)
  return isinstance(value, kinds) and isinstance(value, bool) == (kind is bool)


def _from_training(output_dir):
  from bert_tf import run_dir  # pylint: disable=g-import-not-at-top
  try:
    trained = run_dir.RunDir(output_dir).read_run_config()
  except UsageError:
    trained = None  # damaged: the run's own checks say so where it matters
  if not isinstance(trained, dict):
    return {}
  if trained.get("split_seed") is None:  # the split's seed was --seed
    trained = dict(trained, split_seed=trained.get("seed"))
  taken = {}
  for group in FROM_TRAINING:
    if not any(common.FLAGS[name].present for name in group):
      taken.update({name: trained[name] for name in group if name != "seed" and _fits(
          name, trained.get(name)) and trained[name] != RUN_CONFIG_FIELDS[name].default})
  labels_file = taken.get("labels_file")
  if labels_file is not None and not os.path.isfile(labels_file):
    logging.warning("The run's --labels_file %s (from its training) is not found from here: "
                    "pass --labels_file if the data's labels are ids into it.", labels_file)
    del taken["labels_file"]
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
