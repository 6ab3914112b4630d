"""Evaluation: every gold question through the service, scored per retrieval mode.

    gold file -> GoldQuestion -> (Backend: in process or HTTP) -> QuestionScore per mode -> summary

What is measured (docs/evaluation.md explains each number):
- retrieval: Recall@1/3/5/10, MRR@10, nDCG@10 of the ranked passages (a passage is relevant when it
  overlaps a support quote's span in the article; every passage of the article is a candidate) and
  of the articles (the passage ranking deduplicated to doc ids, first seen first); answerable questions only;
- answers: SQuAD exact match and token F1 of the top answer (best over the gold answers; an abstention
  is the empty answer), and whether a gold answer appears in the top answer's context;
- citations: the share of all citations obeying text[start:end] == quote with the answer inside the
  quote, and the share of top answers (to answerable questions) citing a gold support span;
- abstention: precision/recall of abstaining on the unanswerable questions and the best threshold;
- latency: p50/p95 of the wall-clock time of one /ask.

Nothing in this module knows the gold set: the caller passes its path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.errors import DocumentNotFound, EvalError
from qa.eval_backend import Backend
from qa.metrics import (GOLD_KINDS, abstention_scores, best_threshold, exact_match, hit_at_k, mrr_at_k, ndcg_at_k,
                        percentile, recall_at_k, token_f1)
from qa.text import normalize_answer

RANK_DEPTH = 10
RECALL_KS = (1, 3, 5, 10)
HIT_KS = (1, 3, 5)
GOLD_FIELDS = ("id", "question", "answers", "support", "kind")
Progress = Callable[[Iterable, int, str], Iterable]


# ---------------------------------------------------------------- the gold set
@dataclass(frozen=True, slots=True)
class Support:
    source: str
    quote: str


@dataclass(frozen=True, slots=True)
class GoldQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    support: tuple[Support, ...]
    kind: str

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"

    @property
    def yes_no(self) -> bool:
        return bool(self.answers) and self.answers[0] in ("Yes", "No")


def load_gold(path: Path) -> list[GoldQuestion]:
    """The gold set, one JSON object a line; a malformed line is an error naming the line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalError(f"cannot read the gold file {str(path)!r}: {exc.strerror}") from exc
    out, seen = [], set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            q = GoldQuestion(row["id"], row["question"], tuple(row["answers"]),
                             tuple(Support(s["source"], s["quote"]) for s in row["support"]), row["kind"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise EvalError(f"{path}:{n}: not a gold row with fields {', '.join(GOLD_FIELDS)} ({exc})") from exc
        if q.kind not in GOLD_KINDS:
            raise EvalError(f"{path}:{n}: kind {q.kind!r} is unknown; choose one of {', '.join(GOLD_KINDS)}")
        if q.id in seen:
            raise EvalError(f"{path}:{n}: id {q.id!r} is used twice")
        seen.add(q.id)
        out.append(q)
    if not out:
        raise EvalError(f"the gold file {str(path)!r} has no questions")
    return out


@dataclass(frozen=True, slots=True)
class Span:
    doc_id: str
    start: int
    end: int

    def overlaps(self, doc_id: str, start: int, end: int) -> bool:
        return self.doc_id == doc_id and self.start < end and start < self.end


def support_spans(q: GoldQuestion, backend: Backend) -> tuple[Span, ...]:
    """Every occurrence of every support quote (a quote may occur twice in an article that repeats itself)."""
    spans: list[Span] = []
    for s in q.support:
        doc_id = Path(s.source).stem  # doc id = file stem
        text = backend.article(doc_id).text
        at = text.find(s.quote)
        if at < 0:
            raise EvalError(f"{q.id}: support quote not found in {s.source}: {s.quote[:80]!r}")
        while at >= 0:
            spans.append(Span(doc_id, at, at + len(s.quote)))
            at = text.find(s.quote, at + 1)
    return tuple(spans)


# ---------------------------------------------------------------- one question in one mode
@dataclass(frozen=True, slots=True)
class QuestionScore:
    id: str
    kind: str
    question: str
    mode: str
    answerable: bool
    gold: tuple[str, ...]
    answer: str  # the top answer's text, "" when the service abstained
    label: str | None  # the top answer's yes/no label, when the service gives one
    context: str
    abstained: bool
    confidence: float
    would_answer: str | None  # the answer with abstention off (local runs), for the threshold sweep
    citations: tuple[dict, ...]  # the top answer's citations, each with `valid` and `supported`
    ranked_passages: tuple[str, ...]
    relevant_passages: tuple[str, ...]
    ranked_articles: tuple[str, ...]
    relevant_articles: tuple[str, ...]
    metrics: dict[str, float | None]
    citations_checked: int  # over every answer returned, not only the top one
    citations_valid: int
    latency_ms: float
    took_ms: float


def contains(haystack: str, needle: str) -> bool:
    """`needle` appears in `haystack` as whole words, both normalized as SQuAD does."""
    n = normalize_answer(needle)
    return bool(n) and f" {n} " in f" {normalize_answer(haystack)} "


def prediction(q: GoldQuestion, text: str, label: str | None) -> str:
    """What is compared with the gold answers: a yes/no question's label when the answer has one."""
    return label if q.yes_no and label else text


def context_hit(q: GoldQuestion, abstained: bool, context: str) -> float:
    """A gold answer inside the top answer's context. Yes/no questions look for their deciding spans
    (answers[1:]); an unanswerable question hits when the service abstains."""
    if not q.answerable:
        return float(abstained)
    if abstained:
        return 0.0
    golds = q.answers[1:] if q.yes_no else q.answers
    return float(any(contains(context, g) for g in golds))


def retrieval_metrics(prefix: str, ranked: Sequence[str], relevant: set[str]) -> dict[str, float]:
    out = {f"{prefix}.hit@{k}": hit_at_k(ranked, relevant, k) for k in HIT_KS}
    out |= {f"{prefix}.recall@{k}": recall_at_k(ranked, relevant, k) for k in RECALL_KS}
    out[f"{prefix}.mrr@{RANK_DEPTH}"] = mrr_at_k(ranked, relevant, RANK_DEPTH)
    out[f"{prefix}.ndcg@{RANK_DEPTH}"] = ndcg_at_k(ranked, relevant, RANK_DEPTH)
    return out


def citation_ok(c: dict, answer_text: str, backend: Backend, corroborated: bool = False) -> bool:
    """The citation rule: the cited article (by doc id and source) has the quote at text[start:end],
    and the answer lies inside the quote; in a corroborated answer (support_count > 1) an article may
    word it otherwise, its own wording at answer_start:answer_end inside the quote
    (docs/precise-answers.md)."""
    try:
        article = backend.article(c["doc_id"])
    except DocumentNotFound:
        return False
    if not (article.source == c["source"] and article.text[c["start"]:c["end"]] == c["quote"]):
        return False
    if answer_text in c["quote"]:
        return True
    start, end = c.get("answer_start"), c.get("answer_end")
    return corroborated and start is not None and end is not None and c["start"] <= start < end <= c["end"]


def check_citations(body: dict, backend: Backend) -> tuple[int, int]:
    """(checked, valid) over every citation of every answer returned."""
    results = [citation_ok(c, a["text"], backend, a.get("support_count", 1) > 1)
               for a in body["answers"] for c in a["citations"]]
    return len(results), sum(results)


def top_citations(top: dict | None, spans: Sequence[Span], backend: Backend) -> tuple[dict, ...]:
    """The top answer's citations, each marked `valid` (the citation rule) and `supported` (overlaps gold)."""
    if top is None:
        return ()
    return tuple({"doc_id": c["doc_id"], "source": c["source"], "start": c["start"], "end": c["end"],
                  "quote": c["quote"], "valid": citation_ok(c, top["text"], backend, top.get("support_count", 1) > 1),
                  "supported": any(s.overlaps(c["doc_id"], c["start"], c["end"]) for s in spans)}
                 for c in top["citations"])


def would_answer(q: GoldQuestion, body: dict, backend: Backend, mode: str) -> str | None:
    """When the service abstained: its top answer with abstention off (None when the backend cannot say)."""
    if not body["abstained"]:
        return None
    shadow = backend.ask_unthresholded(q.question, mode)
    if shadow is None:
        return None
    first = shadow["answers"][0] if shadow["answers"] else None
    return prediction(q, first["text"], first.get("label")) if first else ""


def score_question(q: GoldQuestion, mode: str, backend: Backend) -> QuestionScore:
    t0 = time.perf_counter()
    body = backend.ask(q.question, mode)
    latency = (time.perf_counter() - t0) * 1e3
    passages = backend.search(q.question, RANK_DEPTH, mode)
    spans = support_spans(q, backend)
    top = body["answers"][0] if body["answers"] else None
    text, label, context = (top["text"], top.get("label"), top["context"]) if top else ("", None, "")

    relevant_docs = {s.doc_id for s in spans}
    relevant = {c.chunk_id for d in sorted(relevant_docs) for c in backend.chunks(d)
                if any(s.overlaps(c.doc_id, c.start, c.end) for s in spans)}
    ranked = tuple(p["chunk_id"] for p in passages)
    ranked_docs = tuple(dict.fromkeys(p["doc_id"] for p in passages))

    pred = prediction(q, text, label)
    cites = top_citations(top, spans, backend)
    metrics: dict[str, float | None] = {
        "exact_match": exact_match(pred, q.answers),
        "f1": token_f1(pred, q.answers),
        "context_hit": context_hit(q, body["abstained"], context),
        "top_citation_supported": float(any(c["supported"] for c in cites)) if q.answerable and top else None,
    }
    if q.answerable:
        metrics |= retrieval_metrics("passage", ranked, relevant)
        metrics |= retrieval_metrics("article", ranked_docs, relevant_docs)
    checked, valid = check_citations(body, backend)
    return QuestionScore(q.id, q.kind, q.question, mode, q.answerable, q.answers, text, label, context,
                         body["abstained"], float(body["confidence"]), would_answer(q, body, backend, mode), cites,
                         ranked, tuple(sorted(relevant)), ranked_docs, tuple(sorted(relevant_docs)), metrics,
                         checked, valid, round(latency, 3), float(body["took_ms"]))


# ---------------------------------------------------------------- a mode's summary
def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def sweep_f1(r: QuestionScore) -> float:
    """The F1 the question would score if answered: its answer, or its would-be answer when it abstained
    (0.0 when that is unknown, as over HTTP: lowering the threshold then never looks better)."""
    if not r.abstained:
        return r.metrics["f1"] or 0.0
    if r.would_answer is None:
        return 0.0
    return token_f1(r.would_answer, r.gold)


def summarize(rows: Sequence[QuestionScore]) -> dict:
    answerable = [r for r in rows if r.answerable]
    groups = {"all": rows, "answerable": answerable, "unanswerable": [r for r in rows if not r.answerable]}
    retrieval = {level: {name: _mean(r.metrics[f"{level}.{name}"] for r in answerable)
                         for name in [f"hit@{k}" for k in HIT_KS] + [f"recall@{k}" for k in RECALL_KS]
                         + [f"mrr@{RANK_DEPTH}", f"ndcg@{RANK_DEPTH}"]}
                 for level in ("passage", "article")}
    answers = {g: {m: _mean(r.metrics[m] for r in rs) for m in ("exact_match", "f1", "context_hit")}
               for g, rs in groups.items()}
    checked = sum(r.citations_checked for r in rows)
    supported = [r.metrics["top_citation_supported"] for r in rows if r.metrics["top_citation_supported"] is not None]
    abst = abstention_scores((r.abstained, r.answerable) for r in rows)
    best = best_threshold((r.confidence, sweep_f1(r), r.answerable) for r in rows)
    abstained = [r for r in rows if r.abstained]
    basis = ("no abstentions" if not abstained else "would-be answers"
             if all(r.would_answer is not None for r in abstained) else "abstentions score 0")
    latency = [r.latency_ms for r in rows]
    return {
        "questions": {"all": len(rows), "answerable": len(answerable), "unanswerable": len(groups["unanswerable"])},
        "retrieval": retrieval,
        "answers": answers,
        "citations": {"valid": sum(r.citations_valid for r in rows) / checked if checked else None,
                      "checked": checked, "top_supported": _mean(supported), "top_answers": len(supported)},
        "abstention": {**asdict(abst), "best_threshold": best.threshold, "best_threshold_f1": best.f1,
                       "sweep_basis": basis},
        "latency_ms": {"p50": percentile(latency, 50), "p95": percentile(latency, 95)},
    }


# ---------------------------------------------------------------- the run
@dataclass(frozen=True, slots=True)
class ModeRun:
    mode: str
    summary: dict
    rows: tuple[QuestionScore, ...]
    seconds: float


@dataclass(frozen=True, slots=True)
class Report:
    backend: str
    gold: str
    created_at: str
    runs: tuple[ModeRun, ...]

    def run(self, mode: str) -> ModeRun:
        for r in self.runs:
            if r.mode == mode:
                return r
        raise KeyError(f"mode {mode!r} was not evaluated; evaluated: {', '.join(r.mode for r in self.runs)}")

    def to_json(self) -> dict:
        return {"backend": self.backend, "gold": self.gold, "created_at": self.created_at,
                "summary": {r.mode: {**r.summary, "seconds": round(r.seconds, 3)} for r in self.runs},
                "questions": [asdict(row) for r in self.runs for row in r.rows]}


# ---------------------------------------------------------------- several sets side by side
ROLES = ("dev", "test")  # dev: fitted and tuned on; test: reported only


@dataclass(frozen=True, slots=True)
class EvalSet:
    """A gold file and the corpus (a folder of articles) its questions are about. `role` says what the
    set may be used for: "dev" sets fit and choose the reader's settings (bench/fit_scorer.py); "test"
    sets are only reported. A set named on the command line is a test set."""

    name: str
    gold: Path
    corpus: Path
    role: str = "test"


@dataclass(frozen=True, slots=True)
class SetReport:
    set: EvalSet
    report: Report


def parse_set(spec: str, default_corpus: Path) -> EvalSet:
    """`NAME=GOLD` or `NAME=GOLD:CORPUS` (the corpus defaults to `default_corpus`)."""
    name, eq, rest = spec.partition("=")
    gold, _, corpus = rest.partition(":")
    if not eq or not name.strip() or not gold.strip():
        raise EvalError(f"set {spec!r} is not NAME=GOLD or NAME=GOLD:CORPUS (e.g. dev=eval/dev.jsonl:seeds)")
    return EvalSet(name.strip(), Path(gold), Path(corpus) if corpus else default_corpus)


def load_sets(path: Path) -> list[EvalSet]:
    """The named sets of a JSON file {"sets": [{"name", "gold", "corpus", "role"}, ...]} (role "dev" or
    "test", default "test"); paths as written (relative ones from the current folder, like QA_SEEDS_DIR)."""
    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))["sets"]
        sets = [EvalSet(r["name"], Path(r["gold"]), Path(r["corpus"]), r.get("role", "test")) for r in rows]
    except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise EvalError(f"sets file {str(path)!r} is not {{\"sets\": [{{\"name\", \"gold\", \"corpus\"}}]}}: {exc}") from exc
    bad = sorted({s.role for s in sets} - set(ROLES))
    if bad:
        raise EvalError(f"sets file {str(path)!r}: role {', '.join(map(repr, bad))} is not one of {', '.join(ROLES)}")
    return unique_sets(sets)


def unique_sets(sets: Sequence[EvalSet]) -> list[EvalSet]:
    """The sets, checked to be at least one and to have distinct names (they label the table's columns)."""
    names = [s.name for s in sets]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise EvalError(f"set name(s) {', '.join(twice)} used twice; name each set once (--set NAME=GOLD[:CORPUS])")
    if not sets:
        raise EvalError("no question set to evaluate; give --gold FILE or --set NAME=GOLD[:CORPUS]")
    return list(sets)


def evaluate(backend: Backend, gold: Sequence[GoldQuestion], modes: Sequence[str], gold_name: str = "",
             progress: Progress | None = None) -> Report:
    runs = []
    for mode in modes:
        t0 = time.perf_counter()
        items = progress(gold, len(gold), mode) if progress else gold
        rows = tuple(score_question(q, mode, backend) for q in items)
        runs.append(ModeRun(mode, summarize(rows), rows, time.perf_counter() - t0))
    return Report(backend.name, gold_name, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), tuple(runs))


# ---------------------------------------------------------------- the gate
def flatten(summary: Mapping, prefix: str = "") -> dict[str, float]:
    """Dotted names for every number in a summary: {"answers": {"all": {"f1": x}}} -> {"answers.all.f1": x}."""
    out: dict[str, float] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out |= flatten(value, name + ".")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def shortfalls(summary: Mapping, floors: Mapping[str, float]) -> list[str]:
    """One line per metric below its floor (or missing), saying by how much."""
    values = flatten(summary)
    out = []
    for name, floor in floors.items():
        if name not in values:
            out.append(f"{name}: not reported (floor {floor:.4f})")
        elif values[name] < floor:
            out.append(f"{name} = {values[name]:.4f} is below its floor {floor:.4f} by {floor - values[name]:.4f}")
    return out


def load_floors(path: Path) -> tuple[str, dict[str, dict[str, float]]]:
    """(mode, {set name: floors}) from a thresholds file:
    {"mode": ..., "floors": {set name: {dotted metric name: floor}}} (set names as in eval/sets.json)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return data["mode"], {name: {k: float(v) for k, v in floors.items()} for name, floors in data["floors"].items()}
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EvalError(f"thresholds file {str(path)!r} is not {{\"mode\", \"floors\": {{set: {{metric: number}}}}}}: "
                        f"{exc}") from exc
