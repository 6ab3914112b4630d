"""The optional model stages with tiny models the tests build and save themselves: a few layers, random
weights, the bundled MiniLM tokenizer. What is checked is the plumbing, not the answers: offsets map
back to exact citations, and the settings switch the stages on and off."""

from __future__ import annotations

import numpy as np
import pytest

from qa.embed import HashingEmbedder, resolve_model
from qa.errors import ModelError
from qa.neural import CrossEncoderReranker, TransformerReader
from qa.serialize import result_json
from qa.service import QAService, optional_stages
from qa.text import tokenize
from tests.helpers import assert_citation_rule


def _tiny(folder, head: str):
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("sentence-transformers/all-MiniLM-L6-v2"))
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=512, num_labels=2 if head == "qa" else 1)
    torch.manual_seed(0)
    model = BertForQuestionAnswering(config) if head == "qa" else BertForSequenceClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny_qa(tmp_path_factory) -> str:
    return _tiny(tmp_path_factory.mktemp("tiny-qa"), "qa")


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> str:
    return _tiny(tmp_path_factory.mktemp("tiny-ce"), "ce")


def test_the_reader_maps_its_best_span_back_to_exact_offsets_inside_each_sentence(tiny_qa, fake_service):
    reader = TransformerReader(tiny_qa, max_answer_tokens=5).load()
    article = fake_service.index.articles["000_0909706770c7972d"]
    sentences = [(article.text, s, e) for s, e in article.sentences[:4]]
    found = reader.find("How long did Trump speak with Putin?", sentences)
    assert len(found) == 4
    for (text, lo, hi), (start, end, score) in zip(sentences, found):
        span = text[start:end]
        assert lo <= start < end <= hi and span == span.strip() and 0 < score <= 1
        assert len(reader._tokenizer(span, add_special_tokens=False)["input_ids"]) <= 5 + 2  # edge marks may split


def test_the_reranker_scores_are_probabilities_one_per_sentence(tiny_cross_encoder):
    reranker = CrossEncoderReranker(tiny_cross_encoder).load()
    scores = reranker.scores("Who is the Kremlin spokesman?", ["Dmitry Peskov said.", "It rained.", "Trump spoke."])
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    assert reranker.scores("q", []).shape == (0,)


def test_settings_switch_the_stages_on_and_off(tiny_qa, tiny_cross_encoder, fake_service):
    assert optional_stages(fake_service.settings) == (None, None)
    settings = fake_service.settings.model_copy(update={"reader_model": tiny_qa, "reranker_model": tiny_cross_encoder})
    span_model, reranker = optional_stages(settings)
    assert isinstance(span_model, TransformerReader) and isinstance(reranker, CrossEncoderReranker)

    service = QAService.open(settings, embedder=HashingEmbedder())
    assert service.reader.span_model is not None and service.reader.reranker is not None
    question = "Who is the Kremlin spokesman?"
    result = service.ask(question, top_k=3)
    assert result.answers and assert_citation_rule(result_json(result, service.index.articles)) >= 1
    # the model's span in each sentence read competes with the analysis' candidates
    assert any(r.candidate.kind == "model" for r in _ranked(service, question))
    assert not any(r.candidate.kind == "model" for r in _ranked(fake_service, question))


def _ranked(service, question):
    vector = service.embedder.embed_queries([question])[0]
    hits = service.search(question, 5, "hybrid")
    reader = service.reader
    return reader.rank(reader.question(question), reader.relevance(tokenize(question), vector, hits, question))


def test_the_reranker_blends_its_probability_into_each_sentence_score(tiny_cross_encoder, fake_service):
    settings = fake_service.settings.model_copy(update={"reranker_model": tiny_cross_encoder, "reranker_weight": 0.5})
    service = QAService.open(settings, embedder=HashingEmbedder())
    question = "Who is the Kremlin spokesman?"
    hits = fake_service.search(question, 5, "hybrid")
    vector = fake_service.embedder.embed_queries([question])[0]
    tokens = tokenize(question)
    plain = {s.sentence.index: s.score for s in fake_service.reader.relevance(tokens, vector, hits, question)}
    blended = service.reader.relevance(tokens, vector, hits, question)
    probabilities = service.reader.reranker.scores(question, [s.sentence.text for s in blended])
    for s, p in zip(blended, probabilities):
        assert s.score == pytest.approx(0.5 * plain[s.sentence.index] + 0.5 * float(p), abs=1e-6)


@pytest.mark.parametrize("make, setting", [(TransformerReader, "QA_READER_MODEL"), (CrossEncoderReranker, "QA_RERANKER_MODEL")])
def test_an_unusable_model_is_a_model_error_naming_its_setting(tmp_path, make, setting):
    with pytest.raises(ModelError, match=setting):
        make(str(tmp_path)).load()  # an empty folder
    with pytest.raises(ModelError, match=setting):
        make(" ")
