"""Results as JSON-ready dicts: the one shape shared by the HTTP API, `qa ask --json`, Slack and eval."""

from __future__ import annotations

from typing import Mapping

from qa.types import Answer, Article, Citation, Hit, Result


def citation_json(c: Citation) -> dict:
    return {"doc_id": c.doc_id, "source": c.source, "title": c.title, "date": c.date,
            "start": c.start, "end": c.end, "quote": c.quote}


def answer_json(a: Answer) -> dict:
    return {"text": a.text, "score": a.score, "context": a.context, "citations": [citation_json(c) for c in a.citations]}


def hit_json(h: Hit, articles: Mapping[str, Article]) -> dict:
    c = h.chunk
    return {"doc_id": c.doc_id, "chunk_id": c.chunk_id, "source": articles[c.doc_id].source, "start": c.start,
            "end": c.end, "text": c.text, "score": round(h.score, 6), "bm25_rank": h.bm25_rank, "dense_rank": h.dense_rank}


def result_json(r: Result, articles: Mapping[str, Article]) -> dict:
    return {"question": r.question, "mode": r.mode, "answers": [answer_json(a) for a in r.answers],
            "abstained": r.abstained, "confidence": r.confidence,
            "passages": [hit_json(h, articles) for h in r.passages], "took_ms": r.took_ms}


def article_json(a: Article) -> dict:
    return {"doc_id": a.doc_id, "source": a.source, "title": a.title, "date": a.date, "sha256": a.sha256,
            "text": a.text, "excluded": [list(r) for r in a.excluded]}
