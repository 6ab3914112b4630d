"""The `qa` command in process over the hashing embedder: `qa add`, `qa remove` and `qa ask` with filters;
the Qdrant options `qa index --backend qdrant` and `qa eval --backend qdrant`."""

from __future__ import annotations

import json
import shutil

import pytest

from qa import cli, qdrant_store as store, service
from qa.config import get_settings
from qa.embed import HashingEmbedder
from qa.index import load_index
from tests.apps import private_settings
from tests.helpers import SEEDS
from tests.test_eval_sets import corpora  # noqa: F401  (a fixture)
from tests.test_extract import PAGE


@pytest.fixture
def qa_env(tmp_path, monkeypatch):
    settings = private_settings(tmp_path)
    for name, value in (("SEEDS_DIR", settings.seeds_dir), ("INDEX_DIR", settings.index_dir),
                        ("DATA_DIR", settings.data_dir), ("MODEL", "hashing-test-embedder"),
                        ("ABSTAIN_THRESHOLD", "0.2")):
        monkeypatch.setenv(f"QA_{name}", str(value))
    monkeypatch.setattr(service, "embedder_for", lambda s: HashingEmbedder())
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def _files(tmp_path):
    (tmp_path / "keepers.html").write_text(PAGE)
    (tmp_path / "ferry.md").write_text("# Ferry returns\n\nThe night ferry to Skerry Point returns on Friday.\n")
    (tmp_path / "harbour.txt").write_text("The harbour master resigned on Tuesday after the storm.\n")
    (tmp_path / "more.jsonl").write_text(
        json.dumps({"name": "gulls", "text": "Gulls nested on the old pier this spring.", "published": "2025-04-02"})
        + "\n\n" + json.dumps({"name": "tide", "text": "A record tide flooded the quay.", "outlet": "Quay Daily"}) + "\n")
    return [str(tmp_path / n) for n in ("keepers.html", "ferry.md", "harbour.txt", "more.jsonl")]


def test_add_ask_with_filters_and_remove(qa_env, tmp_path, capsys):
    seeds = qa_env.seeds_dir
    assert cli.main(["add", *_files(tmp_path), "--outlet", "Harbour News", "--published", "2025-06-01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("added 5: keepers, ferry, harbour, gulls, tide\nindex ")
    assert (seeds / "keepers.txt").read_text() == (
        "Keepers vote to strike\nThe lighthouse keepers of Skerry Point voted on Sunday to strike over unpaid "
        "night shifts.\nTheir union said the strike would begin on the first of July.\n")
    assert json.loads((seeds / "keepers.meta.json").read_text()) == {
        "title": "Keepers vote to strike", "outlet": "Harbour News", "url": "https://harbour.example/keepers",
        "language": "en-GB", "published": "2025-06-01"}
    assert json.loads((seeds / "tide.meta.json").read_text()) == {"outlet": "Quay Daily"}  # its own line's
    assert (seeds / "keepers.original.html").read_bytes() == (tmp_path / "keepers.html").read_bytes()  # as sent
    assert (seeds / "ferry.original.md").read_bytes() == (tmp_path / "ferry.md").read_bytes()
    index = load_index(qa_env.index_dir)
    assert {"keepers", "ferry", "harbour", "gulls", "tide"} <= set(index.articles)

    assert cli.main(["ask", "When does the strike begin?", "--json", "--top-k", "5", "--source", "Harbour News",
                     "--since", "2025-06-01", "--until", "2025-06-01"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert {p["doc_id"] for p in body["passages"]} <= {"keepers", "ferry", "harbour"}
    assert cli.main(["ask", "Who nested?", "--json", "--until", "2025-04-30"]) == 0
    assert {p["doc_id"] for p in json.loads(capsys.readouterr().out)["passages"]} == {"gulls"}

    assert cli.main(["remove", "ferry", "gulls"]) == 0
    assert capsys.readouterr().out.startswith("removed ferry\nremoved gulls\nindex ")
    assert sorted(p.name for p in seeds.glob("ferry*")) == []  # text, metadata and the file as sent
    assert {"ferry", "gulls"}.isdisjoint(load_index(qa_env.index_dir).articles)



def test_add_replace_corrects_articles_and_refuses_a_missing_one(qa_env, tmp_path, capsys):
    seeds = qa_env.seeds_dir
    story = tmp_path / "harbour.txt"
    story.write_text("The harbour master resigned on Tuesday after the storm.\n")
    assert cli.main(["add", str(story), "--outlet", "Quay Daily"]) == 0
    story.write_text("The harbour master resigned on Wednesday after the second storm.\n")
    assert cli.main(["add", str(story)]) == 2  # an add never replaces
    assert "documents are never replaced by an add" in capsys.readouterr().err
    assert cli.main(["add", "--replace", str(story), "--outlet", "Pier Times"]) == 0
    assert capsys.readouterr().out.startswith("replaced 1: harbour\nindex ")
    assert (seeds / "harbour.txt").read_text() == story.read_text()
    assert json.loads((seeds / "harbour.meta.json").read_text()) == {"outlet": "Pier Times"}
    article = load_index(qa_env.index_dir).articles["harbour"]
    assert (article.text, article.outlet) == (story.read_text(), "Pier Times")
    (tmp_path / "beacon.txt").write_text("A new beacon was lit on the breakwater.\n")
    assert cli.main(["add", "--replace", str(story), str(tmp_path / "beacon.txt")]) == 2
    assert "no document 'beacon' in the corpus to replace; add it instead" in capsys.readouterr().err
    assert json.loads((seeds / "harbour.meta.json").read_text()) == {"outlet": "Pier Times"}  # nothing replaced

@pytest.mark.parametrize("argv,message", [
    (["add", "{tmp}/report.pdf"], "qa: error: 'report.pdf': unknown format .pdf"),
    (["add", "{tmp}/blob.txt"], "qa: error: blob.txt is binary (it holds NUL bytes)"),
    (["add", "{tmp}/missing.txt"], "qa: error: cannot read"),
    (["remove", "nobody"], "qa: error: no document 'nobody' in the corpus"),
    (["ask", "Who?", "--since", "2025-13-01"], "qa: error: published_from '2025-13-01' is not a date"),
])
def test_bad_input_exits_2_and_says_why(qa_env, tmp_path, capsys, argv, message):
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.7")
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01\x02")
    before = sorted(p.name for p in qa_env.seeds_dir.iterdir())
    assert cli.main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    assert capsys.readouterr().err.startswith(message)
    assert sorted(p.name for p in qa_env.seeds_dir.iterdir()) == before


# ---------------------------------------------------------------- QA_BACKEND=qdrant

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
    assert store.client_for(target).count("news", exact=True).count == 84  # 18 passages, 64 sentences, 2 articles


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
