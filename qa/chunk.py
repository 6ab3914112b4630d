"""Article -> Chunks: runs of whole sentences with character offsets into the raw file. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from qa.types import Article, Chunk


@dataclass(frozen=True, slots=True)
class ChunkParams:
    min_sentences: int = 3
    max_sentences: int = 5
    max_words: int = 120
    overlap: int = 1


def chunk_article(article: Article, params: ChunkParams, first_sentence: int = 0) -> list[Chunk]:
    """Chunks of `params.min_sentences`..`max_sentences` sentences and at most `max_words` words
    (a single longer sentence is a chunk of its own), consecutive chunks sharing `overlap` sentences.
    A chunk never spans an excluded range, so its text is one verbatim slice of the file.
    `first_sentence` is the index of the article's first sentence in the index's sentence table."""
    chunks: list[Chunk] = []
    for run_start, run_end in _runs(article):
        i = run_start
        while True:
            j = _extend(article, i, run_end, params)
            start, end = article.sentences[i][0], article.sentences[j - 1][1]
            chunks.append(
                Chunk(
                    chunk_id=f"{article.doc_id}#{len(chunks)}",
                    doc_id=article.doc_id,
                    ordinal=len(chunks),
                    start=start,
                    end=end,
                    text=article.text[start:end],
                    sentences=(first_sentence + i, first_sentence + j),
                )
            )
            if j >= run_end:
                break
            i = max(j - params.overlap, i + 1)
    return chunks


def _extend(article: Article, i: int, run_end: int, params: ChunkParams) -> int:
    """End (exclusive) of the chunk that starts at sentence i."""
    j, words = i, 0
    while j < run_end and j - i < params.max_sentences:
        n = _words(article, j)
        if j > i and words + n > params.max_words:
            break
        words += n
        j += 1
    # A short tail is folded into this chunk rather than left as a chunk of one or two sentences,
    # as long as the sentence and word budgets allow.
    tail = run_end - j
    if 0 < tail < params.min_sentences - params.overlap and j - i + tail <= params.max_sentences:
        extra = sum(_words(article, t) for t in range(j, run_end))
        if words + extra <= params.max_words:
            j = run_end
    return j


def _words(article: Article, i: int) -> int:
    start, end = article.sentences[i]
    return len(article.text[start:end].split())


def _runs(article: Article) -> list[tuple[int, int]]:
    """Runs [a, b) of consecutive sentences with no excluded range between them."""
    runs: list[tuple[int, int]] = []
    a = 0
    for k in range(1, len(article.sentences) + 1):
        if k == len(article.sentences) or _gap_excluded(article, k):
            runs.append((a, k))
            a = k
    return [r for r in runs if r[1] > r[0]]


def _gap_excluded(article: Article, k: int) -> bool:
    gap_start, gap_end = article.sentences[k - 1][1], article.sentences[k][0]
    return any(gap_start < end and start < gap_end for start, end in article.excluded)
