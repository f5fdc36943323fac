r"""The BERT paper's fine-tuning grid in one command: batch size x learning rate x epochs
(x --num_restarts seeds), with run_classifier.py's flags for everything else. Each run is
a run directory under --output_dir; the best on dev is linked as --output_dir/best.

  python -m bert_tf.cli.grid --task_name=MRPC --data_dir=glue/MRPC --output_dir=grids/mrpc \
      --batch_sizes=16,32 --learning_rates=5e-5,3e-5,2e-5 --epochs=2,3,4

Killed, the same command continues where it stopped.
"""

import dataclasses

from absl import flags

from bert_tf.cli import common
from bert_tf.config import GridSpec, RunConfig
from bert_tf.errors import UsageError


@dataclasses.dataclass
class GridOptions(GridSpec, RunConfig):
  """RunConfig's options and the grid's axes (only for --help and the flags)."""

  def __post_init__(self):
    pass


# What each point of the grid sets, and the axis that lists its values.
_AXES = dict(train_batch_size="batch_sizes", learning_rate="learning_rates",
             num_train_epochs="epochs")


def _check_flags():
  for name, axis in _AXES.items():
    if flags.FLAGS[name].present:
      raise UsageError("--%s is what the grid varies: give its values as --%s=%s (one value "
                       "is a grid of one)." % (name, axis, flags.FLAGS[name].value))
  for name in ("do_train", "do_eval"):  # every run trains and is scored on dev
    flags.FLAGS[name].parse("true")
  common.options_from_flags(RunConfig)
  common.options_from_flags(GridSpec)


def main(_):
  from bert_tf import grid  # pylint: disable=g-import-not-at-top
  rows, best = grid.run_grid(common.options_from_flags(RunConfig),
                             common.options_from_flags(GridSpec))
  width = max(len(r["run"]) for r in rows)
  for r in rows:
    print("%s %-*s  dev %s = %.4f  (%d steps, %.0f s)" % (
        "*" if r is best else " ", width, r["run"], r["metric"], r["value"], r["steps"],
        r["seconds"]))
  print("best: %s" % best["run"])


def console_main():
  common.run(main, GridOptions, __doc__, check=_check_flags)


if __name__ == "__main__":
  console_main()
