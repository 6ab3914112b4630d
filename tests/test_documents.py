"""qa/documents.py: a new article is written whole or not at all, and never over another."""

from __future__ import annotations

import json
import shutil

import pytest

from qa.documents import NewDocument, add_document, add_documents, read_jsonl, remove_document
from qa.errors import DocumentExists, DocumentNotFound, InvalidDocument
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


def test_metadata_is_stored_beside_the_text_and_read_back(seeds):
    meta = {"outlet": "Harbour News", "url": "https://harbour.example/k", "published": "2025-06-01T09:30:00+02:00",
            "language": "en"}
    article = add_document(seeds, "keepers", TEXT, meta)
    assert (seeds / "keepers.txt").read_bytes() == TEXT.encode("utf-8")
    assert json.loads((seeds / "keepers.meta.json").read_text()) == meta
    stored = {a.doc_id: a for a in load_articles(seeds)}["keepers"]
    assert stored == article
    assert (stored.date, stored.published, stored.outlet, stored.title) == (
        "2025-06-01", "2025-06-01T09:30:00+02:00", "Harbour News", "Lighthouse keepers vote to strike")


def test_a_published_date_that_contradicts_the_date_line_is_refused(seeds):
    with pytest.raises(InvalidDocument, match="published 2025-06-02 disagrees with its date line 2025-06-01"):
        add_document(seeds, "keepers", TEXT, {"published": "2025-06-02"})
    assert not (seeds / "keepers.txt").exists() and not (seeds / "keepers.meta.json").exists()


def test_a_bulk_add_is_all_or_nothing(seeds):
    before = sorted(p.name for p in seeds.iterdir())
    good = NewDocument("keepers", TEXT)
    with pytest.raises(DocumentExists, match="'003_402be4f0d307bbc3.txt' already exists"):
        add_documents(seeds, [good, NewDocument("003_402be4f0d307bbc3", TEXT)])
    with pytest.raises(InvalidDocument, match=r"body line 2 \('bad'\): language must be a BCP 47 tag"):
        add_documents(seeds, read_jsonl(b'{"name": "keepers", "text": "A line of news."}\n'
                                        b'{"name": "bad", "text": "More news.", "language": "Klingon!"}\n', "body"))
    with pytest.raises(InvalidDocument, match=r"name\(s\) given more than once: keepers"):
        add_documents(seeds, [good, good])
    assert sorted(p.name for p in seeds.iterdir()) == before
    assert [a.doc_id for a in add_documents(seeds, [good, NewDocument("second", "Second story here.")])] == [
        "keepers", "second"]


def test_removal_deletes_text_and_metadata_and_sweeps_leftovers(seeds):
    add_document(seeds, "keepers", TEXT, {"outlet": "Harbour News"})
    (seeds / "ghost.meta.json").write_text("{}")  # what a crash between the two writes of an add leaves
    (seeds / ".ghost.0123.tmp").write_text("half")
    assert "ghost" not in {a.doc_id for a in load_articles(seeds)}
    remove_document(seeds, "keepers")
    assert not (seeds / "keepers.txt").exists() and not (seeds / "keepers.meta.json").exists()
    assert sorted(p.name for p in seeds.iterdir() if not p.name.endswith(".txt")) == []
    with pytest.raises(DocumentNotFound, match="no document 'keepers' in the corpus"):
        remove_document(seeds, "keepers")
    with pytest.raises(DocumentNotFound, match=r"no document '\.\./etc/passwd' in the corpus"):
        remove_document(seeds, "../etc/passwd")


def test_an_add_sweeps_its_own_names_leftovers_without_listing_the_folder(seeds, monkeypatch):
    import os

    from qa.documents import sweep_leftovers

    # what crashed adds left: of "ferry" (its sidecar written, its text not yet), and of "ghost"
    (seeds / "ferry.meta.json").write_text('{"outlet": "Old Outlet"}')
    (seeds / ".ferry.text.tmp").write_text("half")
    (seeds / ".ghost.text.tmp").write_text("half")
    (seeds / "ghost.meta.json").write_text("{}")
    listed = []
    real_listdir, real_scandir = os.listdir, os.scandir
    monkeypatch.setattr(os, "listdir", lambda path=".": (listed.append(path), real_listdir(path))[1])
    monkeypatch.setattr(os, "scandir", lambda path=".": (listed.append(path), real_scandir(path))[1])
    add_document(seeds, "ferry", "The night ferry to Vastholm was cancelled on Friday because of fog.\n")
    assert listed == []  # the add's cost does not grow with the corpus
    monkeypatch.undo()
    assert not (seeds / ".ferry.text.tmp").exists()
    assert not (seeds / "ferry.meta.json").exists()  # the crashed add's metadata is not the new article's
    assert [a.outlet for a in load_articles(seeds) if a.doc_id == "ferry"] == [None]
    assert (seeds / ".ghost.text.tmp").exists() and (seeds / "ghost.meta.json").exists()  # not its business
    sweep_leftovers(seeds)  # at the next start or removal
    assert not (seeds / ".ghost.text.tmp").exists() and not (seeds / "ghost.meta.json").exists()
    assert (seeds / "ferry.txt").exists()


def test_a_start_sweeps_what_crashed_changes_left_in_the_corpus(tmp_path):
    from qa.embed import HashingEmbedder
    from qa.service import ensure_index
    from tests.apps import private_settings

    settings = private_settings(tmp_path)
    (settings.seeds_dir / ".harbour.text.tmp").write_text("half")
    (settings.seeds_dir / "harbour.meta.json").write_text("{}")
    ensure_index(settings, HashingEmbedder())
    assert not (settings.seeds_dir / ".harbour.text.tmp").exists()
    assert not (settings.seeds_dir / "harbour.meta.json").exists()
