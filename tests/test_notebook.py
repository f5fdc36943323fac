"""examples/colab_finetune.ipynb runs top to bottom on CPU, with a tiny model and one
epoch put into its parameters cell (the notebook itself has no test branches)."""

import os
import re

import pytest

from conftest import TINY_CONFIG, write_google_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(REPO, "examples", "colab_finetune.ipynb")


def test_the_colab_notebook_runs_on_cpu(tmp_path):
  nbformat = pytest.importorskip("nbformat")
  nbclient = pytest.importorskip("nbclient")
  model_dir, _ = write_google_model(str(tmp_path / "tiny"), TINY_CONFIG)
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  parameters = notebook.cells[1]
  assert parameters.source.startswith("# Parameters")
  values = dict(DATA_DIR=os.path.join(REPO, "data", "movie_reviews"),
                OUTPUT_DIR=str(tmp_path / "run"), MODEL=model_dir, MAX_SEQ_LENGTH=16, EPOCHS=1,
                BATCH_SIZE=16, LEARNING_RATE=1e-3)
  for name, value in values.items():
    parameters.source, count = re.subn(r"^%s = .*$" % name, "%s = %r" % (name, value),
                                       parameters.source, flags=re.M)
    assert count == 1, name
  nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                          resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}}).execute()
  printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                    for o in c.get("outputs", []))
  assert "SavedModel:" in printed and '"instances"' in printed and '"predictions"' in printed
  assert os.path.exists(os.path.join(tmp_path, "run", "serving", "1", "saved_model.pb"))
