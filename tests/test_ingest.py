from pathlib import Path

import pytest

from qa.errors import ConfigError
from qa.ingest import load_articles, parse_article
from tests.helpers import SEEDS


@pytest.fixture(scope="module")
def articles():
    return {a.doc_id[:3]: a for a in load_articles(SEEDS)}


def test_one_article_per_seed_file_with_raw_text(articles):
    assert sorted(articles) == ["000", "001", "002", "003", "004"]
    for a in articles.values():
        assert a.text == (SEEDS / a.source).read_bytes().decode("utf-8")
        assert a.doc_id == Path(a.source).stem
        assert len(a.sha256) == 64


def test_date_and_title_from_the_header(articles):
    assert articles["000"].date == "2025-05-19"
    assert articles["000"].title.startswith("MOSCOW \u2014 President Trump spoke with Russian President Vladimir Putin")
    assert articles["003"].date == "2025-05-19"
    assert articles["003"].title == "Trump holding calls with Putin, Zelenskyy to push for ceasefire in Ukraine"
    assert articles["001"].date is None
    assert articles["001"].title.startswith("Following the call, Trump, in a post on Truth Social")
    # the header line is not indexed
    assert articles["003"].excluded[0] == (0, articles["003"].text.index("\n"))


def test_donation_appeal_is_excluded_to_the_end(articles):
    a = articles["002"]
    start = a.text.index("A Message from The Moscow Times")
    assert a.excluded[-1] == (start, len(a.text))
    assert all(end <= start for _, end in a.sentences)


def test_repeated_passage_is_excluded_once(articles):
    a = articles["001"]
    needle = "Ahead of the call, US Vice President JD Vance said"
    first, second = a.text.index(needle), a.text.index(needle, a.text.index(needle) + 1)
    indexed = [a.text[s:e] for s, e in a.sentences]
    assert sum(s.startswith(needle) for s in indexed) == 1
    assert any(s <= second < e for s, e in a.excluded)
    assert not any(s <= first < e for s, e in a.excluded)


def test_editors_note_is_excluded(articles):
    a = articles["004"]
    assert not a.text[a.sentences[0][0]:].startswith("Editor")


def test_sentences_never_overlap_excluded_ranges(articles):
    for a in articles.values():
        for s, e in a.sentences:
            assert a.text[s:e].strip() == a.text[s:e] != ""
            assert not any(s < xe and xs < e for xs, xe in a.excluded)


def test_bad_seeds_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_articles(tmp_path / "nope")
    with pytest.raises(ConfigError, match="no .txt files"):
        load_articles(tmp_path)
    (tmp_path / "x.txt").write_bytes(b"\xff\xfe bad")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_articles(tmp_path)


def test_timestamp_after_date_is_not_a_title():
    a = parse_article("x", "x.txt", " date 2025-01-02 Updated Jan 2\n\nFirst sentence here. Second one.")
    assert (a.date, a.title) == ("2025-01-02", "First sentence here.")
