"""The command-line doors: the only code that reads flags (absl, Google's style).

  train.py     run_classifier.py's flags -> RunConfig -> runner.run_classifier
  features.py  the data step alone: TFRecords and label list
  predict.py   a trained run or SavedModel -> predictions for texts
  export.py    SavedModel (TF Serving), TFLite, TF-Hub
  convert.py   a Hugging Face BERT directory -> Google's checkpoint format

Flags are generated from the options' dataclass fields (`common.define_flags`), so
each option is declared once, with its help text.
"""
