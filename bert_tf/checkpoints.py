"""Checkpoint I/O by variable name: Google TF1 checkpoints and HF safetensors.

This module knows file formats and name tables, not models: callers hand it a
{checkpoint name: variable} map (see `modeling.google_variable_map`).

  * `write_checkpoint` writes a TF1-format (V2 bundle) checkpoint with plain
    Google names, `bert_model.ckpt.index` + `.data-00000-of-00001`, atomically.
  * `restore_variables` loads such a checkpoint into variables by name and reports
    missing, unexpected and mis-shaped variables by name, in one line.
  * `read_safetensors` reads a .safetensors file with NumPy (no torch).
  * `convert_hf_to_google` turns a Hugging Face BERT directory into a Google one.
"""

import glob
import json
import os
import re
import shutil
import struct
import tempfile

import numpy as np
import tensorflow as tf

from bert_tf.errors import TMP_PREFIX, UsageError, atomic_path, reported_write

_SAFETENSORS_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
    "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}


# ============================================================================
# TF1 checkpoints (Google's format)
# ============================================================================
def write_checkpoint(arrays, checkpoint_prefix):
  """Writes {name: array} as a TF1-format checkpoint at `checkpoint_prefix`.

  The bundle is written under a temporary prefix in the same directory, then its
  files are renamed into place, the .index last: a reader never sees a partial one.
  """
  directory = os.path.dirname(os.path.abspath(checkpoint_prefix))
  with reported_write(checkpoint_prefix):
    os.makedirs(directory, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=TMP_PREFIX + "ckpt-", dir=directory)
  try:
    tmp_prefix = os.path.join(tmp_dir, "ckpt")
    names = sorted(arrays)
    with reported_write(checkpoint_prefix):
      tf.raw_ops.SaveV2(prefix=tmp_prefix, tensor_names=names,
                        shape_and_slices=[""] * len(names),
                        tensors=[tf.convert_to_tensor(arrays[n]) for n in names])
      for path in sorted(glob.glob(tmp_prefix + ".data-*")):
        os.replace(path, checkpoint_prefix + path[len(tmp_prefix):])
      os.replace(tmp_prefix + ".index", checkpoint_prefix + ".index")
  finally:
    shutil.rmtree(tmp_dir, ignore_errors=True)


def checkpoint_exists(checkpoint_prefix):
  return os.path.exists(checkpoint_prefix + ".index")


def _open_checkpoint(checkpoint_path):
  checkpoint_path = _checkpoint_prefix(checkpoint_path)
  if not checkpoint_exists(checkpoint_path):
    raise UsageError("Checkpoint %s not found (expected %s.index and .data-* files)." %
                     (checkpoint_path, checkpoint_path))
  try:
    return checkpoint_path, tf.train.load_checkpoint(checkpoint_path)
  except (tf.errors.OpError, ValueError) as e:
    raise UsageError("Checkpoint %s cannot be read (truncated or corrupt?): %s" %
                     (checkpoint_path, str(e).splitlines()[0])) from None


def _checkpoint_prefix(path):
  """A checkpoint's prefix from what a user may pass: the prefix, one of its files
  (model.ckpt.index), or a directory holding one checkpoint (or a `checkpoint` index)."""
  found = re.fullmatch(r"(.+)\.(index|data-\d+-of-\d+)", path)
  if found and not os.path.isdir(path) and checkpoint_exists(found.group(1)):
    return found.group(1)
  if not os.path.isdir(path):
    return path
  latest = tf.train.latest_checkpoint(path)
  if latest:
    return latest
  candidates = sorted(p[:-len(".index")] for p in glob.glob(os.path.join(path, "*.index")))
  if not candidates:
    raise UsageError("No checkpoint found in directory %s." % path)
  if len(candidates) > 1:
    raise UsageError("%s holds %d checkpoints (%s) and no `checkpoint` index naming the latest: "
                     "pass one of them, e.g. %s." % (
                         path, len(candidates), _short_list([os.path.basename(c)
                                                             for c in candidates]),
                         candidates[0]))
  return candidates[0]


def list_checkpoint(checkpoint_path):
  """{name: shape} of the variables stored in a checkpoint."""
  _, reader = _open_checkpoint(checkpoint_path)
  return reader.get_variable_to_shape_map()


def restore_variables(variable_map, checkpoint_path, allow_unused=False):
  """Assigns checkpoint tensors to `variable_map`'s variables by name (all of them read
  and checked first, by read_variables). Returns the checkpoint names not used."""
  values, unused = read_variables({n: v.shape for n, v in variable_map.items()},
                                  checkpoint_path, allow_unused)
  for name, variable in variable_map.items():
    variable.assign(tf.cast(values[name], variable.dtype))
  return unused


def read_variables(shapes, checkpoint_path, allow_unused=False):
  """({name: value} for every name of `shapes` ({name: shape}), the names not asked for).

  Raises a one-line UsageError naming every missing or mis-shaped variable (and every
  checkpoint variable that nothing asked for, unless `allow_unused` is True or says True
  for its name), or the first that cannot be read: a truncated file fails here, before
  anything is assigned or written.
  """
  path, reader = _open_checkpoint(checkpoint_path)
  stored = reader.get_variable_to_shape_map()
  missing = sorted(n for n in shapes if n not in stored)
  misshaped = sorted("%s %s vs model %s" % (n, list(stored[n]), list(shape))
                     for n, shape in shapes.items()
                     if n in stored and list(stored[n]) != list(shape))
  unused = sorted(n for n in stored if n not in shapes)
  unexpected = [n for n in unused
                if not (allow_unused(n) if callable(allow_unused) else allow_unused)]
  problems = []
  if missing:
    problems.append("missing %d: %s" % (len(missing), _short_list(missing)))
  if misshaped:
    problems.append("wrong shape %d: %s" % (len(misshaped), _short_list(misshaped)))
  if unexpected:
    problems.append("unexpected %d: %s" % (len(unexpected), _short_list(unexpected)))
  if problems and "_CHECKPOINTABLE_OBJECT_GRAPH" in stored:
    raise UsageError("Checkpoint %s is a TF2 object-based checkpoint (tf.train.Checkpoint, Keras "
                     "save_weights), not Google's name-based one: convert its weights with "
                     "bert_tf.modeling.save_google_checkpoint." % path)
  if problems:
    raise UsageError("Checkpoint %s does not match the model: %s." % (path, "; ".join(problems)))
  values = {}
  for name in shapes:
    try:
      values[name] = reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError) as e:
      raise UsageError("Checkpoint %s: variable %s cannot be read (truncated or corrupt?): %s" %
                       (path, name, str(e).splitlines()[0])) from None
  return values, unused


def _short_list(names, limit=8):
  shown = ", ".join(names[:limit])
  return shown + (", ... (%d more)" % (len(names) - limit) if len(names) > limit else "")


# ============================================================================
# Hugging Face safetensors -> Google format
# ============================================================================
# The JSON header of a safetensors file; real ones are kilobytes.
MAX_SAFETENSORS_HEADER = 100 * 2 ** 20


def read_safetensors(path):
  """Reads a .safetensors file into {name: np.ndarray} without torch.

  The header is validated before anything is allocated from it: a truncated or hostile
  file is a one-line UsageError, never a MemoryError or a traceback.
  """
  size = os.path.getsize(path)
  with open(path, "rb") as f:
    prefix = f.read(8)
    header_size = struct.unpack("<Q", prefix)[0] if len(prefix) == 8 else -1
    if not 0 < header_size <= min(MAX_SAFETENSORS_HEADER, size - 8):
      raise UsageError("%s is not a valid safetensors file (header length %d, file size %d)." %
                       (path, header_size, size))
    try:
      header = json.loads(f.read(header_size))
    except ValueError as e:
      raise UsageError("%s: the safetensors header is not valid JSON (%s)." % (path, e)) from None
    data = f.read()
  if not isinstance(header, dict):
    raise UsageError("%s: the safetensors header is not a JSON object." % path)
  return {name: _safetensor(path, name, info, data) for name, info in header.items()
          if name != "__metadata__"}


def _safetensor(path, name, info, data):
  try:
    dtype = _SAFETENSORS_DTYPES[info["dtype"]]
    start, end = (int(x) for x in info["data_offsets"])
    shape = [int(d) for d in info["shape"]]
  except (KeyError, TypeError, ValueError):
    raise UsageError("%s: tensor %s has a malformed or unsupported entry %r." % (
        path, name, str(info)[:100])) from None
  expected = int(np.prod(shape)) * np.dtype(dtype).itemsize
  if not 0 <= start <= end <= len(data) or end - start != expected:
    raise UsageError("%s: tensor %s points outside the file or has the wrong size (truncated?)."
                     % (path, name))
  return np.frombuffer(data[start:end], dtype=dtype).reshape(shape).copy()


def hf_name_to_google(name):
  """Maps a HF BertModel weight name to (Google name, transpose?) or None to skip.

  e.g. encoder.layer.3.attention.self.query.weight -> bert/encoder/layer_3/
  attention/self/query/kernel (transposed: torch Linear stores [out, in]).
  """
  name = re.sub(r"^bert\.", "", name)
  if not re.match(r"^(embeddings|encoder|pooler)\.", name) or name.endswith("position_ids"):
    return None
  name = re.sub(r"\.layer\.(\d+)\.", r".layer_\1.", name)
  parts = name.split(".")
  leaf = parts[-1]
  path = "/".join(parts[:-1])
  if parts[-2] == "LayerNorm":
    leaf = {"weight": "gamma", "gamma": "gamma", "bias": "beta", "beta": "beta"}[leaf]
    return "bert/%s/%s" % (path, leaf), False
  if parts[-2].endswith("_embeddings"):
    return "bert/%s" % path, False
  leaf = {"weight": "kernel", "bias": "bias"}[leaf]
  return "bert/%s/%s" % (path, leaf), leaf == "kernel"


def hf_config_to_google(hf_config):
  """HF BertConfig dict -> bert_config.json dict (exact erf GELU named explicitly)."""
  act = hf_config.get("hidden_act", "gelu")
  act = {"gelu": "gelu_exact", "gelu_new": "gelu", "gelu_pytorch_tanh": "gelu"}.get(act, act)
  if hf_config.get("position_embedding_type", "absolute") != "absolute":
    raise UsageError("Only absolute position embeddings are supported, got %r." %
                     hf_config["position_embedding_type"])
  keys = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
          "intermediate_size", "hidden_dropout_prob", "attention_probs_dropout_prob",
          "max_position_embeddings", "type_vocab_size", "initializer_range")
  out = {k: hf_config[k] for k in keys if k in hf_config}
  out["hidden_act"] = act
  return out


# What a conversion writes: an output_dir holding anything else is the user's, not ours.
_CONVERTED = re.compile(r"^(bert_config\.json|vocab\.txt|tokenizer_config\.json|"
                        r"bert_model\.ckpt\.(index|data-\d+-of-\d+))$")


def _check_conversion_target(hf_dir, output_dir, overwrite=False):
  """The converted directory replaces `output_dir` whole: only an earlier conversion's, and
  one that holds a model only when told to."""
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise UsageError("--output_dir %s is a file: pass a new directory." % output_dir)
  if os.path.isdir(output_dir) and os.path.isdir(hf_dir) and os.path.samefile(output_dir, hf_dir):
    raise UsageError("--output_dir %s is --hf_dir: write the conversion into a new directory "
                     "(it replaces the directory's contents)." % output_dir)
  try:
    names = os.listdir(output_dir) if os.path.isdir(output_dir) else []
  except OSError as e:
    raise UsageError("--output_dir %s cannot be read: %s." % (output_dir, e.strerror)) from None
  others = sorted(n for n in names if not _CONVERTED.match(n))
  if others:
    raise UsageError("--output_dir %s holds files a conversion does not write (%s): the "
                     "conversion replaces the directory, so pass a new or empty one." % (
                         output_dir, ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")))
  if "bert_model.ckpt.index" in names and not overwrite:
    raise UsageError("--output_dir %s already holds a model (bert_model.ckpt): pass "
                     "--overwrite_output_dir to replace it, or a new directory." % output_dir)


def _json_object(path):
  """A JSON file that must hold an object, or a one-line UsageError naming it."""
  try:
    with open(path, encoding="utf-8") as f:
      value = json.load(f)
  except (OSError, UnicodeDecodeError, ValueError) as e:
    raise UsageError("%s cannot be read as JSON: %s." % (path, str(e).splitlines()[0][:120])
                     ) from None
  if not isinstance(value, dict):
    raise UsageError("%s does not hold a JSON object." % path)
  return value


def casing_in(tokenizer_config):
  """do_lower_case of a tokenizer_config.json (ours or Hugging Face's): true, false or None."""
  stored = _json_object(tokenizer_config).get("do_lower_case")
  if stored is not None and not isinstance(stored, bool):
    raise UsageError("%s: do_lower_case must be true or false (JSON), got %s." % (
        tokenizer_config, json.dumps(stored)))
  return stored


def _hf_casing(hf_dir):
  """A Hugging Face tokenizer's casing: tokenizer_config.json's do_lower_case, else the fast
  tokenizer's normalizer (tokenizer.json), else True (BERT's default)."""
  path = os.path.join(hf_dir, "tokenizer_config.json")
  stored = casing_in(path) if os.path.exists(path) else None
  fast = os.path.join(hf_dir, "tokenizer.json")
  if stored is None and os.path.exists(fast):
    normalizer = _json_object(fast).get("normalizer") or {}
    if isinstance(normalizer, dict) and isinstance(normalizer.get("lowercase"), bool):
      stored = normalizer["lowercase"]
  return True if stored is None else stored


def convert_hf_to_google(hf_dir, output_dir, check=None, overwrite=False):
  """Converts a HF BERT directory (config.json, model.safetensors, vocab.txt).

  Writes bert_config.json, bert_model.ckpt.* and vocab.txt into `output_dir`
  (built in a temporary directory and renamed into place). `check(bert_config_dict,
  {name: shape})` may refuse the weights first; a model already in `output_dir` is replaced
  only with `overwrite`. Returns output_dir.
  """
  _check_conversion_target(hf_dir, output_dir, overwrite)
  for required in ("config.json", "model.safetensors", "vocab.txt"):
    if not os.path.exists(os.path.join(hf_dir, required)):
      raise UsageError("%s is not a Hugging Face BERT directory: %s is missing." %
                       (hf_dir, required))
  hf_config = _json_object(os.path.join(hf_dir, "config.json"))
  if hf_config.get("model_type", "bert") != "bert":
    raise UsageError("%s/config.json: model_type is %r, only 'bert' can be converted." %
                     (hf_dir, hf_config.get("model_type")))
  arrays = {}
  for hf_name, value in read_safetensors(os.path.join(hf_dir, "model.safetensors")).items():
    mapped = hf_name_to_google(hf_name)
    if mapped is None:
      continue
    google_name, transpose = mapped
    arrays[google_name] = np.ascontiguousarray(value.T if transpose else value, dtype=np.float32)
  if not arrays:
    raise UsageError("%s/model.safetensors holds no BERT weights under Hugging Face's names "
                     "(bert.embeddings..., bert.encoder.layer.N...): is it a BertModel's?" % hf_dir)
  google_config = hf_config_to_google(hf_config)
  if check is not None:
    check(google_config, {name: list(value.shape) for name, value in arrays.items()})
  do_lower_case = _hf_casing(hf_dir)
  with atomic_path(output_dir) as tmp_dir:
    os.makedirs(tmp_dir)
    with open(os.path.join(tmp_dir, "bert_config.json"), "w", encoding="utf-8") as f:
      json.dump(google_config, f, indent=2, sort_keys=True)
      f.write("\n")
    shutil.copyfile(os.path.join(hf_dir, "vocab.txt"), os.path.join(tmp_dir, "vocab.txt"))
    # Casing is not part of Google's format; record it beside the config.
    with open(os.path.join(tmp_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
      json.dump({"do_lower_case": do_lower_case}, f)
      f.write("\n")
    write_checkpoint(arrays, os.path.join(tmp_dir, "bert_model.ckpt"))
  return output_dir
