r"""Within-task further pretraining (masked LM) on your training texts, before fine-tuning
(Sun et al. 2019). Writes a Google-format model into --output_dir that fine-tuning starts
from with --model=DIR (or --init_checkpoint=DIR/bert_model.ckpt).

  python -m bert_tf.cli.pretrain --train_file=reviews.csv --text_column=review \
      --unlabelled_file=more_reviews.txt --output_dir=runs/reviews_mlm \
      --num_train_epochs=3 --max_seq_length=128
  python run_classifier.py --do_train --do_eval --model=runs/reviews_mlm ...

The data flags are run_classifier.py's: the training set's texts are pretrained on, the
dev set's only measured (masked-LM accuracy in eval_results.txt). Killed, the same command
resumes.
"""

import dataclasses

from bert_tf.cli import common
from bert_tf.config import PRETRAIN_RUN_OPTIONS, PretrainSpec, RunConfig

NAMES = PRETRAIN_RUN_OPTIONS + tuple(f.name for f in dataclasses.fields(PretrainSpec))


@dataclasses.dataclass
class PretrainOptions(PretrainSpec, RunConfig):
  """RunConfig's data, model and optimizer options and the masking ones (for --help and
  the flags)."""

  def __post_init__(self):
    pass


def _options():
  return common.options_from_flags(RunConfig, do_train=True), common.options_from_flags(
      PretrainSpec)


def main(_):
  from bert_tf import pretraining  # pylint: disable=g-import-not-at-top
  result = pretraining.pretrain(*_options())
  if result.get("finished_before"):
    print("already pretrained (%d steps)" % result["global_step"])
  else:
    print("pretrained %d steps (%.0f s, %.1f examples/s), masked-LM loss %.4f" % (
        result["global_step"], result["train_seconds"], result["examples_per_second"],
        result["masked_lm_loss"]))
  if "eval" in result:
    ev = result["eval"]
    print("dev: masked_lm_accuracy=%.4f masked_lm_loss=%.4f (%d predictions)%s" % (
        ev["masked_lm_accuracy"], ev["masked_lm_loss"], ev["num_predictions"],
        "; before pretraining %.4f and %.4f" % (ev["initial_masked_lm_accuracy"],
                                                ev["initial_masked_lm_loss"])
        if "initial_masked_lm_accuracy" in ev else ""))
  print("model: %s (fine-tune with --model=%s)" % (result["model_dir"], result["model_dir"]))


def console_main():
  common.run(main, PretrainOptions, __doc__, names=NAMES, check=_options)


if __name__ == "__main__":
  console_main()
