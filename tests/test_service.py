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
    assert (r.articles, r.format_version) == (5, 5)
    assert r.chunks == len(fake_service.index.chunks)
