"""Command-line flags of run_classifier.py (Google's 25, then ours) -> RunConfig.

Only entry points (run_classifier.py, `python -m bert_tf.features`) call these;
library code never reads FLAGS.
"""

import dataclasses

from absl import flags

from bert_tf.config import RunConfig

FLAGS = flags.FLAGS


def define_flags():
  """Defines every flag once (safe to call twice)."""
  if "output_dir" in FLAGS:
    return
  # ---- Google's run_classifier.py: same names, defaults and meaning ----
  flags.DEFINE_string(
      "data_dir", None,
      "The input data dir. Should contain the .tsv files (or other data files) for the task.")
  flags.DEFINE_string(
      "bert_config_file", None,
      "The config json file corresponding to the pre-trained BERT model. This specifies the "
      "model architecture. Defaults to the one beside --init_checkpoint or of --model.")
  flags.DEFINE_string("task_name", None,
                      "The name of the task to train (cola, mnli, mrpc, sst-2, ... or 'file' "
                      "for your own CSV/TSV/JSON data).")
  flags.DEFINE_string("vocab_file", None,
                      "The vocabulary file that the BERT model was trained on.")
  flags.DEFINE_string("output_dir", None,
                      "The output directory where the model checkpoints will be written.")
  flags.DEFINE_string("init_checkpoint", None,
                      "Initial checkpoint (usually from a pre-trained BERT model).")
  flags.DEFINE_bool(
      "do_lower_case", None,
      "Whether to lower case the input text. Should be True for uncased models and False for "
      "cased models. Defaults to the model's own setting (True for Google's).")
  flags.DEFINE_integer(
      "max_seq_length", 128,
      "The maximum total input sequence length after WordPiece tokenization. Sequences longer "
      "than this will be truncated, and sequences shorter than this will be padded.")
  flags.DEFINE_bool("do_train", False, "Whether to run training.")
  flags.DEFINE_bool("do_eval", False, "Whether to run eval on the dev set.")
  flags.DEFINE_bool("do_predict", False,
                    "Whether to run the model in inference mode on the test set.")
  flags.DEFINE_integer("train_batch_size", 32, "Total batch size for training.")
  flags.DEFINE_integer("eval_batch_size", 8, "Total batch size for eval.")
  flags.DEFINE_integer("predict_batch_size", 8, "Total batch size for predict.")
  flags.DEFINE_float("learning_rate", 5e-5, "The initial learning rate for Adam.")
  flags.DEFINE_float("num_train_epochs", 3.0, "Total number of training epochs to perform.")
  flags.DEFINE_float(
      "warmup_proportion", 0.1,
      "Proportion of training to perform linear learning rate warmup for. E.g., 0.1 = 10% of "
      "training.")
  flags.DEFINE_integer("save_checkpoints_steps", 1000,
                       "How often to save the model checkpoint.")
  flags.DEFINE_integer("iterations_per_loop", 1000,
                       "How many steps to make in each estimator call (steps per "
                       "tf.function call here).")
  flags.DEFINE_bool("use_tpu", False, "Whether to use TPU or GPU/CPU.")
  flags.DEFINE_string(
      "tpu_name", None,
      "The Cloud TPU to use for training. This should be either the name used when creating "
      "the Cloud TPU, or a grpc://ip.address.of.tpu:8470 url.")
  flags.DEFINE_string(
      "tpu_zone", None,
      "[Optional] GCE zone where the Cloud TPU is located in. If not specified, we will "
      "attempt to automatically detect the GCE project from metadata.")
  flags.DEFINE_string(
      "gcp_project", None,
      "[Optional] Project name for the Cloud TPU-enabled project. If not specified, we will "
      "attempt to automatically detect the GCE project from metadata.")
  flags.DEFINE_string("master", None, "[Optional] TensorFlow master URL.")
  flags.DEFINE_integer(
      "num_tpu_cores", 8,
      "Only used if `use_tpu` is True. Total number of TPU cores to use.")

  flags.DEFINE_string("tpu_job_name", None,
                      "Name of TPU worker, if anything other than 'tpu_worker'.")

  # ---- bert_tf: model source ----
  flags.DEFINE_string(
      "model", None,
      "A named pretrained model (all-MiniLM-L6-v2, the embedded default) or a Google-format "
      "directory (bert_config.json, bert_model.ckpt, vocab.txt). Used when --init_checkpoint "
      "is not given.")
  flags.DEFINE_string(
      "bert_hub_module_handle", None,
      "A TF-Hub BERT encoder: a local SavedModel directory or a hub handle (needs network). "
      "Its vocab and casing come from the module's assets.")
  # ---- bert_tf: data ----
  flags.DEFINE_string("train_file", None, "Training data file (CSV/TSV/JSON/JSONL) or a folder "
                      "with one sub-folder per class.")
  flags.DEFINE_string("dev_file", None, "Dev data file; without it, --dev_split of train.")
  flags.DEFINE_string("test_file", None, "Test data file for --do_predict.")
  flags.DEFINE_enum("file_format", None, ["csv", "tsv", "json", "jsonl", "folder"],
                    "Format of the data files; default: from the file extension.")
  flags.DEFINE_string("text_column", "text", "Text column: a header name or a 0-based index.")
  flags.DEFINE_string("text_b_column", None, "Second text column, for sentence-pair tasks.")
  flags.DEFINE_string(
      "label_column", "label",
      "Label column (name or index). Several comma-separated columns mean multi-label with "
      "one 0/1 column per label.")
  flags.DEFINE_string("label_delimiter", None,
                      "Multi-label in one column: the delimiter between labels, e.g. ','.")
  flags.DEFINE_string("labels_file", None,
                      "File with one label name per line; integer labels index into it.")
  flags.DEFINE_string("label_list", None,
                      "Comma-separated label names, fixing their order (default: sorted "
                      "labels of the training data).")
  flags.DEFINE_bool("header", None, "Whether CSV/TSV files have a header row (default: yes).")
  flags.DEFINE_string("encoding", "utf-8", "Encoding of the data files (utf-8, utf-8-sig, "
                      "latin-1, ...).")
  flags.DEFINE_bool("regression", False, "The label is a number (e.g. STS-B scores).")
  flags.DEFINE_float("dev_split", 0.1, "Fraction of train used as dev when there is no dev "
                     "file (stratified, seeded by --seed).")
  flags.DEFINE_float("test_split", 0.0, "Fraction of train used as test when there is no test "
                     "file.")
  flags.DEFINE_integer("max_train_examples", 0, "Use only the first N training examples (0: all).")
  flags.DEFINE_integer("max_eval_examples", 0, "Use only the first N dev examples (0: all).")
  flags.DEFINE_enum("truncation", "head", ["head", "tail", "head_tail"],
                    "How to cut single texts longer than max_seq_length.")
  flags.DEFINE_integer("head_tokens", 128, "Tokens kept from the start with "
                       "--truncation=head_tail; the rest come from the end.")
  # ---- bert_tf: model head and training ----
  flags.DEFINE_integer("head_hidden_size", 0, "Hidden layer of the classifier head (0: none).")
  flags.DEFINE_float("head_dropout", 0.1, "Dropout before the classifier head.")
  flags.DEFINE_bool("freeze_encoder", False, "Train only the classifier head.")
  flags.DEFINE_string("class_weights", None, "Single-label loss weight per class: 'balanced' "
                      "(n / (num_labels * count)) or one number per label in label order.")
  flags.DEFINE_float("weight_decay", 0.01, "AdamW weight decay (not on LayerNorm or biases).")
  flags.DEFINE_float("clip_norm", 1.0, "Global-norm gradient clipping (0: off).")
  flags.DEFINE_bool("adam_bias_correction", False,
                    "Use Adam bias correction (Google's AdamWeightDecay has none).")
  flags.DEFINE_float("layerwise_lr_decay", 1.0,
                     "Multiply the learning rate by this per layer below the top (1: off).")
  flags.DEFINE_enum("strategy", "auto", ["auto", "default", "mirrored", "tpu", "multi_worker"],
                    "tf.distribute strategy; auto: TPU with --use_tpu, multi-worker with "
                    "TF_CONFIG, mirrored with several GPUs, else default.")
  flags.DEFINE_enum("mixed_precision", None, ["mixed_float16", "mixed_bfloat16", "float32"],
                    "Keras mixed precision policy.")
  flags.DEFINE_bool("use_xla", False, "Compile the train step with XLA.")
  flags.DEFINE_integer("seed", 12345, "Random seed (initialisation, shuffling, dev split).")
  flags.DEFINE_bool("dynamic_padding", True, "Trim batches to their longest example and "
                    "group similar lengths (CPU/GPU; off on TPU).")
  flags.DEFINE_integer("keep_checkpoint_max", 5, "How many model.ckpt-N to keep.")
  flags.DEFINE_integer("eval_every_steps", 0, "Evaluate on dev every N steps (0: at the end, "
                       "or each epoch with early stopping).")
  flags.DEFINE_integer("early_stopping_patience", 0, "Stop after this many evaluations "
                       "without improvement (0: off).")
  flags.DEFINE_string("best_metric", None, "Dev metric that picks the best checkpoint "
                      "(default: the task's main metric).")
  flags.DEFINE_string("eval_checkpoint", None, "Evaluate/predict with this checkpoint "
                      "(e.g. output_dir/model.ckpt-1000) instead of the latest.")
  flags.DEFINE_integer("log_every_steps", 50, "Log training loss every N steps.")


def run_config_from_flags():
  """Builds the RunConfig from parsed flags (raises UsageError on bad combinations)."""
  names = [f.name for f in dataclasses.fields(RunConfig)]
  return RunConfig(**{name: FLAGS[name].value for name in names})
