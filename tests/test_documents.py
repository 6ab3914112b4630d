"""qa/documents.py: a new article is written whole or not at all, and never over another."""

from __future__ import annotations

import json
import shutil

import pytest

from qa import documents
from qa.documents import (NewDocument, add_document, add_documents, read_jsonl, remove_document, replace_document,
                          replace_documents, sweep_leftovers)
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


# ---------------------------------------------------------------- replacing (a correction)
CORRECTED = ("date 2025-06-02 Lighthouse keepers delay their strike\n\n"
             "The lighthouse keepers of Skerry Point will now strike in August, their union said on Monday.\n")


def _hidden(seeds):
    return sorted(p.name for p in seeds.iterdir() if p.name.startswith("."))


def test_a_replacement_takes_the_new_text_and_metadata_and_keeps_nothing_of_the_old(seeds):
    add_document(seeds, "keepers", TEXT, {"outlet": "Quay Gazette", "url": "https://quay.example/keepers"})
    article = replace_document(seeds, NewDocument("keepers", CORRECTED, meta={"language": "en-GB"}))
    assert (seeds / "keepers.txt").read_bytes() == CORRECTED.encode("utf-8")
    assert json.loads((seeds / "keepers.meta.json").read_text()) == {"language": "en-GB"}  # outlet and url not kept
    assert (article.title, article.date, article.outlet, article.language) == (
        "Lighthouse keepers delay their strike", "2025-06-02", None, "en-GB")
    stored = {a.doc_id: a for a in load_articles(seeds)}["keepers"]
    assert (stored.text, stored.sha256, stored.outlet) == (CORRECTED, article.sha256, None)
    replace_document(seeds, NewDocument("keepers", CORRECTED))  # no metadata now: no sidecar
    assert not (seeds / "keepers.meta.json").exists() and _hidden(seeds) == []


def test_replacing_a_missing_article_or_with_a_bad_document_changes_nothing(seeds):
    add_document(seeds, "keepers", TEXT, {"outlet": "Quay Gazette"})
    before = {p.name: p.read_bytes() for p in seeds.iterdir()}
    with pytest.raises(DocumentNotFound, match="no document 'beacon' in the corpus to replace; add it instead"):
        replace_document(seeds, NewDocument("beacon", CORRECTED))
    with pytest.raises(InvalidDocument, match="text is empty"):
        replace_document(seeds, NewDocument("keepers", " \n"))
    with pytest.raises(InvalidDocument, match="is not a date"):
        replace_document(seeds, NewDocument("keepers", CORRECTED, meta={"published": "next week"}))
    with pytest.raises(DocumentNotFound):  # all checked before any is replaced
        replace_documents(seeds, [NewDocument("keepers", CORRECTED), NewDocument("beacon", CORRECTED)])
    assert {p.name: p.read_bytes() for p in seeds.iterdir()} == before


def _crash_at_the_text(monkeypatch):
    """os.replace fails when the replacement's text is moved into place: after the commit point and the
    sidecar, as a crash there would leave it."""
    real = documents.os.replace

    def replace(src, dst):
        if str(dst).endswith(".txt"):
            raise OSError("disk gone")
        return real(src, dst)

    monkeypatch.setattr(documents.os, "replace", replace)


def test_a_committed_replacement_is_finished_by_the_next_start(seeds, monkeypatch):
    add_document(seeds, "keepers", TEXT, {"outlet": "Quay Gazette"})
    with monkeypatch.context() as m:
        _crash_at_the_text(m)
        with pytest.raises(OSError, match="disk gone"):
            replace_document(seeds, NewDocument("keepers", CORRECTED, meta={"outlet": "Pier Times"}))
    assert (seeds / "keepers.txt").read_bytes() == TEXT.encode() and _hidden(seeds) == [".keepers.text.ready"]
    sweep_leftovers(seeds)  # what a start does
    stored = {a.doc_id: a for a in load_articles(seeds)}["keepers"]
    assert (stored.text, stored.outlet) == (CORRECTED, "Pier Times") and _hidden(seeds) == []


def test_a_replacement_that_fails_before_its_commit_point_leaves_the_old_article(seeds, monkeypatch):
    add_document(seeds, "keepers", TEXT, {"outlet": "Quay Gazette"})
    real = documents.os.rename

    def rename(src, dst):
        raise OSError("no space left")

    monkeypatch.setattr(documents.os, "rename", rename)
    with pytest.raises(OSError, match="no space left"):
        replace_document(seeds, NewDocument("keepers", CORRECTED, meta={"outlet": "Pier Times"}))
    monkeypatch.setattr(documents.os, "rename", real)
    sweep_leftovers(seeds)
    stored = {a.doc_id: a for a in load_articles(seeds)}["keepers"]
    assert (stored.text, stored.outlet) == (TEXT, "Quay Gazette") and _hidden(seeds) == []


def test_removing_an_article_whose_replacement_was_committed_removes_it_for_good(seeds, monkeypatch):
    add_document(seeds, "keepers", TEXT)
    with monkeypatch.context() as m:
        _crash_at_the_text(m)
        with pytest.raises(OSError):
            replace_document(seeds, NewDocument("keepers", CORRECTED))
    remove_document(seeds, "keepers")
    sweep_leftovers(seeds)
    assert "keepers" not in {a.doc_id for a in load_articles(seeds)} and _hidden(seeds) == []
    assert not (seeds / "keepers.txt").exists()


def test_a_build_reads_the_corpus_while_no_change_can_be_made(tmp_path, monkeypatch):
    """ensure_index reads the corpus under its shared lock: an exclusive one (a change) cannot be taken meanwhile."""
    import fcntl
    import os

    from qa import service
    from qa.embed import HashingEmbedder
    from tests.apps import private_settings

    settings = private_settings(tmp_path)
    real, refused = service.scanner, []

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def load(self, seeds_dir, known=None):
            fd = os.open(seeds_dir, os.O_RDONLY | os.O_DIRECTORY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                refused.append(False)
            except BlockingIOError:
                refused.append(True)
            finally:
                os.close(fd)
            return self.inner.load(seeds_dir, known)

    monkeypatch.setattr(service, "scanner", lambda watch: Spy(real(watch)))
    index = service.ensure_index(settings, HashingEmbedder())
    assert refused == [True] and len(index.articles) == 5


def test_a_filesystem_that_refuses_locks_is_read_unlocked_with_a_warning(tmp_path, monkeypatch, caplog):
    import errno
    import fcntl

    from qa import service
    from qa.embed import HashingEmbedder
    from tests.apps import private_settings

    real = fcntl.flock

    def refuse(fd, op):  # a shared lock refused (the build lock, a file's, is taken as ever)
        if op == fcntl.LOCK_SH:
            raise OSError(errno.ENOLCK, "No locks available")
        return real(fd, op)

    monkeypatch.setattr(fcntl, "flock", refuse)
    with caplog.at_level("WARNING", logger="qa.documents"):
        index = service.ensure_index(private_settings(tmp_path), HashingEmbedder())
    assert len(index.articles) == 5
    assert "without its lock (No locks available)" in caplog.text


# ---------------------------------------------------------------- the file as sent (Markdown, HTML)
PAGE = ("<html lang=\"en\"><head><title>Ferry timetable cut</title></head><body><nav>Home | Weather</nav><article>"
        "<h1>Ferry timetable cut</h1><p>The Dunmarra ferry will sail four times a day from March, down from six, "
        "the operator Kestrel Lines said on Tuesday.</p><p>Islanders said the cut would strand commuters.</p>"
        "</article><script>alert(1)</script></body></html>")
NOTES = "---\noutlet: Island Post\n---\n# Ferry timetable cut\n\nThe Dunmarra ferry will sail **four** times a day.\n"


def test_an_html_or_markdown_article_keeps_the_file_as_sent_beside_the_text_it_was_extracted_into(seeds):
    article = add_documents(seeds, [NewDocument("ferry", PAGE, "html"), NewDocument("notes", NOTES, "markdown")])[0]
    assert "Kestrel Lines" in article.text and "<p>" not in article.text and "Home | Weather" not in article.text
    assert (seeds / "ferry.original.html").read_bytes() == PAGE.encode()
    assert (seeds / "notes.original.md").read_bytes() == NOTES.encode()
    assert documents.original(seeds, "ferry") == (PAGE.encode(), "html")
    assert documents.original(seeds, "notes") == (NOTES.encode(), "markdown")
    seed = "000_0909706770c7972d"  # sent as plain text: its text is the file as sent
    assert documents.original(seeds, seed) == ((seeds / f"{seed}.txt").read_bytes(), "text")
    assert [a.doc_id for a in load_articles(seeds)][-2:] == ["ferry", "notes"]  # the originals are not articles
    with pytest.raises(DocumentNotFound, match="no document 'tide' in the corpus"):
        documents.original(seeds, "tide")
    with pytest.raises(DocumentNotFound):
        documents.original(seeds, "../seeds/ferry")


def test_a_replacement_or_a_removal_changes_the_file_as_sent_with_the_text(seeds):
    add_document(seeds, "ferry", PAGE, fmt="html")
    replace_document(seeds, NewDocument("ferry", NOTES, "markdown"))
    assert documents.original(seeds, "ferry") == (NOTES.encode(), "markdown")
    assert not (seeds / "ferry.original.html").exists() and _hidden(seeds) == []
    replace_document(seeds, NewDocument("ferry", CORRECTED))  # now plain text: no original beside it
    assert documents.original(seeds, "ferry") == (CORRECTED.encode(), "text")
    assert sorted(p.name for p in seeds.glob("ferry*")) == ["ferry.txt"] and _hidden(seeds) == []
    replace_document(seeds, NewDocument("ferry", PAGE, "html"))
    remove_document(seeds, "ferry")
    assert sorted(p.name for p in seeds.glob("ferry*")) == [] and _hidden(seeds) == []


def test_a_committed_replacement_brings_its_file_as_sent_after_a_crash(seeds, monkeypatch):
    add_document(seeds, "ferry", NOTES, fmt="markdown")
    with monkeypatch.context() as m:
        _crash_at_the_text(m)
        with pytest.raises(OSError, match="disk gone"):
            replace_document(seeds, NewDocument("ferry", PAGE, "html"))
    sweep_leftovers(seeds)  # what a start does
    assert documents.original(seeds, "ferry") == (PAGE.encode(), "html")
    assert "Kestrel Lines" in {a.doc_id: a for a in load_articles(seeds)}["ferry"].text
    assert not (seeds / "ferry.original.md").exists() and _hidden(seeds) == []


def test_a_replacement_never_adopts_what_an_earlier_crashed_one_left(seeds):
    add_document(seeds, "ferry", TEXT)
    (seeds / ".ferry.html.tmp").write_bytes(PAGE.encode())  # a replacement killed before its commit point
    replace_document(seeds, NewDocument("ferry", CORRECTED))  # sent as text, with the server still running
    assert documents.original(seeds, "ferry") == (CORRECTED.encode(), "text") and _hidden(seeds) == []


def test_files_as_sent_left_by_crashed_adds_are_swept(seeds):
    (seeds / "ghost.original.html").write_bytes(PAGE.encode())  # a crash before its text was written
    (seeds / ".ghost.html.tmp").write_bytes(b"<p>half")
    (seeds / "lamp.original.md").write_bytes(NOTES.encode())
    add_document(seeds, "lamp", TEXT)  # an add of that name: the crashed add's original is not this article's
    assert not (seeds / "lamp.original.md").exists() and documents.original(seeds, "lamp")[1] == "text"
    sweep_leftovers(seeds)
    assert not (seeds / "ghost.original.html").exists() and _hidden(seeds) == []
