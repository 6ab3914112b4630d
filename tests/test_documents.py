"""qa/documents.py: a new article is written whole or not at all, and never over another."""

from __future__ import annotations

import shutil

import pytest

from qa.documents import add_document
from qa.errors import DocumentExists, InvalidDocument
from qa.ingest import load_articles
from tests.helpers import SEEDS

TEXT = "date 2025-06-01 Lighthouse keepers vote to strike\n\nThe lighthouse keepers of Skerry Point voted on Sunday to strike.\n"


@pytest.fixture
def seeds(tmp_path):
    shutil.copytree(SEEDS, tmp_path / "seeds")
    return tmp_path / "seeds"


def test_a_new_document_is_stored_byte_for_byte_and_ingested(seeds):
    article = add_document(seeds, "lighthouse", TEXT)
    assert (seeds / "lighthouse.txt").read_bytes() == TEXT.encode("utf-8")
    assert (article.doc_id, article.source, article.date, article.title) == (
        "lighthouse", "lighthouse.txt", "2025-06-01", "Lighthouse keepers vote to strike")
    assert [a.doc_id for a in load_articles(seeds)][-1] == "lighthouse"
    assert sorted(p.name for p in seeds.iterdir() if not p.name.endswith(".txt")) == []  # no temp file left


def test_an_existing_document_is_never_replaced(seeds):
    before = (seeds / "000_0909706770c7972d.txt").read_bytes()
    with pytest.raises(DocumentExists, match="'000_0909706770c7972d.txt' already exists; documents are never replaced"):
        add_document(seeds, "000_0909706770c7972d", TEXT)
    assert (seeds / "000_0909706770c7972d.txt").read_bytes() == before


@pytest.mark.parametrize("name,text,message", [
    ("../escape", TEXT, "name must be 1-100 letters"),
    (".hidden", TEXT, "name must be 1-100 letters"),
    ("ok", "   \n  ", "document 'ok': text is empty; send the article's text"),
    ("ok", "date 2025-01-01 Only a header\n", "text cannot be indexed"),
    ("ok", "Lone \ud800 surrogate.", "text is not valid Unicode (unpaired surrogate at character 5)"),
])
def test_unusable_documents_are_refused_and_nothing_is_written(seeds, name, text, message):
    before = sorted(p.name for p in seeds.iterdir())
    with pytest.raises(InvalidDocument, match=message.replace("(", r"\(").replace(")", r"\)")):
        add_document(seeds, name, text)
    assert sorted(p.name for p in seeds.iterdir()) == before
