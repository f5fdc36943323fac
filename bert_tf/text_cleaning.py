"""Optional cleaning of web text before tokenization (--clean_text), in Python and as
TensorFlow ops, the same rules in both so that training, the Predictor and a
string-in SavedModel see the same text:

  Unicode NFKC (full-width -> half-width, compatibility forms) -> URLs -> "URL",
  e-mail addresses -> "EMAIL", @mentions -> "@USER", a character repeated 4+ times
  -> 3 times ("soooooo" -> "sooo").

The patterns use only syntax that Python's `re` and RE2 (TensorFlow) read alike
(ASCII classes, no back-references; the repeat rule is written out in each). Where a rule
needs Unicode's white space, its characters are listed: RE2's \s is ASCII only.
"""

import re
import unicodedata

# Python's \s on str: every character with str.isspace() (\x1c-\x1f, \x85, \u2028, ...).
_WHITE_SPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
URL = r"(?:https?://|www\.)[^%s]+" % _WHITE_SPACE
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
MENTION = r"@[A-Za-z0-9_]+"
REPLACEMENTS = ((URL, "URL"), (EMAIL, "EMAIL"), (MENTION, "@USER"))
MAX_REPEAT = 3
_REPEATS = re.compile(r"(.)\1{%d,}" % MAX_REPEAT, re.S)


def clean_text(text):
  """The cleaning rules applied to one Python string."""
  text = unicodedata.normalize("NFKC", text)
  for pattern, replacement in REPLACEMENTS:
    text = re.sub(pattern, replacement, text)
  return _REPEATS.sub(r"\1" * MAX_REPEAT, text)


def clean_text_graph(text):
  """The same rules on a [batch] string tensor (tensorflow-text for NFKC)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_text as tf_text  # pylint: disable=g-import-not-at-top
  text = tf_text.normalize_utf8(text, "NFKC")
  for pattern, replacement in REPLACEMENTS:
    text = tf.strings.regex_replace(text, pattern, replacement)
  codes = tf.strings.unicode_decode(text, "UTF-8")
  # Drop a character when it equals each of the MAX_REPEAT characters before it.
  repeated = tf.ones_like(codes[:, MAX_REPEAT:], tf.bool)
  for back in range(1, MAX_REPEAT + 1):
    repeated &= tf.equal(codes[:, MAX_REPEAT:], codes[:, MAX_REPEAT - back:-back])
  keep = tf.concat([tf.ones_like(codes[:, :MAX_REPEAT], tf.bool), ~repeated], axis=1)
  return tf.strings.unicode_encode(tf.ragged.boolean_mask(codes, keep), "UTF-8")
