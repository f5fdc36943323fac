r"""Only the data step: write train/eval/predict TFRecords (Google's feature names) and
label_list.txt into --output_dir, with the flags of run_classifier.py (without any
--do_* flag: every set that has data).

  python -m bert_tf.cli.features --task_name=sst-2 --data_dir=... --output_dir=... \
      --max_seq_length=128
"""

from absl import flags

from bert_tf.cli import common
from bert_tf.config import RunConfig


def _options():
  sets = ("do_train", "do_eval", "do_predict")
  if not any(flags.FLAGS[name].value for name in sets):  # all sets that have data
    for name in sets:
      flags.FLAGS[name].parse("true")
  return common.options_from_flags(RunConfig)


def main(_):
  from bert_tf import runner  # pylint: disable=g-import-not-at-top
  for name, info in runner.prepare_data(_options()).items():
    print("%-5s %7d examples -> %s%s" % (name, info.num_real_examples, ", ".join(info.paths),
                                         " (reused)" if info.reused else ""))


def console_main():
  common.run(main, RunConfig, __doc__, check=_options)


if __name__ == "__main__":
  console_main()
