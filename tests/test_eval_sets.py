"""`qa eval` over several question sets: naming them on the command line, one index per corpus, and the
side-by-side table, JSON and HTML; on two tiny corpora written for the test, with the hashing embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa import cli, report
from qa.config import get_settings
from qa.embed import HashingEmbedder
from qa.errors import EvalError
from qa.eval import EvalSet, SetReport, evaluate, load_gold, load_sets, parse_set
from qa.eval_backend import CorpusBackends, corpus_index_dir
from tests.conftest import make_settings
from tests.helpers import ROOT

HARBOUR = {
    "a1.txt": "The harbour bridge opened on Monday. Engineers spent four years building it. The mayor cut the ribbon at noon.",
    "a2.txt": "The city library closed for repairs. Its roof had leaked since March. Volunteers moved ten thousand books.",
}
HARBOUR_GOLD = [
    {"id": "h1", "question": "When did the harbour bridge open?", "answers": ["Monday"],
     "support": [{"source": "a1.txt", "quote": "The harbour bridge opened on Monday."}], "kind": "when"},
    {"id": "h2", "question": "How many books did the volunteers move?", "answers": ["ten thousand"],
     "support": [{"source": "a2.txt", "quote": "Volunteers moved ten thousand books."}], "kind": "how_many"},
    {"id": "h3", "question": "Who designed the stadium?", "answers": [], "support": [], "kind": "unanswerable"},
]
VALLEY = {
    "b1.txt": "Farmers in the valley harvested apples early this year. A late frost had threatened the orchards. "
              "Apple prices rose by a third.",
}
VALLEY_GOLD = [
    {"id": "v1", "question": "What had threatened the orchards?", "answers": ["A late frost"],
     "support": [{"source": "b1.txt", "quote": "A late frost had threatened the orchards."}], "kind": "what"},
]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> Path:
    """tmp/harbour (two articles) and tmp/valley (one), with a gold file for each."""
    tmp = tmp_path_factory.mktemp("sets")
    for name, texts, rows in (("harbour", HARBOUR, HARBOUR_GOLD), ("valley", VALLEY, VALLEY_GOLD)):
        (tmp / name).mkdir()
        for file, text in texts.items():
            (tmp / name / file).write_text(text + "\n", encoding="utf-8")
        (tmp / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return tmp


# ---------------------------------------------------------------- naming the sets
def test_the_options_keep_their_order():
    args = cli.parser().parse_args(["eval", "--gold", "a.jsonl", "--seeds", "news", "--set", "t=b.jsonl",
                                    "--gold", "c.jsonl"])
    assert args.sets == [("gold", "a.jsonl"), ("seeds", "news"), ("set", "t=b.jsonl"), ("gold", "c.jsonl")]
    assert cli.parser().parse_args(["eval"]).sets is None


def test_eval_sets_pairs_each_seeds_with_the_gold_before_it():
    items = [("gold", "eval/a.jsonl"), ("seeds", "news"), ("set", "t=b.jsonl"), ("set", "n=c.jsonl:other"),
             ("gold", "d.jsonl")]
    assert cli.eval_sets(items, Path("seeds")) == [
        EvalSet("a", Path("eval/a.jsonl"), Path("news")),
        EvalSet("t", Path("b.jsonl"), Path("seeds")),
        EvalSet("n", Path("c.jsonl"), Path("other")),
        EvalSet("d", Path("d.jsonl"), Path("seeds")),
    ]


@pytest.mark.parametrize(("items", "message"), [
    ([("seeds", "news")], "--seeds news must follow the --gold FILE"),
    ([("gold", "a.jsonl"), ("seeds", "x"), ("seeds", "y")], "--seeds y must follow the --gold FILE"),
    ([("set", "t=b.jsonl"), ("seeds", "x")], "--seeds x must follow the --gold FILE"),
    ([("gold", "x/a.jsonl"), ("gold", "y/a.jsonl")], "set name\\(s\\) a used twice"),
    ([("set", "b.jsonl")], "is not NAME=GOLD or NAME=GOLD:CORPUS"),
    ([("set", "t=")], "is not NAME=GOLD or NAME=GOLD:CORPUS"),
])
def test_eval_sets_names_what_is_wrong(items, message):
    with pytest.raises(EvalError, match=message):
        cli.eval_sets(items, Path("seeds"))


def test_parse_set():
    assert parse_set("dev=eval/g.jsonl", Path("seeds")) == EvalSet("dev", Path("eval/g.jsonl"), Path("seeds"))
    assert parse_set("x=g.jsonl:corp", Path("s")) == EvalSet("x", Path("g.jsonl"), Path("corp"))


def test_the_default_sets_are_the_dev_sets_the_unfitted_sets_and_the_test_split():
    sets = load_sets(ROOT / cli.SETS_DEFAULT)
    assert [(s.name, s.role) for s in sets] == [("dev", "dev"), ("dev-seeds", "dev"), ("dev-news", "dev"),
                                                ("dev-news2", "dev"), ("dev-news3", "dev"),
                                                ("unfitted-news4", "test"), ("unfitted-news5", "test"),
                                                ("test-seeds", "test"), ("test-news", "test")]
    assert [str(s.corpus) for s in sets] == ["seeds", "seeds", str(Path("eval", "dev", "news")),
                                             str(Path("eval", "dev", "news2")), str(Path("eval", "dev", "news3")),
                                             str(Path("eval", "dev", "news4")), str(Path("eval", "dev", "news5")),
                                             "seeds", str(Path("eval", "test", "news"))]
    for s in sets:
        assert (ROOT / s.gold).is_file() and (ROOT / s.corpus).is_dir(), s
    # the test split is never in a dev set's folder, nor a dev set in the test split's
    assert all("test" not in s.gold.parts for s in sets if s.role == "dev")


def test_a_set_without_a_role_is_a_test_set_and_an_unknown_role_is_named(tmp_path):
    path = tmp_path / "sets.json"
    path.write_text('{"sets": [{"name": "x", "gold": "g.jsonl", "corpus": "c"}]}', encoding="utf-8")
    assert load_sets(path)[0].role == "test"
    path.write_text('{"sets": [{"name": "x", "gold": "g.jsonl", "corpus": "c", "role": "train"}]}', encoding="utf-8")
    with pytest.raises(EvalError, match="role 'train' is not one of dev, test"):
        load_sets(path)


def test_load_sets_names_a_bad_file(tmp_path):
    path = tmp_path / "sets.json"
    path.write_text('{"sets": [{"name": "x"}]}', encoding="utf-8")
    with pytest.raises(EvalError, match="is not .*'gold'"):
        load_sets(path)
    path.write_text('{"sets": []}', encoding="utf-8")
    with pytest.raises(EvalError, match="no question set"):
        load_sets(path)


# ---------------------------------------------------------------- one index per corpus
def test_corpus_index_dir(tmp_path):
    settings = make_settings(tmp_path, seeds_dir=tmp_path / "seeds")
    assert corpus_index_dir(settings, tmp_path / "seeds") == settings.index_dir
    one, two = corpus_index_dir(settings, tmp_path / "a" / "news"), corpus_index_dir(settings, tmp_path / "b" / "news")
    assert one.parent == two.parent == settings.index_dir / "corpora"
    assert one.name.startswith("news-") and two.name.startswith("news-") and one != two
    assert corpus_index_dir(settings, tmp_path / "a" / "news") == one  # the same corpus, the same folder


def test_each_corpus_gets_its_own_index_built_once(corpora, tmp_path):
    settings = make_settings(tmp_path, seeds_dir=corpora / "harbour", model="hashing-test-embedder")
    backends = CorpusBackends(settings, HashingEmbedder())
    harbour, valley = backends(corpora / "harbour"), backends(corpora / "valley")
    assert backends(corpora / "harbour") is harbour
    assert sorted(harbour.service.index.articles) == ["a1", "a2"] and sorted(valley.service.index.articles) == ["b1"]
    assert harbour.service.index.path.parent.parent == settings.index_dir
    assert valley.service.index.path.parent.parent == corpus_index_dir(settings, corpora / "valley")
    with pytest.raises(EvalError, match="corpus folder .* does not exist"):
        backends(corpora / "missing")


# ---------------------------------------------------------------- side by side
@pytest.fixture(scope="module")
def side_by_side(corpora, tmp_path_factory) -> list[SetReport]:
    settings = make_settings(tmp_path_factory.mktemp("idx"), seeds_dir=corpora / "harbour",
                             model="hashing-test-embedder")
    backends = CorpusBackends(settings, HashingEmbedder())
    sets = [EvalSet("harbour", corpora / "harbour.jsonl", corpora / "harbour"),
            EvalSet("valley", corpora / "valley.jsonl", corpora / "valley")]
    return [SetReport(s, evaluate(backends(s.corpus), load_gold(s.gold), ["bm25", "hybrid"], str(s.gold)))
            for s in sets]


def test_the_table_puts_the_sets_side_by_side(side_by_side, corpora):
    lines = report.table(side_by_side).splitlines()
    assert lines[0].split() == ["harbour", "valley"]
    assert lines[0].index("harbour") + len("harbour") == len(lines[1]) - 2 * report.COL  # over its own columns
    assert lines[0].endswith("valley") and len(lines[0]) == len(lines[1])
    assert lines[1].split() == ["metric", "bm25", "hybrid", "bm25", "hybrid"]
    assert lines[2] == "retrieval: passages (answerable questions)"
    assert lines[3].split() == ["Hit@1", "(relevant", "passage", "first)", "1.000", "1.000", "1.000", "1.000"]
    assert next(l for l in lines if l.strip().startswith("citations checked")).split()[-4:] == [
        str(r.summary["citations"]["checked"]) for s in side_by_side for r in s.report.runs]
    basis = [", ".join(f"{m}: {s.report.run(m).summary['abstention']['sweep_basis']}" for m in ("bm25", "hybrid"))
             for s in side_by_side]  # what the reader did is not this test's concern
    assert lines[-2:] == [
        f"harbour ({corpora / 'harbour.jsonl'} over {corpora / 'harbour'}): 3 questions (2 answerable), in-process; "
        f"threshold sweep basis: {basis[0]}",
        f"valley ({corpora / 'valley.jsonl'} over {corpora / 'valley'}): 1 questions (1 answerable), in-process; "
        f"threshold sweep basis: {basis[1]}",
    ]


def test_one_set_prints_no_set_line(side_by_side):
    lines = report.table(side_by_side[:1]).splitlines()
    assert lines[0].split() == ["metric", "bm25", "hybrid"]
    assert lines[-1].startswith("3 questions (2 answerable), in-process; threshold sweep basis: bm25: ")


def test_json_and_html_carry_every_set(side_by_side, tmp_path):
    json_path, html_path = report.write(side_by_side, tmp_path / "out")
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert [(s["name"], sorted(s["summary"])) for s in data["sets"]] == [("harbour", ["bm25", "hybrid"]),
                                                                         ("valley", ["bm25", "hybrid"])]
    assert data["sets"][1]["summary"]["hybrid"]["retrieval"]["passage"]["hit@1"] == 1.0
    assert [(q["set"], q["id"], q["mode"]) for q in data["questions"]] == [
        ("harbour", i, m) for m in ("bm25", "hybrid") for i in ("h1", "h2", "h3")] + [
        ("valley", "v1", m) for m in ("bm25", "hybrid")]
    page = html_path.read_text(encoding="utf-8")
    assert page.count("<svg") == 2 and "<script" not in page
    assert '<th colspan="2">harbour</th><th colspan="2">valley</th>' in page


def test_qa_eval_scores_each_set_against_its_own_corpus(corpora, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QA_SEEDS_DIR", str(corpora / "harbour"))
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QA_MODEL", "hashing-test-embedder")
    monkeypatch.setattr("qa.embed.make_embedder", lambda name, batch_size=32: HashingEmbedder())
    get_settings.cache_clear()
    try:
        assert cli.main(["eval", "--gold", str(corpora / "harbour.jsonl"), "--gold", str(corpora / "valley.jsonl"),
                         "--seeds", str(corpora / "valley"), "--modes", "bm25", "--out", str(tmp_path / "out")]) == 0
    finally:
        get_settings.cache_clear()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["harbour", "valley"] and lines[1].split() == ["metric", "bm25", "bm25"]
    assert (tmp_path / "index" / "current").is_dir()
    assert (corpus_index_dir(make_settings(tmp_path, seeds_dir=corpora / "harbour"), corpora / "valley")
            / "current").is_dir()
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert [(s["name"], s["corpus"]) for s in data["sets"]] == [("harbour", str(corpora / "harbour")),
                                                                ("valley", str(corpora / "valley"))]
