"""The reader's precise answers (qa/read.py with qa/spans.py): spans, grouping, differing values, lists,
labels, speakers, dates and abstention reasons. Over the seeds with the instant hashing embedder."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from qa import spans
from qa.read import Reader, ReaderParams, ScoredSentence, _item_key, is_ambiguous
from qa.serialize import result_json
from qa.text import tokenize
from tests.helpers import ROOT, assert_citation_rule

DEV = [json.loads(line) for line in (ROOT / "tests" / "data" / "spans_dev.jsonl").read_text().splitlines()]


def scored(service, *pairs: tuple[str, float]) -> list[ScoredSentence]:
    """Sentences holding each needle, with the score given: reading without retrieval."""
    out = []
    for needle, score in pairs:
        sentence = next(s for s in service.index.sentences if needle in s.text)
        out.append(ScoredSentence(sentence, score, score, score))
    return out


def wordings(answer) -> list[str]:
    return [c.quote[c.answer_start - c.start : c.answer_end - c.start] for c in answer.citations]


def test_the_short_span_is_the_answer_and_its_sentence_the_context(fake_service):
    result = fake_service.ask("How many drones did Russia fire overnight?", top_k=3)
    top = result.answers[0]
    sentence = "Russia also fired 112 drones on Ukraine overnight, 76 of which were repelled, the Ukrainian air force said."
    assert (top.text, top.rule, top.context) == ("112 drones", "how_many_number", sentence)
    assert [c.quote for c in top.citations] == [sentence] and wordings(top) == ["112 drones"]
    assert top.speaker.text == "the Ukrainian air force" and top.speaker.citation.quote == sentence
    assert assert_citation_rule(result_json(result, fake_service.index.articles)) >= 3


@pytest.mark.parametrize("item", DEV, ids=[d["question"] for d in DEV])
def test_every_development_answer_keeps_the_citation_rule(fake_service, item):
    result = fake_service.ask(item["question"], top_k=3)
    body = result_json(result, fake_service.index.articles)
    assert_citation_rule(body)
    for a in result.answers:
        assert a.text in a.context and a.support_count >= 1


def test_the_same_value_in_other_words_is_one_answer_and_another_value_differs(fake_service):
    reader = fake_service.reader
    q = spans.parse("How long did the phone call between Trump and Putin last?")
    answers = reader._answers(q, scored(fake_service, ("for more than two hours on Monday", 0.8),
                                        ("the call lasted approximately two and a half hours", 0.75),
                                        ("over-two-hour-long conversation", 0.7)), 3, use_embeddings=False)
    assert [a.text for a in answers] == ["more than two hours", "approximately two and a half hours"]
    merged, other = answers
    assert wordings(merged) == ["more than two hours", "over-two-hour-long"] and merged.support_count == 2
    assert [c.doc_id[:3] for c in merged.citations] == ["000", "002"]
    assert merged.differs_from == (1,) and other.differs_from == (0,)
    assert other.speaker.text == "Russia\u2019s state-owned news agency TASS"


def test_span_embeddings_decide_whether_different_words_say_the_same(fake_service):
    q = spans.parse("How did Putin describe the conversation?")
    pairs = (("meaningful, frank and very useful", 0.8), ("informative and helpful", 0.7))

    def read(vectors):
        reader = Reader(fake_service.index, fake_service.retriever.idf, ReaderParams(merge_similarity=0.9), tokenize,
                        embed=lambda texts: np.array([vectors[t] for t in texts], dtype=np.float32))
        return reader._answers(q, scored(fake_service, *pairs), 3, use_embeddings=True)

    alike = {"meaningful, frank and very useful": [1.0, 0.0], "informative and helpful": [0.95, 0.3122]}
    unlike = {"meaningful, frank and very useful": [1.0, 0.0], "informative and helpful": [0.0, 1.0]}
    merged = read(alike)
    assert len(merged) == 1 and merged[0].support_count == 2
    assert wordings(merged[0]) == ["meaningful, frank and very useful", "informative and helpful"]
    assert [a.text for a in read(unlike)] == ["meaningful, frank and very useful", "informative and helpful"]


def test_a_list_answer_gathers_deduplicated_items_each_with_its_citation(fake_service):
    q = spans.parse("Which leaders did Trump inform?")
    answers = fake_service.reader._answers(q, scored(fake_service, ("I have so informed", 0.7)), 3, False)
    top = answers[0]
    assert top.rule == "list_items" and top.support_count == 1
    assert [i.text for i in top.items] == ["President Volodymyr Zelenskyy", "Ursula von der Leyen",
                                           "President Emmanuel Macron", "Prime Minister Giorgia Meloni",
                                           "Chancellor Friedrich Merz", "President Alexander Stubb"]
    assert all(i.citation.quote == top.context for i in top.items)
    assert _item_key("Ukrainian President Volodymyr Zelenskyy") == _item_key("President Volodymyr Zelenskyy")


def test_yes_no_answers_carry_the_label_beside_the_deciding_span(fake_service):
    top = fake_service.ask("Did Putin agree to an immediate ceasefire?").answers[0]
    assert (top.label, top.text, top.rule) == ("No", "Putin did not agree to an immediate ceasefire", "yes_no_clause")


def test_a_relative_day_is_resolved_against_the_article_date(fake_service):
    top = fake_service.ask("When did Vance meet Zelenskyy in Rome?").answers[0]
    assert (top.text, top.resolved_date, top.support_count) == ("Sunday", "2025-05-18", 2)


def test_sentence_answers_keep_their_whole_sentence_and_shared_words_merge(fake_service):
    result = fake_service.ask("How was the tone and spirit of the conversation?", top_k=3)
    top = result.answers[0]
    assert top.text == "The tone and spirit of the conversation were excellent" and top.rule == "sentence"
    assert wordings(top) == [top.text, top.text] and top.support_count == 2
    assert all(a.text == a.context for a in result.answers[1:])


def test_a_sentence_without_a_span_counts_less_for_a_span_question(fake_service):
    reader = Reader(fake_service.index, fake_service.retriever.idf, ReaderParams(spanless_penalty=0.4), tokenize)
    q = spans.parse("How many drones did Russia fire overnight?")
    answers = reader._answers(q, scored(fake_service, ("the Russian army continued its attacks", 0.9),
                                        ("Russia also fired 112 drones", 0.6)), 3, False)
    assert [a.text for a in answers] == ["112 drones", "On the ground, the Russian army continued its attacks."]
    assert answers[1].rule == "sentence" and answers[1].score == 0.36  # 0.9 * 0.4, below 0.6 * (0.4 + 0.6 * 0.5)


@pytest.mark.parametrize("threshold, question, reason", [
    (0.99, "How many drones did Russia fire overnight?", "low_confidence"),  # the words are there
    (0.99, "What is the capital of Australia?", "not_in_corpus"),  # they are not
    (0.0, "What did he say?", "ambiguous"),  # whoever "he" is
])
def test_abstentions_give_their_reason(fake_service, threshold, question, reason):
    reader = replace(fake_service.reader.params, abstain_threshold=threshold)
    service_reader = Reader(fake_service.index, fake_service.retriever.idf, reader, tokenize)
    hits = fake_service.search(question, 5, "hybrid")
    vector = fake_service.embedder.embed_queries([question])[0]
    reading = service_reader.read(question, tokenize(question), vector, hits, 3)
    assert reading.abstained and reading.answers == () and reading.abstain_reason == reason


def test_ambiguity_needs_a_pronoun_and_no_name():
    assert is_ambiguous("What did he say?", tokenize("What did he say?"))
    assert not is_ambiguous("What did Putin say?", tokenize("What did Putin say?"))
    assert not is_ambiguous("How many drones did they fire overnight?", tokenize("How many drones did they fire overnight?"))


def test_a_sentence_saying_the_answer_in_other_words_corroborates_it(fake_service):
    """A whole-sentence finding from another article merges when one of its phrases opening like the
    answer embeds at least merge_similarity alike; that phrase becomes its citation's wording."""
    q = spans.parse("What did Putin agree to?")
    pairs = (("We have agreed with the president", 0.8), ("Putin told Trump that Moscow is ready", 0.7))
    span = "to work with the Ukrainian side on a memorandum on a possible future peace accord"
    other = "to work on a memorandum with Ukraine on future peace talks"

    def embed(texts):
        return np.array([[1.0, 0.0] if t in (span, other) else [0.0, 1.0] for t in texts], dtype=np.float32)

    reader = Reader(fake_service.index, fake_service.retriever.idf, ReaderParams(), tokenize, embed=embed)
    top = reader._answers(q, scored(fake_service, *pairs), 3, use_embeddings=True)[0]
    assert wordings(top) == [span, other] and top.support_count == 2
    alone = reader._answers(q, scored(fake_service, *pairs), 3, use_embeddings=False)[0]
    assert wordings(alone) == [span] and alone.support_count == 1


def test_typed_questions_need_a_sentence_that_names_what_was_asked(fake_service):
    """Asked "how many" about something the articles count nowhere, the reader abstains rather than
    answering with a sentence: not_in_corpus. With the rule off it answers with a sentence."""
    from dataclasses import replace

    from qa.read import Reader
    from qa.text import tokenize

    q = "How many ceasefire memorandum drafts did Peskov write?"
    hits = fake_service.search(q, 5, "bm25")
    params = replace(fake_service.reader.params, abstain_threshold=0.0)
    strict = Reader(fake_service.index, fake_service.retriever.idf, params, tokenize)
    lenient = Reader(fake_service.index, fake_service.retriever.idf, replace(params, needs_span=False), tokenize)
    no = strict.read(q, tokenize(q), None, hits, 3)
    yes = lenient.read(q, tokenize(q), None, hits, 3)
    assert no.abstained and no.abstain_reason == "not_in_corpus"
    assert not yes.abstained and yes.answers[0].text == yes.answers[0].context
