"""Results as JSON-ready dicts: the one shape shared by the HTTP API, `qa ask --json`, Slack and eval."""

from __future__ import annotations

from typing import Mapping

from qa.types import Answer, Article, Citation, Hit, Mention, Result


def citation_json(c: Citation) -> dict:
    return {"doc_id": c.doc_id, "source": c.source, "title": c.title, "date": c.date,
            "start": c.start, "end": c.end, "quote": c.quote,
            "answer_start": c.start if c.answer_start is None else c.answer_start,
            "answer_end": c.end if c.answer_end is None else c.answer_end,
            "outlet": c.outlet, "url": c.url, "published": c.published}


def mention_json(m: Mention) -> dict:
    return {"text": m.text, "citation": citation_json(m.citation)}


def answer_json(a: Answer) -> dict:
    return {"text": a.text, "score": a.score, "context": a.context, "citations": [citation_json(c) for c in a.citations],
            "rule": a.rule, "label": a.label, "speaker": mention_json(a.speaker) if a.speaker else None,
            "resolved_date": a.resolved_date, "support_count": a.support_count,
            "differs_from": list(a.differs_from) or None, "items": [mention_json(m) for m in a.items] or None}


def hit_json(h: Hit, articles: Mapping[str, Article]) -> dict:
    c = h.chunk
    return {"doc_id": c.doc_id, "chunk_id": c.chunk_id, "source": articles[c.doc_id].source, "start": c.start,
            "end": c.end, "text": c.text, "score": round(h.score, 6), "bm25_rank": h.bm25_rank, "dense_rank": h.dense_rank}


def result_json(r: Result, articles: Mapping[str, Article]) -> dict:
    return {"question": r.question, "mode": r.mode, "answers": [answer_json(a) for a in r.answers],
            "abstained": r.abstained, "abstain_reason": r.abstain_reason, "confidence": r.confidence,
            "passages": [hit_json(h, articles) for h in r.passages], "took_ms": r.took_ms,
            "degraded": r.degraded}


def article_meta_json(a: Article) -> dict:
    """An article's metadata, without its text."""
    return {"doc_id": a.doc_id, "source": a.source, "title": a.title, "date": a.date, "outlet": a.outlet,
            "url": a.url, "published": a.published, "language": a.language, "sha256": a.sha256,
            "chars": len(a.text), "sentences": len(a.sentences)}


def article_json(a: Article) -> dict:
    return {**article_meta_json(a), "text": a.text, "excluded": [list(r) for r in a.excluded]}
