"""qa.eval, qa.eval_backend and qa.report: scoring rules with exact values, a cross-check of the
ranking metrics with trec_eval (pytrec_eval), the report files, and `qa eval --url` against the
real uvicorn server."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest
import pytrec_eval

from qa import cli, report
from qa.chunk import ChunkParams
from qa.errors import EvalError
from qa.eval import (EvalSet, GoldQuestion, QuestionScore, SetReport, Span, Support, check_citations, citation_ok,
                     context_hit, contains, evaluate, flatten, load_floors, load_gold, prediction, shortfalls, summarize,
                     support_spans)
from qa.eval_backend import HttpBackend, LocalBackend
from qa.metrics import token_f1
from tests.helpers import ROOT, SEEDS, free_port, live_server, seed_text

GOLD = ROOT / "eval" / "gold.jsonl"
S001 = "001_031c8477739e64ff.txt"
REPEATED = "Meanwhile, Kremlin spokesman Dmitry Peskov called the conver"  # 001 repeats this paragraph


def q(answers=("Sochi",), kind="where", support=(), question="Where was Putin?", id="q900") -> GoldQuestion:
    return GoldQuestion(id, question, tuple(answers), tuple(support), kind)


@pytest.fixture(scope="module")
def fake_report(fake_service):
    """The whole gold set through the hashing-embedder pipeline: about a second."""
    return evaluate(LocalBackend(fake_service), load_gold(GOLD), ["bm25", "hybrid"], "gold")


# ---------------------------------------------------------------- the gold file
def test_load_gold_reads_every_row():
    gold = load_gold(GOLD)
    assert len(gold) == 82
    assert gold[0].id == "q001" and gold[0].answers == ("Turkey's foreign minister",)
    assert gold[0].support[0].source == "000_0909706770c7972d.txt"
    assert sum(not g.answerable for g in gold) == 15


@pytest.mark.parametrize(("line", "message"), [
    ('{"id": "q1", "question": "Q?", "answers": [], "support": [], "kind": "odd"}', "kind 'odd' is unknown"),
    ('{"id": "q1", "question": "Q?", "answers": []}', ":1: not a gold row"),
    ("not json", ":1: not a gold row"),
])
def test_load_gold_names_the_bad_line(tmp_path, line, message):
    path = tmp_path / "g.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(EvalError, match=message):
        load_gold(path)


def test_load_gold_rejects_duplicate_ids_and_missing_files(tmp_path):
    row = '{"id": "q1", "question": "Q?", "answers": [], "support": [], "kind": "unanswerable"}\n'
    path = tmp_path / "g.jsonl"
    path.write_text(row + row, encoding="utf-8")
    with pytest.raises(EvalError, match=r":2: id 'q1' is used twice"):
        load_gold(path)
    with pytest.raises(EvalError, match="cannot read the gold file"):
        load_gold(tmp_path / "missing.jsonl")


# ---------------------------------------------------------------- scoring rules
def test_support_spans_count_both_copies_of_a_repeated_quote(fake_service):
    text = seed_text(S001)
    first = text.index(REPEATED)
    second = text.index(REPEATED, first + 1)
    spans = support_spans(q(support=[Support(S001, REPEATED)]), LocalBackend(fake_service))
    assert spans == (Span("001_031c8477739e64ff", first, first + len(REPEATED)),
                     Span("001_031c8477739e64ff", second, second + len(REPEATED)))


def test_support_spans_reject_a_quote_not_in_the_article(fake_service):
    with pytest.raises(EvalError, match="q900: support quote not found"):
        support_spans(q(support=[Support(S001, "not in the article")]), LocalBackend(fake_service))


def test_span_overlap_is_half_open():
    s = Span("d", 10, 20)
    assert [s.overlaps("d", 0, 10), s.overlaps("d", 0, 11), s.overlaps("d", 19, 30), s.overlaps("d", 20, 30),
            s.overlaps("e", 12, 14)] == [False, True, True, False, False]


def test_contains_matches_whole_normalized_words():
    assert contains("Putin spoke from the \u201cSochi\u201d resort.", "sochi")
    assert contains("The Kremlin\u2019s spokesman said", "Kremlin's spokesman")
    assert not contains("Sochinsky said", "Sochi")
    assert not contains("anything", "the")  # normalizes to nothing


def test_prediction_uses_the_label_only_for_yes_no_gold():
    yes_no = q(answers=("No", "did not agree to an immediate ceasefire"), kind="yes_no")
    assert prediction(yes_no, "Putin did not agree to an immediate ceasefire.", "No") == "No"
    assert prediction(yes_no, "Putin did not agree to an immediate ceasefire.", None) == \
        "Putin did not agree to an immediate ceasefire."
    assert prediction(q(), "Sochi", "Yes") == "Sochi"


def test_context_hit_rules():
    where = q()
    assert context_hit(where, False, "Putin spoke in Sochi.") == 1.0
    assert context_hit(where, False, "Putin spoke in Moscow.") == 0.0
    assert context_hit(where, True, "") == 0.0
    yes_no = q(answers=("No", "did not agree"), kind="yes_no")
    assert context_hit(yes_no, False, "Putin did not agree to it.") == 1.0
    assert context_hit(yes_no, False, "No, he said.") == 0.0  # "No" is not evidence; the deciding span is
    never = q(answers=(), kind="unanswerable")
    assert (context_hit(never, True, ""), context_hit(never, False, "Sochi")) == (1.0, 0.0)


def _row(id, answerable, f1, abstained, confidence, would=None, checked=1, valid=1, latency=10.0, supported=1.0):
    metrics = {"exact_match": float(f1 == 1.0), "f1": f1, "context_hit": f1,
               "top_citation_supported": supported if answerable and not abstained else None}
    if answerable:
        metrics |= {f"{lvl}.{m}": 0.5 for lvl in ("passage", "article")
                    for m in ("hit@1", "hit@3", "hit@5", "recall@1", "recall@3", "recall@5", "recall@10", "mrr@10",
                              "ndcg@10")}
    return QuestionScore(id, "what" if answerable else "unanswerable", "Q?", "hybrid", answerable,
                         ("Sochi",) if answerable else (), "", None, "", abstained, confidence, would, (), (), (),
                         (), (), metrics, checked, valid, latency, latency)


def test_summarize_exact_values():
    rows = [
        _row("a", True, 1.0, False, 0.9, latency=10.0),
        _row("b", True, 0.5, False, 0.6, valid=0, latency=20.0, supported=0.0),
        _row("c", True, 0.0, True, 0.3, would="Sochi", checked=0, valid=0, latency=30.0),
        _row("d", False, 0.0, False, 0.5, latency=40.0),
        _row("e", False, 1.0, True, 0.2, would="Moscow", checked=0, valid=0, latency=50.0),
    ]
    s = summarize(rows)
    assert s["questions"] == {"all": 5, "answerable": 3, "unanswerable": 2}
    assert s["answers"]["all"]["f1"] == pytest.approx(2.5 / 5)
    assert s["answers"]["answerable"]["f1"] == pytest.approx(1.5 / 3)
    assert s["answers"]["unanswerable"]["f1"] == 0.5
    assert s["retrieval"]["passage"]["recall@5"] == 0.5
    assert s["citations"] == {"valid": 2 / 3, "checked": 3, "top_supported": 0.5, "top_answers": 2}
    a = s["abstention"]
    assert (a["precision"], a["recall"], a["abstained"], a["correct"]) == (0.5, 0.5, 2, 1)
    # Sweep rows (confidence, F1 if answered, answerable): c would answer "Sochi" (F1 1.0) at any
    # threshold <= 0.3; the best is t=0.3: e abstains (1), c/a answer (1, 1), b answers (0.5), d answers (0).
    assert (a["best_threshold"], a["best_threshold_f1"]) == (0.3, pytest.approx(3.5 / 5))
    assert a["sweep_basis"] == "would-be answers"
    assert s["latency_ms"] == {"p50": 30.0, "p95": 48.0}


def test_sweep_without_would_be_answers_scores_abstentions_zero():
    rows = [_row("c", True, 0.0, True, 0.3, would=None), _row("d", False, 1.0, True, 0.2, would=None),
            _row("x", True, 1.0, False, 0.6)]
    a = summarize(rows)["abstention"]
    assert a["sweep_basis"] == "abstentions score 0"
    # t=0.2 answers all (0 + 0 + 1); t=0.3 abstains on d (1 + 0 + 1); t=0.6 also on c (still 0): a tie.
    assert (a["best_threshold"], a["best_threshold_f1"]) == (0.3, pytest.approx(2 / 3))


# ---------------------------------------------------------------- a whole run (hashing embedder)
def test_run_rows_are_consistent(fake_report, fake_service):
    hybrid = fake_report.run("hybrid")
    assert len(hybrid.rows) == 82 and hybrid.summary["questions"]["answerable"] == 67
    for r in hybrid.rows:
        assert len(r.ranked_passages) == 10 and len(set(r.ranked_passages)) == 10  # strictly ordered, no repeats
        assert r.ranked_articles == tuple(dict.fromkeys(p.split("#")[0] for p in r.ranked_passages))
        if r.answerable:
            assert r.relevant_passages, r.id  # every support quote lies in indexed text
        else:
            assert r.relevant_passages == () and "passage.recall@5" not in r.metrics
        assert r.metrics["f1"] == token_f1(prediction(GOLD_BY_ID[r.id], r.answer, r.label), r.gold)
        for c in r.citations:
            assert seed_text(c["source"])[c["start"]:c["end"]] == c["quote"] and c["valid"]
    assert hybrid.summary["citations"]["valid"] == 1.0


def test_relevant_passages_are_exactly_those_overlapping_support(fake_report, fake_service):
    row = next(r for r in fake_report.run("hybrid").rows if r.id == "q055")  # quote repeated in 001
    spans = support_spans(GOLD_BY_ID["q055"], LocalBackend(fake_service))
    expected = sorted(c.chunk_id for c in fake_service.index.chunks
                      if any(s.overlaps(c.doc_id, c.start, c.end) for s in spans))
    assert list(row.relevant_passages) == expected and expected


GOLD_BY_ID = {g.id: g for g in load_gold(GOLD)}


@pytest.mark.parametrize("level", ["passage", "article"])
def test_ranking_metrics_agree_with_trec_eval(fake_report, level):
    rows = [r for r in fake_report.run("hybrid").rows if r.answerable]
    ranked = {r.id: r.ranked_passages if level == "passage" else r.ranked_articles for r in rows}
    relevant = {r.id: r.relevant_passages if level == "passage" else r.relevant_articles for r in rows}
    qrels = {qid: {doc: 1 for doc in docs} for qid, docs in relevant.items()}
    # Strictly decreasing scores: trec_eval sorts by score, so ties would reorder the ranking.
    run = {qid: {doc: float(len(docs) - i) for i, doc in enumerate(docs)} for qid, docs in ranked.items()}
    measures = {"recall_1", "recall_3", "recall_5", "recall_10", "recip_rank", "ndcg_cut_10", "success.1,3,5"}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    assert len(per_query) == len(rows) == 67
    names = ["recall_1", "recall_3", "recall_5", "recall_10", "recip_rank", "ndcg_cut_10", "success_1", "success_3",
             "success_5"]
    theirs = {m: sum(v[m] for v in per_query.values()) / len(per_query) for m in names}
    ours = fake_report.run("hybrid").summary["retrieval"][level]
    for mine, trec in [("recall@1", "recall_1"), ("recall@3", "recall_3"), ("recall@5", "recall_5"),
                       ("recall@10", "recall_10"), ("mrr@10", "recip_rank"), ("ndcg@10", "ndcg_cut_10"),
                       ("hit@1", "success_1"), ("hit@3", "success_3"), ("hit@5", "success_5")]:
        assert ours[mine] == pytest.approx(theirs[trec], abs=1e-9), mine


# ---------------------------------------------------------------- the gate's arithmetic
def test_flatten_and_shortfalls_name_the_metric_and_the_gap():
    summary = {"answers": {"all": {"f1": 0.40, "exact_match": 0.1}}, "abstention": {"sweep_basis": "x", "f1": 0.5},
               "latency_ms": {"p50": 12}}
    assert flatten(summary) == {"answers.all.f1": 0.40, "answers.all.exact_match": 0.1, "abstention.f1": 0.5,
                                "latency_ms.p50": 12.0}
    floors = {"answers.all.f1": 0.45, "abstention.f1": 0.5, "retrieval.passage.recall@5": 0.7}
    assert shortfalls(summary, floors) == [
        "answers.all.f1 = 0.4000 is below its floor 0.4500 by 0.0500",
        "retrieval.passage.recall@5: not reported (floor 0.7000)",
    ]


def test_load_floors(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{"mode": "hybrid", "floors": {"dev": {"answers.all.f1": 0.2}, "test": {"answers.all.f1": 0.1}}}',
                    encoding="utf-8")
    assert load_floors(path) == ("hybrid", {"dev": {"answers.all.f1": 0.2}, "test": {"answers.all.f1": 0.1}})
    path.write_text('{"mode": "hybrid", "floors": {"answers.all.f1": 0.2}}', encoding="utf-8")  # floors without a set
    with pytest.raises(EvalError, match="is not"):
        load_floors(path)
    path.write_text('{"floors": {}}', encoding="utf-8")
    with pytest.raises(EvalError, match="is not"):
        load_floors(path)


# ---------------------------------------------------------------- report files
def test_table_and_files(fake_report, tmp_path):
    named = [SetReport(EvalSet("gold", GOLD, SEEDS), fake_report)]
    text = report.table(named)
    lines = text.splitlines()
    assert lines[0].split() == ["metric", "bm25", "hybrid"]
    f1 = fake_report.run("hybrid").summary["answers"]["answerable"]["f1"]
    assert next(l for l in lines if "F1, answerable" in l).split()[-1] == f"{f1:.3f}"
    basis = {m: fake_report.run(m).summary["abstention"]["sweep_basis"] for m in ("bm25", "hybrid")}
    assert lines[-1] == ("82 questions (67 answerable), in-process; threshold sweep basis: "
                         f"bm25: {basis['bm25']}, hybrid: {basis['hybrid']}")
    json_path, html_path = report.write(named, tmp_path / "out")
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert [s["name"] for s in data["sets"]] == ["gold"] and set(data["sets"][0]["summary"]) == {"bm25", "hybrid"}
    assert len(data["questions"]) == 2 * 82
    row = data["questions"][0]
    assert {"set", "question", "answer", "citations", "metrics", "mode", "gold"} <= set(row)
    page = html_path.read_text(encoding="utf-8")
    assert page.count("<svg") == 1 and "<script" not in page and "src=" not in page  # self-contained
    misses = sum(report.is_miss(r) for r in fake_report.run("hybrid").rows)
    assert f"<strong>hybrid</strong>: {misses} misses of 82" in page
    assert page.count("<tr><td>q") == misses + sum(report.is_miss(r) for r in fake_report.run("bm25").rows)


# ---------------------------------------------------------------- the harness stays outside the service
def test_answering_code_never_imports_the_harness():
    harness = {"qa.eval", "qa.eval_backend", "qa.report"}
    offenders = []
    for path in sorted((ROOT / "qa").glob("*.py")) + sorted((ROOT / "api").glob("*.py")):
        if path.stem in ("eval", "eval_backend", "report", "cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) else []
            if harness & set(names):
                offenders.append(path.name)
    assert offenders == []


# ---------------------------------------------------------------- over HTTP
def test_http_backend_reports_a_server_that_is_down():
    backend = HttpBackend(f"http://127.0.0.1:{free_port()}", ChunkParams())
    with pytest.raises(EvalError, match="failed: .*is the server running"):
        backend.ask("Who?", "hybrid")


@pytest.mark.model
def test_eval_url_matches_in_process(real_service, real_settings, tmp_path, capsys):
    """`qa eval --url` on the real uvicorn server scores exactly as the in-process run (a few questions)."""
    ids = {"q002", "q029", "q055", "q070", "q069"}
    # and a question the articles never touch: abstained below the relevance floor, with a would-be answer
    off_topic = {"id": "x001", "question": "What is the boiling point of mercury in a laboratory thermometer?",
                 "answers": [], "support": [], "kind": "unanswerable"}
    tiny = tmp_path / "tiny.jsonl"
    tiny.write_text("".join(l + "\n" for l in GOLD.read_text(encoding="utf-8").splitlines()
                            if json.loads(l)["id"] in ids) + json.dumps(off_topic) + "\n", encoding="utf-8")
    assert any(not g.answerable for g in load_gold(tiny))
    env = {"QA_SEEDS_DIR": str(real_settings.seeds_dir), "QA_INDEX_DIR": str(real_settings.index_dir),
           "QA_DATA_DIR": str(tmp_path / "data")}
    with live_server(env) as base:
        assert cli.main(["eval", "--gold", str(tiny), "--modes", "bm25,hybrid", "--url", base,
                         "--out", str(tmp_path / "out")]) == 0
        with HttpBackend(base, ChunkParams(max_words=40)) as other:  # not the server's chunking
            with pytest.raises(EvalError, match="not one the local chunk settings make"):
                other.search("How long did the call last?", 10, "hybrid")
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split() == ["metric", "bm25", "hybrid"] and "report.html" in printed
    over_http = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    local = json.loads(json.dumps(evaluate(LocalBackend(real_service), load_gold(tiny), ["bm25", "hybrid"]).to_json()))
    assert over_http["backend"] == base and len(over_http["questions"]) == 12
    keep = ("id", "mode", "answer", "abstained", "citations", "ranked_passages", "relevant_passages",
            "ranked_articles", "metrics")
    for mine, theirs in zip(local["questions"], over_http["questions"]):
        assert {k: theirs[k] for k in keep} == {k: mine[k] for k in keep}
        assert theirs["confidence"] == pytest.approx(mine["confidence"], abs=1e-4)
    # Only in process can the harness ask what the service would have answered had it not abstained.
    assert all(row["would_answer"] is None for row in over_http["questions"])
    assert all((row["would_answer"] is not None) == row["abstained"] for row in local["questions"])
    assert any(row["abstained"] and row["would_answer"] for row in local["questions"])


def test_citation_rule_checks(fake_service):
    backend = LocalBackend(fake_service)
    start = seed_text(S001).index(REPEATED)
    good = {"doc_id": "001_031c8477739e64ff", "source": S001, "start": start, "end": start + len(REPEATED),
            "quote": REPEATED}
    assert citation_ok(good, "Kremlin spokesman", backend)
    assert not citation_ok(good, "Kremlin spokesperson", backend)  # the answer is not inside the quote
    assert not citation_ok({**good, "end": good["end"] + 1}, "Kremlin", backend)  # offsets off by one
    assert not citation_ok({**good, "source": "000_0909706770c7972d.txt"}, "Kremlin", backend)
    assert not citation_ok({**good, "doc_id": "999_nope"}, "Kremlin", backend)
    assert check_citations({"answers": [{"text": "Kremlin", "citations": [good, {**good, "start": 0}]}]},
                           backend) == (2, 1)
