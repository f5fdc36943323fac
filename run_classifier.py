"""Google's entry point, kept at the top of the repository: see bert_tf/cli/train.py.

  python run_classifier.py --task_name=MRPC --do_train=true --do_eval=true \
    --data_dir=$GLUE_DIR/MRPC --output_dir=/tmp/mrpc ...

`python run_classifier.py --help` lists every flag. All logic lives in bert_tf/.
"""

from bert_tf.cli.train import console_main

if __name__ == "__main__":
  console_main()
