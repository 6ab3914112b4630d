"""Evaluation reports as a terminal table, report.json and a self-contained report.html.

Every function takes the question sets evaluated (`SetReport`s, one or several): the table puts the
sets side by side, each with a column per retrieval mode."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Sequence

from qa.eval import Report, SetReport, flatten

# (dotted summary name, label) in the order the table prints them; None starts a section.
TABLE: tuple[tuple[str | None, str], ...] = (
    (None, "retrieval: passages (answerable questions)"),
    ("retrieval.passage.hit@1", "Hit@1 (relevant passage first)"),
    ("retrieval.passage.hit@3", "Hit@3"),
    ("retrieval.passage.hit@5", "Hit@5"),
    ("retrieval.passage.recall@1", "Recall@1"),
    ("retrieval.passage.recall@3", "Recall@3"),
    ("retrieval.passage.recall@5", "Recall@5"),
    ("retrieval.passage.recall@10", "Recall@10"),
    ("retrieval.passage.mrr@10", "MRR@10"),
    ("retrieval.passage.ndcg@10", "nDCG@10"),
    (None, "retrieval: articles"),
    ("retrieval.article.recall@1", "Recall@1"),
    ("retrieval.article.recall@3", "Recall@3"),
    ("retrieval.article.recall@5", "Recall@5"),
    ("retrieval.article.mrr@10", "MRR@10"),
    ("retrieval.article.ndcg@10", "nDCG@10"),
    (None, "answers (top answer; abstaining = empty answer)"),
    ("answers.all.exact_match", "EM, all"),
    ("answers.all.f1", "F1, all"),
    ("answers.answerable.exact_match", "EM, answerable"),
    ("answers.answerable.f1", "F1, answerable"),
    ("answers.answerable.context_hit", "answer in context, answerable"),
    ("answers.unanswerable.f1", "F1 (= abstained), unanswerable"),
    (None, "citations"),
    ("citations.valid", "offset rule holds (share of all)"),
    ("citations.checked", "citations checked"),
    ("citations.top_supported", "top answer cites gold support"),
    (None, "abstention"),
    ("abstention.precision", "precision"),
    ("abstention.recall", "recall"),
    ("abstention.f1", "F1"),
    ("abstention.best_threshold", "best threshold (sweep)"),
    ("abstention.best_threshold_f1", "overall F1 at best threshold"),
    (None, "latency per question"),
    ("latency_ms.p50", "p50 ms"),
    ("latency_ms.p95", "p95 ms"),
)
# The metrics the chart compares across modes.
CHART: tuple[tuple[str, str], ...] = (
    ("retrieval.passage.recall@5", "passage Recall@5"),
    ("retrieval.passage.mrr@10", "passage MRR@10"),
    ("retrieval.passage.ndcg@10", "passage nDCG@10"),
    ("retrieval.article.recall@1", "article Recall@1"),
    ("answers.answerable.f1", "F1, answerable"),
    ("answers.answerable.context_hit", "answer in context"),
    ("citations.top_supported", "cites gold support"),
    ("abstention.f1", "abstention F1"),
    ("answers.all.f1", "F1, all"),
)
COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2")


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    if name.startswith("latency") or name.endswith(".checked"):
        return f"{value:.0f}" if name.endswith(".checked") else f"{value:.1f}"
    return f"{value:.3f}"


COL = 9  # width of a value column


def _columns(sets: Sequence[SetReport]) -> list[tuple[str, str, dict[str, float]]]:
    """(set name, mode, flattened summary) for every column, sets in order, modes in run order."""
    return [(s.set.name, r.mode, flatten(r.summary)) for s in sets for r in s.report.runs]


def table(sets: Sequence[SetReport]) -> str:
    """The metrics as rows, a column per set and mode; with several sets a first line names them."""
    cols = _columns(sets)
    width = max(len(label) for name, label in TABLE if name) + 4
    lines = []
    if len(sets) > 1:
        lines.append(" " * width + "".join(f"{s.set.name[:COL * len(s.report.runs) - 1]:>{COL * len(s.report.runs)}}"
                                           for s in sets))
    lines.append(f"{'metric':<{width}}" + "".join(f"{mode:>{COL}}" for _, mode, _ in cols))
    for name, label in TABLE:
        if name is None:
            lines.append(label)
            continue
        lines.append(f"  {label:<{width - 2}}" + "".join(f"{_fmt(name, values.get(name)):>{COL}}" for _, _, values in cols))
    lines.extend(_footer(s, len(sets) > 1) for s in sets)
    return "\n".join(lines)


def _footer(s: SetReport, named: bool) -> str:
    report = s.report
    counts = report.runs[0].summary["questions"] if report.runs else {}
    basis = ", ".join(f"{r.mode}: {r.summary['abstention']['sweep_basis']}" for r in report.runs)
    where = f"{s.set.name} ({s.set.gold} over {s.set.corpus}): " if named else ""
    return (f"{where}{counts.get('all', 0)} questions ({counts.get('answerable', 0)} answerable), {report.backend}; "
            f"threshold sweep basis: {basis}")


def to_json(sets: Sequence[SetReport]) -> dict:
    """Each set's summary per mode, and every question's row (marked with its set)."""
    return {"created_at": sets[0].report.created_at if sets else "",
            "backend": sets[0].report.backend if sets else "",
            "sets": [{"name": s.set.name, "gold": str(s.set.gold), "corpus": str(s.set.corpus),
                      "summary": s.report.to_json()["summary"]} for s in sets],
            "questions": [{"set": s.set.name, **row} for s in sets for row in s.report.to_json()["questions"]]}


def write(sets: Sequence[SetReport], out_dir: Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    json_path.write_text(json.dumps(to_json(sets), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    html_path.write_text(to_html(sets), encoding="utf-8")
    return json_path, html_path


# ---------------------------------------------------------------- HTML
def chart_svg(report: Report) -> str:
    """Grouped horizontal bars: one group per metric, one bar per mode, scale 0..1."""
    modes = [r.mode for r in report.runs]
    values = {r.mode: flatten(r.summary) for r in report.runs}
    bar, gap, label_w, plot_w = 14, 12, 170, 420
    group_h = bar * len(modes) + gap
    height = group_h * len(CHART) + 56
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 60}" height="{height}" '
             f'role="img" aria-label="metrics by mode" font-family="sans-serif" font-size="12">']
    for tick in (0.25, 0.5, 0.75, 1.0):  # grid first, so the bars sit on top
        x = label_w + tick * plot_w
        parts.append(f'<line x1="{x}" y1="5" x2="{x}" y2="{height - 50}" stroke="#ddd"/>'
                     f'<text x="{x}" y="{height - 38}" text-anchor="middle" font-size="9" fill="#777">{tick:g}</text>')
    for i, (name, label) in enumerate(CHART):
        y0 = 10 + i * group_h
        parts.append(f'<text x="{label_w - 6}" y="{y0 + bar * len(modes) / 2 + 4}" text-anchor="end">{html.escape(label)}</text>')
        for j, mode in enumerate(modes):
            v = values[mode].get(name) or 0.0
            y = y0 + j * bar
            parts.append(f'<rect x="{label_w}" y="{y}" width="{v * plot_w:.1f}" height="{bar - 2}" '
                         f'fill="{COLORS[j % len(COLORS)]}"><title>{mode} {label}: {v:.3f}</title></rect>')
            parts.append(f'<text x="{label_w + v * plot_w + 4:.1f}" y="{y + bar - 4}" font-size="10">{v:.2f}</text>')
    y = height - 8
    for j, mode in enumerate(modes):
        x = label_w + j * 110
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{COLORS[j % len(COLORS)]}"/>'
                     f'<text x="{x + 16}" y="{y}">{html.escape(mode)}</text>')
    parts.append(f'<line x1="{label_w}" y1="5" x2="{label_w}" y2="{height - 50}" stroke="#999"/></svg>')
    return "".join(parts)


def is_miss(row) -> bool:
    """A question the mode got wrong: no gold answer in the top answer's context, or abstention on the wrong side."""
    return not row.metrics["context_hit"]


def _misses_table(run) -> str:
    head = "<tr><th>id</th><th>kind</th><th>question</th><th>gold</th><th>answer</th><th>F1</th><th>citation</th></tr>"
    body = []
    for r in run.rows:
        if not is_miss(r):
            continue
        answer = "<em>abstained</em>" if r.abstained else html.escape(r.answer)
        if r.label:
            answer += f" <strong>[{html.escape(r.label)}]</strong>"
        gold = " | ".join(html.escape(g) for g in r.gold) or "<em>unanswerable</em>"
        cite = "<br>".join(f"{html.escape(c['source'])} [{c['start']}:{c['end']}]"
                           f"{'' if c['valid'] else ' (offsets wrong)'}{' (gold support)' if c['supported'] else ''}"
                           for c in r.citations) or "-"
        body.append(f"<tr><td>{r.id}</td><td>{r.kind}</td><td>{html.escape(r.question)}</td><td>{gold}</td>"
                    f"<td>{answer}</td><td>{r.metrics['f1']:.2f}</td><td>{cite}</td></tr>")
    n = len(body)
    return (f"<details open><summary><strong>{html.escape(run.mode)}</strong>: "
            f"{n} misses of {len(run.rows)}</summary><table>{head}{''.join(body)}</table></details>")


def _summary_table(sets: Sequence[SetReport]) -> str:
    cols = _columns(sets)
    rows = ["<tr><th></th>" + "".join(f'<th colspan="{len(s.report.runs)}">{html.escape(s.set.name)}</th>' for s in sets)
            + "</tr>", "<tr><th>metric</th>" + "".join(f"<th>{html.escape(m)}</th>" for _, m, _ in cols) + "</tr>"]
    for name, label in TABLE:
        if name is None:
            rows.append(f'<tr class="section"><td colspan="{len(cols) + 1}">{html.escape(label)}</td></tr>')
        else:
            rows.append(f"<tr><td>{html.escape(label)}</td>"
                        + "".join(f"<td>{_fmt(name, values.get(name))}</td>" for _, _, values in cols) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


_CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;
vertical-align:top;text-align:left}tr.section td{background:#eee;font-weight:bold}summary{cursor:pointer;margin:.5em 0}"""


def to_html(sets: Sequence[SetReport]) -> str:
    created = html.escape(sets[0].report.created_at) if sets else ""
    backend = html.escape(sets[0].report.backend) if sets else ""
    listed = "".join(f"<li><strong>{html.escape(s.set.name)}</strong>: gold {html.escape(str(s.set.gold))} over "
                     f"{html.escape(str(s.set.corpus))}, {len(s.report.runs[0].rows) if s.report.runs else 0} questions</li>"
                     for s in sets)
    charts = "".join(f"<h3>{html.escape(s.set.name)}</h3>{chart_svg(s.report)}" for s in sets)
    misses = "".join(f"<h3>{html.escape(s.set.name)}</h3>" + "".join(_misses_table(r) for r in s.report.runs) for s in sets)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>QA evaluation</title>"
            f"<style>{_CSS}</style></head><body><h1>QA evaluation</h1>"
            f"<p>{created} &middot; {backend}</p><ul>{listed}</ul>"
            f"<h2>Modes compared</h2>{charts}<h2>All metrics</h2>{_summary_table(sets)}"
            f"<h2>Misses</h2><p>A miss: no gold answer in the top answer's context (answerable questions), "
            f"or an answer where the articles have none (unanswerable).</p>{misses}</body></html>\n")
