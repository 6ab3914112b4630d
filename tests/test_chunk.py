from qa.chunk import ChunkParams, chunk_article
from qa.ingest import load_articles, parse_article
from tests.helpers import SEEDS

PARAMS = ChunkParams(min_sentences=3, max_sentences=5, max_words=120, overlap=1)


def test_chunks_are_verbatim_runs_of_whole_sentences():
    for article in load_articles(SEEDS):
        chunks = chunk_article(article, PARAMS)
        assert [c.chunk_id for c in chunks] == [f"{article.doc_id}#{i}" for i in range(len(chunks))]
        starts = {s for s, _ in article.sentences}
        ends = {e for _, e in article.sentences}
        for c in chunks:
            assert article.text[c.start:c.end] == c.text
            assert c.start in starts and c.end in ends
            first, last = c.sentences
            assert 1 <= last - first <= PARAMS.max_sentences
            assert len(c.text.split()) <= PARAMS.max_words or last - first == 1
            assert not any(c.start < xe and xs < c.end for xs, xe in article.excluded)
        covered = set()
        for c in chunks:
            covered.update(range(*c.sentences))
        assert covered == set(range(len(article.sentences)))


def test_overlap_and_sizes_on_a_small_article():
    text = " ".join(f"Sentence number {i} is here." for i in range(9))
    a = parse_article("t", "t.txt", text)
    chunks = chunk_article(a, PARAMS, first_sentence=100)
    assert [c.sentences for c in chunks] == [(100, 105), (104, 109)]


def test_word_budget_cuts_chunks():
    text = " ".join(f"Word{n}" + " word" * 49 + "." for n in range(4))  # 50 words each
    a = parse_article("t", "t.txt", text)
    assert [c.sentences for c in chunk_article(a, PARAMS)] == [(0, 2), (1, 3), (2, 4)]


def test_chunks_break_at_excluded_ranges():
    a = load_articles(SEEDS)[1]  # 001 repeats a passage
    hole = next(r for r in a.excluded if r[0] > 0)
    for c in chunk_article(a, PARAMS):
        assert c.end <= hole[0] or c.start >= hole[1]
