"""report.html for a run: training curves, dev metrics over time, confusion matrix.

Plain HTML with inline SVG (no plotting dependency), written atomically into
output_dir after training and evaluation; open it in any browser.
"""

import html
import os

from bert_tf import run_dir
from bert_tf.errors import write_text_atomic

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def line_chart(title, series, width=520, height=260):
  """series: {name: [(x, y), ...]} -> an SVG line chart with axes and a legend."""
  points = [p for values in series.values() for p in values]
  if not points:
    return ""
  xs, ys = [p[0] for p in points], [p[1] for p in points]
  x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
  y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1
  left, right, top, bottom = 50, 10, 30, 30
  sx = lambda x: left + (x - x0) / (x1 - x0) * (width - left - right)
  sy = lambda y: height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)
  parts = ['<svg width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">' % (width, height),
           '<text x="%d" y="18" font-weight="bold">%s</text>' % (left, html.escape(title)),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>' % (
               left, height - bottom, width - right, height - bottom),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>' % (
               left, top, left, height - bottom)]
  for value in (y0, (y0 + y1) / 2, y1):
    parts.append('<text x="2" y="%.1f" font-size="11">%.3g</text>' % (sy(value) + 4, value))
  for value in (x0, x1):
    parts.append('<text x="%.1f" y="%d" font-size="11">%g</text>' % (sx(value) - 8,
                                                                     height - 8, value))
  for i, (name, values) in enumerate(series.items()):
    color = _COLORS[i % len(_COLORS)]
    path = " ".join("%.1f,%.1f" % (sx(x), sy(y)) for x, y in values)
    parts.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (color,
                                                                                      path))
    parts.append('<text x="%d" y="%d" font-size="12" fill="%s">%s</text>' % (
        width - 150, top + 14 * (i + 1), color, html.escape(name)))
  parts.append("</svg>")
  return "".join(parts)


def confusion_table(matrix, labels):
  peak = max(max(row) for row in matrix) or 1
  rows = ["<tr><th>true \\ predicted</th>%s</tr>" % "".join(
      "<th>%s</th>" % html.escape(str(l)) for l in labels)]
  for label, row in zip(labels, matrix):
    cells = "".join('<td style="background: rgba(31,119,180,%.2f)">%d</td>' % (v / peak * 0.8, v)
                    for v in row)
    rows.append("<tr><th>%s</th>%s</tr>" % (html.escape(str(label)), cells))
  return '<table class="cm">%s</table>' % "".join(rows)


def write_report(run):
  """Writes the run directory's report.html from its histories and eval results."""
  train = [r for r in run.history(run_dir.TRAIN_HISTORY) if r.get("loss") is not None]
  evals = run.history(run_dir.EVAL_HISTORY)
  sections = []
  if train:
    sections.append(line_chart("Training loss", {"loss": [(r["step"], r["loss"])
                                                          for r in train]}))
    sections.append(line_chart("Learning rate", {"lr": [(r["step"], r["learning_rate"])
                                                        for r in train]}))
  if evals:
    keys = [k for k in ("accuracy", "f1", "mcc", "f1_micro", "pearson", "roc_auc_micro")
            if k in evals[0]]
    sections.append(line_chart("Dev metrics", {k: [(r["step"], r[k]) for r in evals]
                                               for k in keys}))
    sections.append(line_chart("Dev loss", {"loss": [(r["step"], r["loss"]) for r in evals]}))
  results = run.read_eval_results()
  table = ""
  if results:
    scalars = sorted((k, v) for k, v in results.items()
                     if isinstance(v, (int, float)) and not isinstance(v, bool))
    table = "<table>%s</table>" % "".join("<tr><td>%s</td><td>%.4g</td></tr>" % (
        html.escape(k), v) for k, v in scalars)
    info = run.read_model_info()
    if "eval_confusion_matrix" in results and info is not None:
      table += "<h2>Confusion matrix (dev)</h2>" + confusion_table(
          results["eval_confusion_matrix"], info.task["label_list"])
  page = ("<!doctype html><html><head><meta charset='utf-8'><title>bert_tf run report</title>"
          "<style>body{font-family:sans-serif;margin:2em} td,th{padding:4px 8px;"
          "border:1px solid #ddd} .cm td{text-align:right}</style></head><body>"
          "<h1>bert_tf run: %s</h1>%s<h2>Dev results</h2>%s</body></html>" % (
              html.escape(os.path.abspath(run.directory)), "".join(sections), table))
  path = run.path(run_dir.REPORT)
  write_text_atomic(path, page)
  return path
