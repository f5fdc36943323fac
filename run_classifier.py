"""BERT fine-tuning runner with the flags of Google's run_classifier.py.

  python run_classifier.py --task_name=MRPC --do_train=true --do_eval=true \
    --data_dir=$GLUE_DIR/MRPC --vocab_file=$BERT_BASE_DIR/vocab.txt \
    --bert_config_file=$BERT_BASE_DIR/bert_config.json \
    --init_checkpoint=$BERT_BASE_DIR/bert_model.ckpt --max_seq_length=128 \
    --train_batch_size=32 --learning_rate=2e-5 --num_train_epochs=3.0 --output_dir=/tmp/mrpc

Without --init_checkpoint/--bert_config_file/--vocab_file it fine-tunes the embedded
all-MiniLM-L6-v2. `--helpfull` lists every flag. All logic lives in bert_tf/.
"""

from absl import flags

from bert_tf import flags as bert_flags
from bert_tf.errors import run_main
from bert_tf.runner import run_classifier

bert_flags.define_flags()
flags.mark_flag_as_required("output_dir")


def main(_):
  result = run_classifier(bert_flags.run_config_from_flags())
  for section in ("train", "eval", "predict"):
    if section in result:
      scalars = {k: v for k, v in result[section].items() if isinstance(v, (int, float, str))}
      print("%s: %s" % (section, ", ".join("%s=%s" % kv for kv in sorted(scalars.items()))))


def console_main():
  run_main(main)


if __name__ == "__main__":
  console_main()
