"""report.html for a run: one self-contained page, readable offline.

What the page shows, each part only when the run directory holds what it needs (a
missing file leaves its part out; an unreadable one is named at the top of the page):
  * warnings about the dev predictions (multi-label), at the top;
  * the run's settings (run_config.json, model_info.json) as a small table;
  * charts over steps, inline base64 PNGs: train and dev loss on one chart, the
    learning rate, the task's dev metric; the best checkpoint (training_state.json)
    is marked on them;
  * dev results (eval_results.json): the metrics table, then per kind of task
    single-label: confusion matrix (counts and row-normalised), per-class
      precision/recall/F1/support; binary F1 names its positive label;
    multi-label: per-label support, threshold and how it was chosen (thresholds.json),
      precision/recall/F1/ROC-AUC, and labels per example, true against predicted;
    regression: Pearson, Spearman, MSE in the metrics table, predicted-vs-true scatter;
    multi-label also: precision-recall and ROC curves per label, the threshold marked;
  * the 20 largest dev errors (the task's `error` column of eval_predictions.csv), with text;
  * the metrics of a labelled test file (test_results.json).

matplotlib is imported here only, when a chart is drawn (importing bert_tf stays light),
and draws on its Agg canvas directly: no display, no pyplot state shared with the caller.
"""

import base64
import html
import io
import math
import os
import warnings

from bert_tf import run_dir
from bert_tf.metrics import LOWER_IS_BETTER
from bert_tf.errors import UsageError, write_text_atomic

TRAIN_COLOR, DEV_COLOR, BEST_COLOR, METRIC_COLOR = "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"
# Dev metrics that live in [0, 1] (or [-1, 1]): their chart spans that whole range.
_BOUNDED = ("accuracy", "f1", "mcc", "roc_auc", "exact_match", "pearson", "spearman", "corr",
            "hamming_loss")
# Shown apart from the dev metrics table (or not at all).
_NOT_IN_METRICS_TABLE = ("eval_label_cardinality_true", "eval_label_cardinality_predicted",
                         "eval_num_examples", "eval_f1_positive_label")
_REPORT_ROWS = ("macro avg", "weighted avg")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;
 max-width:1140px;padding:0 16px;color:#222;line-height:1.4}
h1{font-size:1.5em;margin:0 0 4px} h2{font-size:1.2em;margin:28px 0 8px;
 border-bottom:1px solid #ddd;padding-bottom:4px} h3{font-size:1em;margin:16px 0 6px}
.sub{color:#666;margin:0 0 12px;word-break:break-all} .note{color:#555;margin:6px 0}
table{border-collapse:collapse;margin:6px 0 10px;font-size:.92em}
td,th{padding:4px 10px;border:1px solid #ddd;text-align:left;vertical-align:top}
th{background:#f5f5f5} td.num{text-align:right;font-variant-numeric:tabular-nums}
table.settings td:first-child{color:#555;white-space:nowrap} table.settings td{word-break:break-all}
tr.avg td{background:#fafafa;font-style:italic} tr.muted td{color:#999}
tr.main td{font-weight:bold}
.charts{display:flex;flex-wrap:wrap;gap:12px} .charts img{max-width:100%;height:auto;
 border:1px solid #eee}
.warn{background:#fff4e5;border:1px solid #f0a040;border-left:6px solid #e67e00;
 padding:8px 14px;margin:12px 0} .warn ul{margin:4px 0;padding-left:20px}
.best{background:#eef8ee;border-left:6px solid #2ca02c;padding:6px 12px;margin:8px 0}
"""


def write_report(run):
  """Writes the run directory's report.html (atomically) and returns its path."""
  data = _gather(run)
  parts = [_header(run, data), _problems(data), _settings(data), _charts(data),
           _dev_results(data), _test_results(data)]
  page = ("<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
          "<meta name='viewport' content='width=device-width, initial-scale=1'>"
          "<title>bert_tf report: %s</title><style>%s</style></head><body>\n%s\n</body></html>\n"
          % (_e(os.path.basename(os.path.abspath(run.directory))), _CSS,
             "\n".join(p for p in parts if p)))
  path = run.path(run_dir.REPORT)
  write_text_atomic(path, page)
  return path


# ---- reading the run directory ----
def _gather(run):
  """Everything the page shows, as plain dicts and lists; unreadable files -> data["problems"]."""
  problems = []

  def read(reader):
    try:
      return reader()
    except UsageError as e:
      problems.append(str(e))
      return None

  info = read(run.read_model_info)
  part = lambda name: _as_dict(getattr(info, name, None))
  return dict(
      problems=problems, task=part("task"), preprocessor=part("preprocessor"),
      identity=part("identity"), config=_as_dict(read(run.read_run_config)),
      state=_as_dict(read(run.read_training_state)),
      results=_as_dict(read(run.read_eval_results)),
      thresholds=_as_dict(read(run.read_threshold_choices)),
      dev_rows=read(lambda: run.read_predictions(run_dir.EVAL_PREDICTIONS)) or [],
      test=_as_dict(read(run.read_test_metrics)),
      train=[r for r in run.history(run_dir.TRAIN_HISTORY) if isinstance(r.get("step"), int)],
      evals=[r for r in run.history(run_dir.EVAL_HISTORY) if isinstance(r.get("step"), int)])


def _as_dict(value):
  return value if isinstance(value, dict) else {}


def _metric_name(data):
  """The dev metric the run optimises: its best_metric, else the task's main metric."""
  name = str(data["state"].get("best_metric") or data["results"].get("main_metric")
             or data["task"].get("main_metric") or "")
  return name[len("eval_"):] if name.startswith("eval_") else name


def _kind(data):
  kind = data["task"].get("kind") or ("regression" if data["config"].get("regression") else "")
  return str(kind).replace("_", "-")


def _label_list(data):
  labels = data["task"].get("label_list")
  return [str(l) for l in labels] if isinstance(labels, list) else []


# ---- formatting ----
def _e(value):
  return html.escape(str(value))


def _is_number(value):
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt(value, digits=4):
  """A number for a table cell: ints as they are, floats with `digits` decimals."""
  if not _is_number(value):
    return "" if value is None else str(value)
  if isinstance(value, int):
    return str(value)
  if not math.isfinite(value):
    return "n/a"
  return "%.*f" % (digits, value) if abs(value) >= 10 ** -digits or value == 0 else "%.3g" % value


def _table(headers, rows, css_class="", row_classes=None):
  """rows: lists of cells; a number goes right-aligned, anything else is escaped text."""
  def cell(value):
    return ('<td class="num">%s</td>' % _fmt(value) if _is_number(value)
            else "<td>%s</td>" % _e("" if value is None else value))
  head = "<tr>%s</tr>" % "".join("<th>%s</th>" % _e(h) for h in headers) if headers else ""
  body = "".join('<tr class="%s">%s</tr>' % ((row_classes or {}).get(i, ""),
                                              "".join(cell(v) for v in row))
                 for i, row in enumerate(rows))
  return '<table class="%s">%s%s</table>' % (css_class, head, body)


# ---- page sections ----
def _header(run, data):
  results, labels = data["results"], _label_list(data)
  parts = [_kind(data)]
  if labels:
    parts.append("%d labels" % len(labels))
  metric = _metric_name(data)
  if _is_number(results.get("eval_" + metric)):
    parts.append("dev %s %s" % (metric, _fmt(results["eval_" + metric])))
  if results.get("checkpoint_path"):
    checkpoint = os.path.abspath(str(results["checkpoint_path"]))
    inside = checkpoint.startswith(os.path.join(os.path.abspath(run.directory), ""))
    parts.append("evaluated %s" % (os.path.relpath(checkpoint, os.path.abspath(run.directory))
                                   if inside else checkpoint))
  return ("<h1>bert_tf run report</h1><p class='sub'>%s</p><p>%s</p>" % (
      _e(os.path.abspath(run.directory)), _e(" · ".join(p for p in parts if p))))


def _problems(data):
  """Unreadable files and the dev predictions' warnings, at the top where they are seen."""
  items = ["%s" % p for p in data["problems"]]
  found = data["results"].get("eval_warnings")
  items += ["Dev predictions look degenerate: %s." % w for w in found
            if isinstance(w, str)] if isinstance(found, list) else []
  if not items:
    return ""
  return "<div class='warn'><strong>Warnings</strong><ul>%s</ul></div>" % "".join(
      "<li>%s</li>" % _e(i) for i in items)


def _settings(data):
  """The run's settings: a small table of what decides the result."""
  c, kind, labels = data["config"], _kind(data), _label_list(data)
  if kind and c.get("task_name") and c.get("task_name") != "file":
    kind = "%s (%s)" % (kind, c["task_name"])
  shown = labels if len(labels) <= 40 else labels[:40] + ["... (%d labels)" % len(labels)]
  rows = [("Model", _model_text(data)), ("Task", kind), ("Labels", ", ".join(shown) or None),
          ("Training data", c.get("train_file") or c.get("data_dir")),
          ("Learning rate", c.get("learning_rate")), ("Epochs", c.get("num_train_epochs")),
          ("Train batch size", c.get("train_batch_size")),
          ("Max sequence length", c.get("max_seq_length")
           or data["preprocessor"].get("max_seq_length")),
          ("Warmup proportion", c.get("warmup_proportion")),
          ("Evaluate every", "%s steps" % c["eval_every_steps"]
           if c.get("eval_every_steps") else None)]
  rows = [[name, "%g" % v if isinstance(v, float) else str(v)] for name, v in rows
          if v not in (None, "")]
  return "<h2>Settings</h2>" + _table(None, rows, "settings") if rows else ""


def _model_text(data):
  """The model's name or checkpoint, and its size when model_info.json records it."""
  c, model = data["config"], _as_dict(data["identity"].get("model"))
  name = (c.get("model") or c.get("bert_hub_module_handle") or c.get("init_checkpoint")
          or model.get("hub_module_handle") or model.get("checkpoint"))
  bert = _as_dict(model.get("bert_config"))
  if isinstance(name, str) and bert.get("num_hidden_layers") and bert.get("hidden_size"):
    name += " (%s layers, hidden %s)" % (bert["num_hidden_layers"], bert["hidden_size"])
  return name


def _best_text(data):
  state = data["state"]
  if not _is_number(state.get("best_step")):
    return ""
  text = "Best checkpoint: step %d" % state["best_step"]
  if _is_number(state.get("best_value")):
    text += " (dev %s %s)" % (_metric_name(data), _fmt(state["best_value"]))
  text += ", kept in best/."
  if _is_number(state.get("stopped_early_at")):
    text += " Training stopped early at step %d." % state["stopped_early_at"]
  return "<p class='best'>%s</p>" % _e(text)


# ---- charts ----
def _series(data):
  """(train loss, dev loss, learning rate, dev metric) as lists of (step, value)."""
  def points(records, key):
    return [(r["step"], r[key]) for r in records
            if _is_number(r.get(key)) and math.isfinite(r[key])]
  results, metric = data["results"], _metric_name(data)
  evals = data["evals"]
  if not evals and _is_number(results.get("global_step")):  # evaluated once, after training
    evals = [{metric: results.get("eval_" + metric), "loss": results.get("eval_loss"),
              "step": results["global_step"]}]
  return (points(data["train"], "loss"), points(evals, "loss"),
          points(data["train"], "learning_rate"), points(evals, metric))


def _charts(data):
  train_loss, dev_loss, lr, metric_points = _series(data)
  if not (train_loss or dev_loss or lr or metric_points):
    return ""
  state, metric = data["state"], _metric_name(data)
  best = state.get("best_step") if _is_number(state.get("best_step")) else None
  best_value = state.get("best_value") if _is_number(state.get("best_value")) else None
  steps = [s for s, _ in train_loss + dev_loss + lr + metric_points] + ([best] if best else [])
  x_max = max(steps)
  images = []
  if train_loss or dev_loss:
    images.append(_line_chart("Loss", "loss", [_line("train loss", train_loss, TRAIN_COLOR, "o"),
                                               _line("dev loss", dev_loss, DEV_COLOR, "s")],
                              x_max, best=best))
  if metric_points:
    direction = "lower" if metric in LOWER_IS_BETTER else "higher"
    images.append(_line_chart("Dev %s (%s is better)" % (metric, direction), metric,
                              [_line("dev " + metric, metric_points, METRIC_COLOR, "D")], x_max,
                              best=best, best_value=best_value,
                              bounded=any(metric.startswith(b) for b in _BOUNDED)))
  if lr:
    schedule = _planned_schedule(data["config"], lr)
    images.append(_line_chart("Learning rate", "learning rate", [
        _line("schedule (warmup, linear decay)", schedule, "#999999", None),
        _line("logged", lr, TRAIN_COLOR, "o", linestyle="none" if schedule else "-",
              annotate=not schedule)],
                              x_max))
  return ("<h2>Training</h2>%s<div class='charts'>%s</div>" % (_best_text(data),
                                                               "".join(images)))


def _line(label, points, color, marker, linestyle="-", annotate=True):
  return dict(label=label, points=points, color=color, marker=marker, linestyle=linestyle,
              annotate=annotate)


def _planned_schedule(config, logged):
  """Google's warmup + linear decay through the run's steps, when the log shows the run
  reached its end (the rate is 0 at the last logged step): the demo logs only that step."""
  init, warmup = config.get("learning_rate"), config.get("warmup_proportion")
  total, last = logged[-1]
  if not (_is_number(init) and _is_number(warmup) and init > 0 and total > 0
          and abs(last) <= init * 1e-6):
    return []
  warm = int(total * warmup)
  rate = lambda s: init * s / warm if s < warm else init * max(1.0 - s / total, 0.0)
  steps = sorted(set(range(0, total + 1, max(total // 500, 1))) | {max(warm - 1, 0), warm,
                                                                  total})
  return [(s, rate(s)) for s in steps]


def _matplotlib():
  """matplotlib, imported when the first chart is drawn (it is heavy)."""
  # pylint: disable=g-import-not-at-top
  import matplotlib.backends.backend_agg
  import matplotlib.figure
  import matplotlib.font_manager
  import matplotlib.ticker
  return matplotlib


def _figure(width, height):
  """A matplotlib Figure on the Agg canvas (no pyplot: no global state, no display)."""
  mpl = _matplotlib()
  figure = mpl.figure.Figure(figsize=(width, height), dpi=100, layout="constrained")
  mpl.backends.backend_agg.FigureCanvasAgg(figure)
  return figure


def _png(figure, alt, dpi=130):
  """The figure as an <img> with an inline base64 PNG, shown at 96 CSS px per inch."""
  buffer = io.BytesIO()
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # e.g. a glyph missing from the font
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
  width = int(round(figure.get_figwidth() * 96))
  return '<img alt="%s" width="%d" src="data:image/png;base64,%s">' % (
      _e(alt), width, base64.b64encode(buffer.getvalue()).decode("ascii"))


def _style_axes(ax, title, ylabel, x_max):
  ax.set_title(title, fontsize=11, fontweight="bold", loc="left")
  ax.set_xlabel("training step")
  ax.set_ylabel(ylabel)
  ax.set_xlim(0, x_max * 1.06 + 0.5)
  ax.xaxis.set_major_locator(_matplotlib().ticker.MaxNLocator(integer=True, nbins=6))
  ax.grid(True, color="#e5e5e5", linewidth=0.8)
  ax.spines[["top", "right"]].set_visible(False)


def _line_chart(title, ylabel, series, x_max, best=None, best_value=None, bounded=False):
  """series: _line(...) dicts; a series of 1-3 points gets its values written beside them."""
  figure = _figure(5.6, 3.5)
  ax = figure.add_subplot()
  _style_axes(ax, title, ylabel, x_max)
  values = [v for line in series for _, v in line["points"]]
  for i, line in enumerate(s for s in series if s["points"]):
    ax.plot(*zip(*line["points"]), color=line["color"], marker=line["marker"], markersize=5,
            linewidth=1.8, linestyle=line["linestyle"], label=line["label"])
    if line["annotate"] and len(line["points"]) <= 3:
      for x, y in line["points"]:
        ax.annotate(_fmt(y, 3) if abs(y) >= 1e-3 or y == 0 else "%.2g" % y, (x, y),
                    textcoords="offset points", xytext=(-6, 8 if i % 2 else -13), ha="right",
                    fontsize=8.5, color=line["color"])
  if best is not None:
    ax.axvline(best, color=BEST_COLOR, linestyle="--", linewidth=1.2,
               label="best checkpoint (step %d)" % best)
  if best is not None and best_value is not None:
    ax.plot([best], [best_value], marker="*", markersize=15, color=BEST_COLOR, linestyle="none")
  _set_y_range(ax, values + ([best_value] if best_value is not None else []), bounded)
  figure.legend(loc="outside lower center", ncols=3, fontsize=8.5, frameon=False)
  return _png(figure, title)


def _set_y_range(ax, values, bounded):
  """From 0 (or -1 for a correlation that went negative); bounded metrics up to 1."""
  low = min(values + [0.0])
  low = -1.05 if low < 0 and bounded else low * 1.1
  high = max(values + [0.0])
  if bounded:
    ax.set_ylim(low, 1.05)
  else:
    ax.set_ylim(low, high * 1.15 if high > 0 else 1.0)
  if not bounded and 0 < high < 1e-2:  # learning rates: 2e-05, not 0.00002 with an offset
    ax.yaxis.set_major_formatter(_matplotlib().ticker.FuncFormatter(
        lambda v, _: "0" if v == 0 else "%.2g" % v))


# ---- dev results ----
def _dev_results(data):
  results = data["results"]
  if not results:
    return ""
  parts = ["<h2>Dev results</h2>", _metrics_table(data)]
  if isinstance(results.get("eval_classification_report"), dict):
    parts.append(_single_label(data))
  if isinstance(results.get("eval_per_label"), dict):
    parts.append(_multi_label(data))
  parts += [_regression_scatter(data), _label_curves(data), _mistakes(data)]
  return "".join(parts)


def _test_results(data):
  """Metrics of a labelled test file (test_results.json), next to the dev ones."""
  metrics = {k: v for k, v in data["test"].items() if _is_number(v)}
  if not metrics:
    return ""
  names = sorted(metrics)
  return "<h2>Test results</h2><p class='note'>%s</p>%s" % (
      _e("the labelled --test_file, scored with the run's checkpoint and thresholds"),
      _table(["metric", "value"], [[n, metrics[n]] for n in names]))


def _label_curves(data):
  """Multi-label: precision-recall and ROC curves of each label on dev, with the
  chosen threshold marked (from eval_predictions.csv)."""
  per_label = data["results"].get("eval_per_label")  # only multi-label runs have one
  if not isinstance(per_label, dict) or not data["dev_rows"]:
    return ""
  from sklearn import metrics as skm  # pylint: disable=g-import-not-at-top
  images = []
  for label in _label_list(data):
    try:
      truth = [label in set(r["label"].split(";")) for r in data["dev_rows"]]
      scores = [float(r["prob_" + label]) for r in data["dev_rows"]]
    except (KeyError, ValueError):
      return ""
    threshold = (per_label.get(label) or {}).get("threshold")
    if 0 < sum(truth) < len(truth) and _is_number(threshold):
      images.append(_curve_image(label, truth, scores, threshold, skm))
  if not images:
    return ""
  return ("<h3>Per label: precision-recall and ROC on dev (the chosen threshold marked)</h3>"
          "<div class='charts'>%s</div>" % "".join(images))


def _curve_image(label, truth, scores, threshold, skm):
  figure = _figure(5.6, 2.6)
  pr_ax, roc_ax = figure.subplots(1, 2)
  precision, recall, _ = skm.precision_recall_curve(truth, scores)
  pr_ax.plot(recall, precision, color=METRIC_COLOR, linewidth=1.5)
  fpr, tpr, _ = skm.roc_curve(truth, scores)
  roc_ax.plot(fpr, tpr, color=TRAIN_COLOR, linewidth=1.5)
  roc_ax.plot([0, 1], [0, 1], color="#bbb", linestyle="--", linewidth=1)
  predicted = [s >= threshold for s in scores]
  tp = sum(p and t for p, t in zip(predicted, truth))
  point_recall = tp / max(sum(truth), 1)
  point_precision = tp / max(sum(predicted), 1)
  point_fpr = sum(p and not t for p, t in zip(predicted, truth)) / max(len(truth) - sum(truth), 1)
  pr_ax.plot([point_recall], [point_precision], "*", color=BEST_COLOR, markersize=12)
  roc_ax.plot([point_fpr], [point_recall], "*", color=BEST_COLOR, markersize=12)
  for ax, title, xlabel, ylabel in ((pr_ax, "%s: precision-recall" % label, "recall", "precision"),
                                    (roc_ax, "ROC", "false positive rate", "true positive rate")):
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title[:40], loc="left", fontsize=9, fontweight="bold")
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
  return _png(figure, "precision-recall and ROC of %s, threshold %.3f" % (label, threshold))


# ---- dev predictions (eval_predictions.csv) ----
MISTAKES_SHOWN = 20


def _mistakes(data):
  """The dev predictions with the largest errors (the task's `error` column: the
  probability given to a wrong label, or the distance of a score), with their text."""
  scored = [(_number(row.get("error")), row) for row in data["dev_rows"]]
  wrong = sorted((s for s in scored if s[0]), key=lambda s: -s[0])
  if not wrong:
    return ""
  rows = [[row.get("text_a", "")[:300] + (" || " + row["text_b"][:150] if row.get("text_b")
                                          else ""),
           row.get("label", ""), row.get("prediction", ""), size]
          for size, row in wrong[:MISTAKES_SHOWN]]
  return ("<h3>The %d largest errors on dev</h3>" % len(rows) +
          _table(["text", "true", "predicted", "error"], rows))


def _number(cell):
  try:
    return float(cell)
  except (TypeError, ValueError):
    return None


def _regression_scatter(data):
  """Predicted against true scores, when the dev predictions are scores."""
  if not data["dev_rows"] or "score" not in data["dev_rows"][0]:
    return ""
  try:
    pairs = [(float(r["label"]), float(r["prediction"])) for r in data["dev_rows"]]
  except (KeyError, ValueError):
    return ""
  figure = _figure(5.2, 4.6)
  ax = figure.add_subplot()
  ax.scatter([t for t, _ in pairs], [p for _, p in pairs], s=10, alpha=0.5, color=METRIC_COLOR)
  values = [v for pair in pairs for v in pair]
  low, high = min(values), max(values)
  ax.plot([low, high], [low, high], color="#888", linestyle="--", linewidth=1, label="y = x")
  ax.set_xlabel("true score")
  ax.set_ylabel("predicted score")
  ax.set_title("Dev: predicted against true", loc="left", fontsize=10, fontweight="bold")
  ax.legend(loc="upper left", fontsize=8)
  return "<div class='charts'>%s</div>" % _png(figure, "predicted against true dev scores")


def _metrics_table(data):
  """Every scalar dev metric; the one the run optimises first, in bold."""
  results, metric = data["results"], _metric_name(data)
  scalars = {k[len("eval_"):]: v for k, v in results.items() if k.startswith("eval_")
             and _is_number(v) and k not in _NOT_IN_METRICS_TABLE}
  names = ([metric] if metric in scalars else []) + sorted(n for n in scalars if n != metric)
  positive = results.get("eval_f1_positive_label")
  rows = [[("f1 (binary, positive label %s)" % positive) if n == "f1" and positive else n,
           scalars[n]] for n in names]
  notes = []
  if _is_number(results.get("eval_num_examples")):
    notes.append("%d dev examples" % results["eval_num_examples"])
  if _is_number(results.get("global_step")):
    notes.append("checkpoint of step %d" % results["global_step"])
  note = "<p class='note'>%s</p>" % _e(", ".join(notes)) if notes else ""
  if not rows:
    return note
  return note + _table(["metric", "value"], rows, row_classes={0: "main"} if metric in scalars
                       else None)


def _single_label(data):
  """Per-class precision/recall/F1/support and the confusion matrix."""
  report, labels = data["results"]["eval_classification_report"], _label_list(data)
  names = [l for l in labels if l in report] or sorted(
      k for k in report if isinstance(report[k], dict) and k not in _REPORT_ROWS)
  rows, classes = [], {}
  for name in names + [n for n in _REPORT_ROWS if n in report]:
    entry = report.get(name) if isinstance(report.get(name), dict) else {}
    if name in _REPORT_ROWS:
      classes[len(rows)] = "avg"
    elif entry.get("support") == 0:
      classes[len(rows)] = "muted"
    rows.append([name] + [entry.get(k) for k in ("precision", "recall", "f1-score")] +
                [int(entry["support"]) if _is_number(entry.get("support")) else None])
  parts = ["<h3>Per class</h3>", _table(["class", "precision", "recall", "F1", "support"], rows,
                                        row_classes=classes)]
  matrix = data["results"].get("eval_confusion_matrix")
  if labels and isinstance(matrix, list) and len(matrix) == len(labels) and all(
      isinstance(row, list) and len(row) == len(labels) and all(map(_is_number, row))
      for row in matrix):
    parts.append(_confusion_section(matrix, labels))
  return "".join(parts)


def _multi_label(data):
  """Per-label table, thresholds and how they were chosen, labels per example."""
  results, per_label = data["results"], data["results"]["eval_per_label"]
  names = [l for l in _label_list(data) if l in per_label] or sorted(per_label)
  rows, classes = [], {}
  for name in names:
    entry = per_label[name] if isinstance(per_label[name], dict) else {}
    chosen = data["thresholds"].get(name)
    if entry.get("support") == 0:
      classes[len(rows)] = "muted"
    rows.append([name, entry.get("support"), entry.get("threshold"),
                 chosen.get("chosen_by") if isinstance(chosen, dict) else None,
                 entry.get("precision"), entry.get("recall"), entry.get("f1"),
                 entry.get("roc_auc")])
  parts = ["<h3>Per label</h3>", _table(["label", "support", "threshold", "threshold chosen by",
                                         "precision", "recall", "F1", "ROC-AUC"], rows,
                                        row_classes=classes)]
  true = results.get("eval_label_cardinality_true")
  predicted = results.get("eval_label_cardinality_predicted")
  if _is_number(true) and _is_number(predicted):
    parts.insert(0, "<p class='note'>Labels per dev example: <strong>%s true</strong>, "
                    "<strong>%s predicted</strong>.</p>" % (_fmt(true, 2), _fmt(predicted, 2)))
  return "".join(parts)


def _confusion_section(matrix, labels):
  names, legend = _tick_names(labels)
  counts = [[int(v) for v in row] for row in matrix]
  normalised = [[v / max(sum(row), 1) for v in row] for row in counts]
  images = [_confusion_image(counts, names, "Counts", "%d", max(map(max, counts)) or 1),
            _confusion_image(normalised, names, "Row-normalised (recall)", "%.2f", 1.0)]
  note = "<p class='note'>Classes: %s.</p>" % _e(legend) if legend else ""
  return "<h3>Confusion matrix</h3>%s<div class='charts'>%s</div>" % (note, "".join(images))


def _tick_names(labels):
  """Label names for the axes, or numbers (and a legend) when the font lacks their glyphs
  or they are long."""
  font_manager = _matplotlib().font_manager
  font = font_manager.get_font(font_manager.findfont(font_manager.FontProperties()))
  drawable = all(font.get_char_index(ord(ch)) for l in labels for ch in l)
  if drawable and max(len(l) for l in labels) <= 24:
    return labels, ""
  return [str(i) for i in range(len(labels))], ", ".join(
      "%d = %s" % (i, l) for i, l in enumerate(labels))


def _confusion_image(matrix, names, title, cell_format, peak):
  n = len(names)
  side = min(max(3.2, 0.45 * n + 1.6), 11.0)
  figure = _figure(side + 0.9, side + 0.4)
  ax = figure.add_subplot()
  image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=peak)
  figure.colorbar(image, ax=ax, shrink=0.8)
  ax.set_title(title, fontsize=11, fontweight="bold", loc="left")
  ax.set_xlabel("predicted label")
  ax.set_ylabel("true label")
  ax.set_xticks(range(n), names, rotation=45 if max(len(l) for l in names) > 3 else 0,
                ha="right" if max(len(l) for l in names) > 3 else "center")
  ax.set_yticks(range(n), names)
  if n <= 30:
    for i, row in enumerate(matrix):
      for j, value in enumerate(row):
        ax.text(j, i, cell_format % value, ha="center", va="center",
                fontsize=9 if n <= 12 else 7,
                color="white" if value > peak * 0.6 else "#222")
  return _png(figure, title)


# ---- a grid's report ----
def write_grid_report(path, rows, best):
  """A grid's report.html: its runs' table (best marked) and dev metric against learning
  rate, one line per batch size and epochs (restarts as separate points)."""
  metric = best["metric"]
  headers = ["run", "batch", "learning rate", "epochs", "seed", "dev " + metric, "dev loss",
             "steps", "seconds"]
  table = _table(headers, [[r["run"], r["train_batch_size"], "%g" % r["learning_rate"],
                            "%g" % r["num_train_epochs"], r["seed"], r["value"], r["eval_loss"],
                            r["steps"], int(round(r["seconds"]))] for r in rows],
                 row_classes={rows.index(best): "main"})
  parts = ["<h1>Fine-tuning grid: %s</h1>" % _e(os.path.basename(os.path.dirname(
               os.path.abspath(path)))),
           '<p class="best">Best on dev: <b>%s</b>, %s = %s (directory <code>best/</code>).</p>'
           % (_e(best["run"]), _e(metric), _fmt(best["value"])),
           "<h2>Runs</h2>", table, _grid_chart(rows, metric, best)]
  page = ("<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>bert_tf grid"
          "</title><style>%s</style></head><body>\n%s\n</body></html>\n" % (_CSS, "\n".join(parts)))
  write_text_atomic(path, page)
  return path


def _grid_chart(rows, metric, best):
  figure = _figure(6.4, 3.6)
  ax = figure.add_subplot()
  groups = {}
  for r in rows:
    groups.setdefault((r["train_batch_size"], r["num_train_epochs"]), []).append(r)
  for i, ((batch, epochs), group) in enumerate(sorted(groups.items())):
    group.sort(key=lambda r: r["learning_rate"])
    ax.plot([r["learning_rate"] for r in group], [r["value"] for r in group],
            marker="os^vD<>"[i % 7], linestyle=":", label="batch %d, %g epochs" % (batch, epochs))
  ax.plot([best["learning_rate"]], [best["value"]], marker="*", markersize=16, color="gold",
          markeredgecolor="black", linestyle="none", label="best")
  ax.set_xscale("log")
  ax.set_xlabel("learning rate")
  ax.set_ylabel("dev " + metric)
  ax.set_title("Dev %s of each run" % metric, fontsize=11, fontweight="bold", loc="left")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  return '<div class="charts">%s</div>' % _png(figure, "dev %s against learning rate" % metric)
