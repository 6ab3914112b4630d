import pytest

from qa.errors import DocumentNotFound, InvalidQuestion


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"question": "   "}, "blank"),
        ({"question": "x" * 1001}, "limit is 1000"),
        ({"question": "q", "top_k": 0}, "between 1 and 10"),
        ({"question": "q", "top_k": 11}, "between 1 and 10"),
        ({"question": "q", "mode": "magic"}, "choose one of hybrid, bm25, dense"),
    ],
)
def test_bad_questions_say_what_to_fix(fake_service, kwargs, message):
    with pytest.raises(InvalidQuestion, match=message):
        fake_service.ask(**kwargs)


def test_an_explicit_top_k_is_honoured(fake_service):
    result = fake_service.ask("What did Vance say?", top_k=1)
    assert len(result.passages) == 1 and len(result.answers) <= 1


def test_timings_and_mode_are_reported(fake_service):
    result = fake_service.ask("What did Vance say?", mode="bm25")
    assert result.mode == "bm25"
    assert set(result.timings) == {"embed_ms", "retrieve_ms", "read_ms"}
    assert result.took_ms > 0


def test_unknown_document(fake_service):
    with pytest.raises(DocumentNotFound, match="known documents: 000_"):
        fake_service.document("nope")


def test_readiness_counts(fake_service):
    r = fake_service.readiness()
    assert (r.articles, r.format_version) == (5, 6)
    assert r.chunks == len(fake_service.index.chunks)


def test_prepare_reader_reads_each_sentence_once_up_to_the_limit(fake_service, monkeypatch):
    from qa.read import reader as reader_module
    from qa.service import QAService

    read = []
    real = reader_module.candidates
    monkeypatch.setattr(reader_module, "candidates", lambda doc: read.append(doc.text) or real(doc))
    fresh = QAService(fake_service.settings, fake_service.index, fake_service.embedder)
    assert fresh.prepare_reader(3) == 3
    assert read == [s.text for s in fake_service.index.sentences[:3]]
    assert fresh.reader.candidates(2) == real(fake_service.index.docs[2]) and len(read) == 3  # not read again
    n = len(fake_service.index.sentences)
    assert fresh.prepare_reader(10 * n) == n and len(read) == n
