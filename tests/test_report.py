"""report.html: inline charts, settings, per-class / per-label tables with the numbers of
eval_results.json, the best checkpoint, and run directories that lack most files."""

import ast
import base64
import json
import os
import re

from bert_tf import report, run_dir
from bert_tf.runner import run_classifier
from test_training import _config, tiny_setup, write_sentiment_csv  # noqa: F401 (fixture)

PNG = "data:image/png;base64,"


def _page(out):
  with open(os.path.join(out, run_dir.REPORT), encoding="utf-8") as f:
    return f.read()


def _render(run):
  assert report.write_report(run) == run.path(run_dir.REPORT)
  return _page(run.directory)


def _images(page):
  """The inline PNGs of a page, decoded."""
  return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def _num_cells(*values):
  return "".join('<td class="num">%s</td>' % v for v in values)


def test_single_label_report(tiny_setup):  # noqa: F811
  out = str(tiny_setup["tmp"] / "single")
  run_classifier(_config(tiny_setup, out, do_train=True, do_eval=True, num_train_epochs=1,
                         eval_every_steps=4))
  page, run = _page(out), run_dir.RunDir(out)
  images = _images(page)
  # loss, dev accuracy, learning rate, confusion matrix counts and row-normalised
  assert len(images) == 5 and all(i.startswith(b"\x89PNG\r\n\x1a\n") for i in images)
  assert page.count(PNG) == 5 and "<svg" not in page
  for name, value in (("Learning rate", "0.002"), ("Epochs", "1"), ("Train batch size", "16"),
                      ("Max sequence length", "16"), ("Task", "classification"),
                      ("Labels", "neg, pos"), ("Evaluate every", "4 steps")):
    assert "<td>%s</td><td>%s</td>" % (name, value) in page, name
  results = run.read_eval_results()
  for label in ("neg", "pos", "macro avg"):
    entry = results["eval_classification_report"][label]
    row = "<td>%s</td>%s" % (label, _num_cells(
        "%.4f" % entry["precision"], "%.4f" % entry["recall"], "%.4f" % entry["f1-score"],
        "%d" % entry["support"]))
    assert row in page, row
  assert entry["support"] == 32  # macro avg: all dev examples
  assert ("<td>f1 (binary, positive label pos)</td>" + _num_cells("%.4f" % results["eval_f1"])
          in page)
  assert ("<tr class=\"main\"><td>accuracy</td>" + _num_cells("%.4f" % results["eval_accuracy"])
          in page)
  state = run.read_training_state()
  assert state["best_step"] in (4, 8, 12, 16)
  assert "Best checkpoint: step %d (dev accuracy %.4f), kept in best/." % (
      state["best_step"], state["best_value"]) in page
  assert "Confusion matrix" in page and "32 dev examples" in page


def test_multi_label_report_and_warnings(tiny_setup):  # noqa: F811
  data = tiny_setup["tmp"] / "ml"
  data.mkdir()
  write_sentiment_csv(str(data / "train.csv"), 64, 1, multi_label=True)
  write_sentiment_csv(str(data / "dev.csv"), 24, 2, multi_label=True)
  out = str(tiny_setup["tmp"] / "ml_out")
  run_classifier(_config(tiny_setup, out, data_dir=str(data), label_column="pos,neg",
                         do_train=True, do_eval=True, num_train_epochs=1, eval_every_steps=2))
  page, run = _page(out), run_dir.RunDir(out)
  # loss, dev f1_micro, learning rate, a precision-recall + ROC image per label; no confusion
  assert len(_images(page)) == 5
  results = run.read_eval_results()
  chosen = run.read_threshold_choices()
  for label in ("pos", "neg"):
    entry = results["eval_per_label"][label]
    assert entry["support"] == 12
    row = "<td>%s</td>%s<td>%s</td>%s" % (
        label, _num_cells(12, "%.4f" % entry["threshold"]), chosen[label]["chosen_by"],
        _num_cells(*("%.4f" % entry[k] for k in ("precision", "recall", "f1", "roc_auc"))))
    assert row in page, row
  assert "per-label F1 optimum (12 dev positives)" in page
  assert "Labels per dev example: <strong>1.00 true</strong>, <strong>%.2f predicted</strong>" % (
      results["eval_label_cardinality_predicted"]) in page
  assert "Best checkpoint: step %d (dev f1_micro " % run.read_training_state()["best_step"] in page
  assert "<td>Task</td><td>multi-label</td>" in page
  for label in ("pos", "neg"):
    assert 'alt="precision-recall and ROC of %s, threshold %.3f"' % (
        label, results["eval_per_label"][label]["threshold"]) in page
  assert "Test results" not in page
  run.write_test_metrics(dict(f1_micro=0.625, exact_match=0.5))
  page = _render(run)
  assert "<h2>Test results</h2>" in page and "<td>f1_micro</td>" + _num_cells("0.6250") in page
  # Warnings of the dev predictions are shown at the top of the page, escaped.
  results["eval_warnings"] = ["1 label(s) predicted for >= 95% of examples (pos<b>)"]
  run.write_eval_results(results)
  page = _render(run)
  warning = page.index("class='warn'")
  assert warning < page.index("<h2>Settings</h2>")
  assert ("Dev predictions look degenerate: 1 label(s) predicted for &gt;= 95% of examples "
          "(pos&lt;b&gt;).") in page


def test_a_sparse_regression_run_and_missing_files(tmp_path):
  """The demo's case (one training log, at the last step; one evaluation after training),
  a directory with nothing but model_info.json, and an unreadable eval_results.json."""
  run = run_dir.RunDir(str(tmp_path / "run"))
  run.create()
  run.write_model_info(run_dir.ModelInfo(task=dict(kind="regression", label_list=[]),
                                         preprocessor=dict(max_seq_length=48)))
  page = _render(run)
  assert PNG not in page and "<h2>Training</h2>" not in page and "Dev results" not in page
  assert "<td>Max sequence length</td><td>48</td>" in page and "class='warn'" not in page
  run.append_history(run_dir.TRAIN_HISTORY, dict(step=30, loss=0.4, learning_rate=0.0))
  run.write_run_config(json.dumps(dict(learning_rate=1e-4, warmup_proportion=0.1)), "running")
  run.write_eval_results(dict(eval_pearson=0.81234, eval_spearman=0.7, eval_mse=0.61,
                              eval_loss=0.6, global_step=30, main_metric="pearson"))
  page = _render(run)
  assert len(_images(page)) == 3  # loss (train and dev), dev pearson, learning rate
  assert '<tr class="main"><td>pearson</td>' + _num_cells("0.8123") in page
  assert "<td>mse</td>" + _num_cells("0.6100") in page
  assert "Best checkpoint" not in page  # no evaluation during training
  # Dev predictions: a predicted-vs-true scatter and the most distant ones, worst first.
  from bert_tf import tasks
  from bert_tf.processors import InputExample
  examples = [InputExample(str(i), "text %d" % i, None, float(i)) for i in range(5)]
  run.write_predictions(examples, tasks.Regression(), [[0.0], [1.2], [2.0], [0.5], [4.1]],
                        run_dir.EVAL_PREDICTIONS)
  page = _render(run)
  assert len(_images(page)) == 4 and "The 3 largest errors on dev" in page
  assert page.index("<td>text 3</td>") < page.index("<td>text 1</td>") < page.index(
      "<td>text 4</td>")  # |0.5 - 3| > |1.2 - 1| > |4.1 - 4|
  assert "<td>text 0</td>" not in page and "<td>text 2</td>" not in page  # exact: no error
  with open(run.path(run_dir.EVAL_RESULTS + ".json"), "w") as f:
    f.write("{not json")
  page = _render(run)
  assert "eval_results.json cannot be read" in page and "Dev results" not in page


def test_matplotlib_is_imported_only_when_a_chart_is_drawn():
  """(tf_keras may import it on its own when installed; report.py adds no import of it.)"""
  with open(report.__file__, encoding="utf-8") as f:
    module = ast.parse(f.read())
  top_level = [alias.name if isinstance(node, ast.Import) else node.module
               for node in module.body if isinstance(node, (ast.Import, ast.ImportFrom))
               for alias in node.names]
  assert "bert_tf" in top_level and not [m for m in top_level if m.startswith("matplotlib")]
  from matplotlib.backends import backend_agg  # pylint: disable=g-import-not-at-top
  assert isinstance(report._figure(2, 2).canvas, backend_agg.FigureCanvasAgg)  # noqa
