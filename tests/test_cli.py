"""The `qa` command's Qdrant options: `qa index --backend qdrant` and `qa eval --backend qdrant`, in process,
with the hashing embedder standing in for the model."""

from __future__ import annotations

import json
import shutil

import pytest

from qa import cli, qdrant_store as store
from qa.config import get_settings
from qa.embed import HashingEmbedder
from tests.helpers import SEEDS
from tests.test_eval_sets import corpora  # noqa: F401  (a fixture)


@pytest.fixture
def env(tmp_path, monkeypatch):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name in sorted(p.name for p in SEEDS.glob("*.txt"))[:2]:
        shutil.copy(SEEDS / name, seeds / name)
    for key, value in {"QA_SEEDS_DIR": seeds, "QA_INDEX_DIR": tmp_path / "index", "QA_DATA_DIR": tmp_path / "data",
                       "QA_MODEL": "hashing-test-embedder"}.items():
        monkeypatch.setenv(key, str(value))
    for key in ("QA_BACKEND", "QA_QDRANT_URL", "QA_QDRANT_PATH"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr("qa.service.embedder_for", lambda settings: HashingEmbedder())
    monkeypatch.setattr("qa.embed.make_embedder", lambda name, batch_size=32: HashingEmbedder())
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_qa_index_backend_qdrant_path_fills_the_collection_then_finds_it_in_sync(env, capsys):
    folder = env / "qdrant"
    assert cli.main(["index", "--backend", "qdrant", "--path", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"Qdrant collection 'news' at local folder {folder} ready: " \
           "{'articles': 2, 'sentences': 64, 'chunks': 18}" in out
    assert cli.main(["index", "--backend", "qdrant", "--path", str(folder)]) == 0
    target = store.Target(None, str(folder), None, "news")
    assert store.client_for(target).count("news", exact=True).count == 20  # 18 passages, 2 articles


def test_qa_index_backend_qdrant_needs_one_place(env, capsys):
    assert cli.main(["index", "--backend", "qdrant"]) == 2
    assert "needs exactly one of QA_QDRANT_URL" in capsys.readouterr().err


def test_qa_index_backend_qdrant_with_an_unreachable_url_names_it(env, capsys):
    from tests.helpers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    assert cli.main(["index", "--backend", "qdrant", "--url", url, "--api-key", "secret"]) == 2
    err = capsys.readouterr().err
    assert f"Qdrant at {url} did not answer" in err and "secret" not in err


def test_qa_eval_backend_qdrant_gives_each_corpus_its_collection(corpora, env, monkeypatch):  # noqa: F811
    monkeypatch.setenv("QA_SEEDS_DIR", str(corpora / "harbour"))
    get_settings.cache_clear()
    folder, out = env / "qdrant-eval", env / "out"
    assert cli.main(["eval", "--backend", "qdrant", "--qdrant-path", str(folder), "--gold", str(corpora / "harbour.jsonl"),
                     "--gold", str(corpora / "valley.jsonl"), "--seeds", str(corpora / "valley"), "--modes", "bm25,hybrid",
                     "--out", str(out)]) == 0
    names = sorted(c.name for c in store.client_for(store.Target(None, str(folder), None, "news")).get_collections().collections)
    assert names[0] == "news" and names[1].startswith("news-valley-") and len(names) == 2
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["sets"][1]["summary"]["hybrid"]["retrieval"]["passage"]["hit@1"] == 1.0
