"""The reader end to end over a tiny corpus written for the test (tests/data/reader), with the
production defaults (the service's settings and the fitted scorer) and the instant hashing embedder."""

import json

import numpy as np
import pytest

from qa.config import Settings
from qa.read import ReaderParams, Scorer
from qa.read.features import NAMES, LabelPrior
from qa.retrieve import Query
from qa.service import reader_params
from qa.text import query_tokens
from tests.helpers import READER_CORPUS, hashing_service


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    return hashing_service(READER_CORPUS, tmp_path_factory.mktemp("reader"))


def _check_citations(service, result):
    for answer in result.answers:
        for c in answer.citations:
            text = service.index.articles[c.doc_id].text
            assert text[c.start:c.end] == c.quote
            assert c.start <= c.answer_start <= c.answer_end <= c.end
            assert text[c.answer_start:c.answer_end] == answer.text or len(answer.citations) > 1


def test_the_reader_params_default_to_the_production_settings():
    assert reader_params(Settings(_env_file=None)) == ReaderParams()


def test_the_scorer_file_matches_the_features_and_says_what_it_was_fitted_on():
    scorer = Scorer.load()
    assert len(scorer.weights) == len(NAMES)
    assert "dev" in scorer.meta["fitted_on"] and "test" not in scorer.meta["fitted_on"]
    # the relevance floor bench/fit_scorer.py set on the dev sets is the production default
    assert scorer.meta["fit"]["relevance_floor"] == Settings(_env_file=None).relevance_floor == ReaderParams().relevance_floor


def test_a_softmax_scorer_shares_one_question_among_its_candidates_and_keeps_their_order():
    rng = np.random.default_rng(7)
    weights, rows = rng.normal(size=len(NAMES)), rng.random((6, len(NAMES)))
    p = Scorer(weights, {}, None, "softmax").probability(rows)
    assert p.sum() == pytest.approx(1.0) and list(np.argsort(p)) == list(np.argsort(rows @ weights))
    logistic = Scorer(weights, {}, None, "logistic").probability(rows)
    assert np.all((0 < logistic) & (logistic < 1)) and list(np.argsort(logistic)) == list(np.argsort(p))
    # the evidence of one candidate is its own, whatever the others are
    assert Scorer(weights, {}, None, "softmax").evidence(rows[0]) == pytest.approx(logistic[0])


def test_a_scorer_file_with_an_unknown_ranking_is_refused_with_its_name(tmp_path):
    path = tmp_path / "scorer.json"
    path.write_text(json.dumps({"features": list(NAMES), "weights": [0.0] * len(NAMES), "ranking": "pairwise"}))
    with pytest.raises(ValueError, match="ranking 'pairwise' is not one of softmax, logistic"):
        Scorer.load(path)


def test_the_label_prior_learns_which_class_of_candidate_answers_which_class_of_question():
    who, how_much = "who|ORG/PERSON", "how much|MONEY/PERCENT"
    # counted on made-up candidates: who-questions answered by people 3 times in 10, by organisations 1 in 10
    examples = ([(who, "ent:PERSON", n < 3) for n in range(10)] + [(who, "ent:ORG", n < 1) for n in range(10)]
                + [(how_much, "ent:PERCENT", False) for _ in range(40)])
    prior = LabelPrior.count(examples)
    person, org = prior.probability(who, "ent:PERSON"), prior.probability(who, "ent:ORG")
    # smoothed: never 0 or 1 on few examples
    assert 0 < org < person < 0.3
    # an unseen pair backs off to its candidate class, an unseen candidate class to all candidates
    base = (prior.right + 1) / (prior.seen + 2)
    assert prior.probability("where|GPE", "ent:PERSON") == pytest.approx(
        (prior.classes["ent:PERSON"][0] + 10 * base) / (prior.classes["ent:PERSON"][1] + 10))
    assert prior.probability("where|GPE", "ent:NEVER") == pytest.approx(base)
    # the feature is the probability on a log scale within [0, 1]
    assert 0 <= prior.feature(how_much, "ent:PERCENT") < prior.feature(who, "ent:PERSON") <= 1
    # and it survives scorer.json
    assert LabelPrior.from_json(json.loads(json.dumps(prior.to_json()))) == prior


def test_the_production_scorer_carries_the_label_prior_it_was_fitted_with():
    scorer = Scorer.load()
    assert scorer.prior is not None and scorer.prior.seen > 1000
    assert scorer.weights[NAMES.index("label_prior")] != 0


def test_a_who_question_is_answered_with_a_person_named_in_the_sentence(service):
    result = service.ask("Who is the transport minister?", top_k=3)
    assert not result.abstained
    assert "Marov" in result.answers[0].text
    _check_citations(service, result)


def test_a_when_question_is_answered_with_a_date_resolved_against_the_article(service):
    result = service.ask("When will the ferry crews return to work?", top_k=3)
    assert not result.abstained
    top = result.answers[0]
    assert top.text == "Wednesday" and top.rule == "ent:DATE"
    assert top.resolved_date is not None and top.resolved_date.startswith("2026-03")
    _check_citations(service, result)


def test_the_same_answer_from_two_articles_is_one_answer_citing_both(service):
    result = service.ask("When will the ferry crews return to work?", top_k=3)
    top = result.answers[0]
    assert top.support_count >= 2 and len({c.doc_id for c in top.citations}) == top.support_count


def test_an_off_topic_question_abstains_as_not_in_corpus(service):
    result = service.ask("What is the boiling point of mercury?", top_k=3)
    assert result.abstained and result.answers == () and result.abstain_reason == "not_in_corpus"


def test_a_yes_no_question_is_decided_by_the_negation_of_its_verb(service):
    no = service.ask("Did the ministry agree to the full pay rise?", top_k=1)
    assert not no.abstained and no.answers[0].label == "No"
    _check_citations(service, no)


def test_a_reported_clause_names_its_speaker(service):
    result = service.ask("What did Ilse Marov say about the crews?", top_k=3)
    assert not result.abstained
    spoken = [a for a in result.answers if a.speaker is not None]
    assert spoken and "Marov" in spoken[0].speaker.text
    c = spoken[0].speaker.citation
    assert service.index.articles[c.doc_id].text[c.answer_start:c.answer_end] == spoken[0].speaker.text


def test_what_one_person_said_is_not_answered_with_what_another_said(tmp_path):
    # two officials quoted about the same bridge in one article: the question names one of them
    svc = _one_article_service(tmp_path, "300_river_times.txt",
        "date 2026-06-02 Bridge closure divides Aldermoor\n\n"
        "ALDERMOOR — The old Kellen bridge will stay closed until the autumn, the city said on Monday.\n\n"
        '"The repairs will take longer than anyone hoped," said city engineer Rosalind Achterberg.\n\n'
        '"Shops on both banks are losing customers every day the bridge stays shut," said trader Osric Pembe, '
        "who runs a bakery near the river.\n\n"
        "Buses will carry foot passengers across the Vane bridge in the meantime.\n")
    for person, own, other in (("Rosalind Achterberg", "repairs", "customers"), ("Osric Pembe", "customers", "repairs")):
        result = svc.ask(f"What did {person} say about the bridge?", top_k=1)
        assert not result.abstained
        top = result.answers[0]
        assert own in top.text and other not in top.text, (person, top.text)
        assert top.speaker is not None and person.split()[-1] in top.speaker.text
        _check_citations(svc, result)


@pytest.mark.parametrize("sentence, label", [
    ("The council did not approve the harbour budget on Tuesday.", "No"),
    ("No new tariffs were approved by the council.", "No"),
    ("The council failed to approve the harbour budget.", "No"),
    ("The council approved the harbour budget after a long debate.", "Yes"),
])
def test_yes_no_polarity_comes_from_the_parse(sentence, label):
    from qa import nlp
    from qa.read.group import negates
    from qa.read.question import analyse

    pipeline = nlp.load("en_core_web_sm")
    q = analyse(nlp.load_for_questions("en_core_web_sm")("Did the council approve the budget?"))
    assert ("No" if negates(pipeline(sentence), q) else "Yes") == label


def _one_article_service(tmp_path, name, text):
    corpus = tmp_path / "articles"
    corpus.mkdir()
    (corpus / name).write_text(text, encoding="utf-8")
    return hashing_service(corpus, tmp_path)


def _apology_corpus(tmp_path):
    return _one_article_service(tmp_path, "310_lakeside_courier.txt",
        "Ferry operator says sorry for weekend chaos\n\n"
        "VELLORA — The head of the lake ferry company apologised to stranded travellers on Thursday.\n\n"
        "Ferry chief Mirela Osterkamp apologised in a radio interview after two boats broke down on Saturday. "
        '"We kept hundreds of people waiting on the quay for hours, and that is on us," she said.\n\n'
        "A replacement boat will arrive from the Dunsee shipyard next month, the company said.\n")


def test_a_sentence_knows_its_layout_and_what_the_sentence_before_it_adds(tmp_path):
    svc = _apology_corpus(tmp_path)
    reader, sentences = svc.reader, svc.index.sentences
    texts = [s.text for s in sentences]
    headline, lead = texts.index("Ferry operator says sorry for weekend chaos"), 1
    assert reader.layout(headline) == (True, False)
    assert reader.layout(lead) == (False, True) and texts[lead].startswith("VELLORA")
    assert all(reader.layout(i) == (False, False) for i in range(lead + 1, len(texts)))
    # the quote names no one: "Osterkamp" and "apologised" are in the sentence before it
    question = "What did Mirela Osterkamp say when she apologised?"
    query = Query(question, tuple(query_tokens(question)), svc.embedder.embed_queries([question])[0])
    hits = svc.retriever.search(query, svc.settings.read_passages, "hybrid")
    scored = {s.sentence.text: s for s in reader.relevance(query.tokens, query.vector, hits, question)}
    quote = next(t for t in scored if t.startswith('"We kept'))
    before = texts[texts.index(quote) - 1]
    assert scored[quote].context > 0.5 and scored[quote].lexical < 0.2
    assert scored[before].lexical > 0.5
    assert scored[before].context == 0.0  # what the sentence before it adds is nothing the question asks


def test_a_quote_whose_speaker_is_named_in_the_sentence_before_answers_what_they_said(tmp_path):
    svc = _apology_corpus(tmp_path)
    result = svc.ask("What did Mirela Osterkamp say when she apologised?", top_k=1)
    assert not result.abstained
    assert "kept hundreds of people waiting" in result.answers[0].text
    _check_citations(svc, result)


def test_a_reader_over_an_update_carries_what_the_previous_one_read_as_it_would_read_it(tmp_path):
    """Candidates and parses (clause rows included) taken over from the reader of the index an update started
    from equal those read anew, after an article that sorts first (every row after it moves) and a removal."""
    from qa.documents import add_document, remove_document
    from qa.embed import HashingEmbedder
    from qa.service import QAService, ensure_index
    from tests.apps import private_settings
    from tests.test_update import KEEPERS, REMOVED

    settings = private_settings(tmp_path)
    base = ensure_index(settings, HashingEmbedder())
    before = QAService(settings, base, HashingEmbedder())
    before.prepare_reader(len(base.sentences))
    add_document(settings.seeds_dir, "000_keepers", KEEPERS)
    remove_document(settings.seeds_dir, REMOVED)
    updated = ensure_index(settings, HashingEmbedder(), live=base)

    carried = QAService(settings, updated, HashingEmbedder(), previous=before).reader
    fresh = QAService(settings, updated, HashingEmbedder()).reader
    new = {j for j, s in enumerate(updated.sentences) if s.doc_id == "000_keepers"}
    assert set(carried._candidates) == set(carried._parses) == set(range(len(updated.sentences))) - new
    for i in range(len(updated.sentences)):
        assert carried.candidates(i) == fresh.candidates(i)
        one, other = carried.parse(i), fresh.parse(i)
        assert (one.lemmas, one.lowers, one.neighbours, one.verbs) == (other.lemmas, other.lowers, other.neighbours,
                                                                       other.verbs)
        assert one.rows.tolist() == other.rows.tolist() and len(one.rows) == len(one.verbs)
    assert any(len(carried.parse(i).rows) for i in range(len(updated.sentences)))


LIBRARY = "date 2025-09-15 Library opens\n\nThe new Orlen library opened its doors to readers on Monday.\n"


def _top_answer(tmp_path, articles: dict[str, str], question: str) -> str:
    """The top answer to `question` over a corpus of `articles` (name -> text), read with the production
    defaults; every citation checked against its file."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name, text in articles.items():
        (seeds / f"{name}.txt").write_text(text)
    service = hashing_service(seeds, tmp_path)
    result = service.ask(question)
    _check_citations(service, result)
    return result.answers[0].text


def test_a_percentage_question_is_answered_with_a_share_written_per_cent(tmp_path):
    """"per cent" (the recognizer's MONEY) answers a question for a percentage, not a "%" figure from another
    article."""
    assert _top_answer(tmp_path, {
        "fares": "date 2025-03-04 Lenholm bus fares rise\n\nBus fares in Lenholm rose 7.5 per cent on Monday, the "
                 "transport board said. A single ticket now costs 80 cents.\n",
        "ferries": "date 2025-03-05 Ferry fares held\n\nFerry fares on the Lenholm crossing will stay the same this "
                   "year, although the operator's fuel costs rose 22% in the winter.\n",
    }, "By what percentage did bus fares in Lenholm rise?") == "7.5 per cent"


def test_a_question_for_a_time_is_answered_with_a_clock_time_written_as_one_word(tmp_path):
    """"11.40pm" (the recognizer's CARDINAL) answers a question for a time, not the day of the same story."""
    assert _top_answer(tmp_path, {
        "quay": "date 2025-09-14 Fishing boat sinks off Brannock Quay\n\nBRANNOCK (Quay Post) - A trawler sank off "
                "Brannock Quay on Saturday, the coastguard said. Its skipper was pulled from the water at 11.40pm, "
                "and two crew members swam ashore.\n",
        "library": LIBRARY,
    }, "At what time was the skipper pulled from the water?").endswith("11.40pm")


def test_an_amount_in_british_shorthand_is_answered_whole(tmp_path):
    """"£2.4m" was answered "£2.4" (the recognizer's MONEY left the "m" out): a millionth of the amount."""
    assert _top_answer(tmp_path, {
        "kiln": "date 2025-05-06 Kiln museum wins grant\n\nThe Ashcombe kiln museum was awarded £2.4m by the "
                "heritage fund on Monday to repair its chimney.\n",
        "library": LIBRARY,
    }, "How much was the Ashcombe kiln museum awarded?") == "£2.4m"


def test_an_amount_in_a_currency_named_by_a_word_is_answered_with_its_currency(tmp_path):
    """"4.5 million" without its "euros" (the recognizer leaves the word out) states no currency; the pipeline's
    units component gives it back."""
    assert _top_answer(tmp_path, {
        "dike": "date 2025-10-02 Dike repairs funded\n\nThe Sellin water board will spend about 4.5 million euros "
                "on repairing the northern dike, its chair said on Thursday.\n",
        "library": LIBRARY,
    }, "How much will the Sellin water board spend on the dike?") == "about 4.5 million euros"


def test_a_count_answers_for_the_noun_it_counts_in_a_list_of_counts(tmp_path):
    """In "210 paramedics, 34 ambulances and 12 rescue helicopters" every number has each noun within a few
    words; the parse says which noun each one counts."""
    text = ("date 2025-08-21 Storm response\n\nThe Dunharrow health service said 210 paramedics, 34 ambulances and "
            "12 rescue helicopters were sent to the coast after the storm.\n")
    answers = [_top_answer(_folder(tmp_path / q.split()[2]), {"storm": text, "library": LIBRARY}, q)
               for q in ("How many ambulances were sent to the coast?", "How many helicopters were sent to the coast?",
                         "How many paramedics were sent to the coast?")]
    assert answers == ["34", "12", "210"]


def _folder(path):
    path.mkdir()
    return path
