"""What adding one article costs, against corpora of growing size and articles of growing length.

    .venv/bin/python bench/add_one.py [--sizes 2500,5000,10000] [--lengths 10,40] [--place last|first] [--work DIR]
                                      [--change add|replace|metadata]

The corpora are synthetic: article i of a corpus is drawn from a fixed seed (i): 10 sentences of 14-20
words from a 2,000-word made-up vocabulary ("w0 ... w1999"), each article starting with a `date` line. The
base index of each corpus is built with stand-ins for the slow parts: 384-dimension hashing vectors (the
real model's shape) and spaCy's tokenizer only (one Doc per sentence), its manifest naming the real model
and pipeline, so the update reuses those rows as it would reuse real ones. The added article (of --lengths
sentences) goes through the real path: the corpus write (qa/documents.py), ingestion, the incremental
update with the real encoder (QA_ENCODER_BACKEND, default onnx MiniLM) and en_core_web_sm, the new build
written and swapped in (qa/index.py: a segment of the article and a manifest, qa/segments.py), and the
service made over it (BM25 statistics, the reader's tables).
As in a running server, the corpus was scanned and the index loaded and served once before the first add
(`started`), and each add starts from the index the previous one served; the articles added are removed
again at the end (untimed).

Printed per corpus size and article length, in seconds: each phase, the kilobytes the save wrote, the work on the article alone
(embed + analyse), the rest ("corpus-wide": whatever is not the article's own work, file writes included),
of which "bm25" is the BM25 matrices brought up to date (every weight recomputed: the average length
changes them all; the graph's rows mapped anew with them), "graph" the HNSW graph's file linked, or the graph
grown or built, written and hashed (above QA_DENSE_EXACT_BELOW chunks; qa/derived.py) and
"other" the remainder, the total (the fastest of --repeats runs), and the first run's
total (the first add after a start, which also fills what later adds find remembered: each JSON line
written, each sentence's reporting verbs). `--place first` names the added articles so that they sort before
every other (every row after them moves), `last` (the default) after.
`--change replace` times a correction instead (PUT /admin/documents/{doc_id}: qa/documents.py's journal,
then the update, which embeds and analyses the new text alone), `--change metadata` one that changes only the
outlet (nothing embedded); the article they change is added first, untimed.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import random
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa import analysis, build_files, derived, nlp as nlp_module, update  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.documents import NewDocument, add_document, remove_document, replace_document  # noqa: E402
from qa.embed import HashingEmbedder  # noqa: E402
from qa.index import FORMAT_VERSION, Index, build_index, cleanup, load_index, nlp_fingerprint, save_index  # noqa: E402
from qa.ingest import load_articles  # noqa: E402
from qa.scan import SCANNER  # noqa: E402
from qa.service import QAService, chunk_params, embedder_for, retrieval_params, saved  # noqa: E402

VOCAB = [f"w{i}" for i in range(2000)]


def synthetic(i: int, sentences: int = 10) -> str:
    rng = random.Random(i)
    lines = [f"date 2025-{1 + i % 12:02d}-{1 + i % 28:02d} Story {i}"]
    for _ in range(sentences):
        words = rng.choices(VOCAB, k=rng.randint(14, 20))
        lines.append(" ".join(words).capitalize() + ".")
    return "\n".join(lines) + "\n"


class Timed:
    """Seconds spent in named phases."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t


class TimedEmbedder:
    def __init__(self, inner, timed: Timed):
        self.inner, self.timed, self.name, self.dim = inner, timed, inner.name, inner.dim

    def embed_passages(self, texts):
        with self.timed.phase("embed"):
            return self.inner.embed_passages(texts)

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)


def base_corpus(work: Path, size: int, settings: Settings, real_model: str, pipeline) -> Settings:
    """A corpus folder of `size` synthetic articles and its index, built with stand-ins (cached in `work`)."""
    root = work / f"corpus-{size}"
    cfg = settings.model_copy(update={"seeds_dir": root / "seeds", "index_dir": root / "index"})
    current = root / "index" / "current"
    if current.exists() and json.loads((current / "manifest.json").read_text()).get("format_version") == FORMAT_VERSION:
        if "retrieval" not in json.loads((current / "manifest.json").read_text()):
            saved(load_index(cfg.index_dir, pipeline.vocab), cfg.index_dir, retrieval_params(cfg))  # as a start does
            cleanup(cfg.index_dir)
        return cfg
    shutil.rmtree(root, ignore_errors=True)
    (root / "seeds").mkdir(parents=True)
    for i in range(size):
        (root / "seeds" / f"a{i:05d}.txt").write_text(synthetic(i), encoding="utf-8")
    articles = load_articles(cfg.seeds_dir)
    tokenizer_only = nlp_module.load(cfg.nlp_model)  # the same vocabulary; only the tokenizer is run below
    with tokenizer_only.select_pipes(disable=tokenizer_only.pipe_names):
        index = build_index(articles, HashingEmbedder(dim=384, name=real_model), chunk_params(cfg), nlp=tokenizer_only)
    manifest = dict(index.manifest, nlp=nlp_fingerprint(pipeline))  # as if analysed by the full pipeline
    save_index(replace(index, manifest=manifest), cfg.index_dir, retrieval_params(cfg))
    return cfg


def started(cfg: Settings, embedder, pipeline) -> Index:
    """The index a server serves once started over the corpus: loaded, the corpus scanned, a service made."""
    live = load_index(cfg.index_dir, pipeline.vocab)
    SCANNER.load(cfg.seeds_dir)  # the corpus as the server saw it when it started (qa/scan.py)
    QAService(cfg, live, embedder)  # the service serving it (the reader's per-sentence tables are remembered)
    gc.collect()
    gc.freeze()  # as a server does once the index is loaded and after each swap (api/app.py, _freeze_heap)
    return live


def restore(cfg: Settings, live: Index, embedder, pipeline, names: list[str]) -> None:
    """The articles this run added removed again, and the index brought back to the base corpus (untimed)."""
    for name in names:
        remove_document(cfg.seeds_dir, name)
    index, _ = update.update_index(live, SCANNER.load(cfg.seeds_dir), embedder, chunk_params(cfg), pipeline)
    saved(index, cfg.index_dir, retrieval_params(cfg))
    cleanup(cfg.index_dir)


def add_one(cfg: Settings, embedder, pipeline, live: Index, name: str, length: int, n: int,
            change: str = "add") -> tuple[dict, Index]:
    """One article added to the corpus `live` serves, as a running server adds it (`change` "add"), or the
    article `name` replaced by a new text of `length` sentences ("replace") or by the same text under another
    outlet ("metadata"), as PUT /admin/documents/{doc_id} does; the seconds of each phase and the index served
    after it (the next change starts from it, as the server's next would)."""
    timed = Timed()
    real_analyse = analysis.analyse

    def timed_analyse(*args, **kwargs):
        with timed.phase("analyse"):
            return real_analyse(*args, **kwargs)

    real_updated, real_grown, real_write, real_build = derived.updated, derived._grown, derived.write, derived.build_hnsw

    def timed_updated(*args, **kwargs):
        with timed.phase("bm25"):  # with the graph's rows mapped anew (a numpy pass over its row numbers)
            return real_updated(*args, **kwargs)

    def timed_grown(*args, **kwargs):  # the graph taking its tail in, when the save completes the structures
        with timed.phase("graph"):
            return real_grown(*args, **kwargs)

    def timed_build(*args, **kwargs):  # the graph built again (a quarter of it removed, other settings)
        with timed.phase("graph"):
            return real_build(*args, **kwargs)

    def timed_write(*args, **kwargs):
        with timed.phase("graph"):
            return real_write(*args, **kwargs)

    real_sha256 = build_files.sha256_file

    def timed_sha256(path):
        if Path(path).name != derived.GRAPH:
            return real_sha256(path)
        with timed.phase("graph"):  # the graph file hashed for the manifest
            return real_sha256(path)

    build_files.sha256_file = timed_sha256

    analysis.analyse, derived.updated, derived._grown, derived.write = timed_analyse, timed_updated, timed_grown, timed_write
    derived.build_hnsw = timed_build
    before = _files(cfg.index_dir)
    try:
        with timed.phase("total"):
            with timed.phase("write files"):
                if change == "add":
                    add_document(cfg.seeds_dir, name, synthetic(1_000_000 + n, length))
                else:  # the metadata change keeps the text the last replacement (or the add) gave
                    text = (cfg.seeds_dir / f"{name}.txt").read_text(encoding="utf-8") if change == "metadata" \
                        else synthetic(2_000_000 + n, length)
                    replace_document(cfg.seeds_dir, NewDocument(name, text, meta={"outlet": f"Outlet {n}"}))
            with timed.phase("ingest"):
                articles = SCANNER.load(cfg.seeds_dir, {a.sha256: a for a in live.articles.values()})
            with timed.phase("update"):
                index, stats = update.update_index(live, articles, TimedEmbedder(embedder, timed), chunk_params(cfg),
                                                   pipeline)
            with timed.phase("save build"):
                index = saved(index, cfg.index_dir, retrieval_params(cfg))
            with timed.phase("service"):
                QAService(cfg, index, embedder)
        gc.freeze()
    finally:
        analysis.analyse, derived.updated, derived._grown, derived.write = real_analyse, real_updated, real_grown, real_write
        derived.build_hnsw = real_build
        build_files.sha256_file = real_sha256
    computed = 0 if change == "metadata" else 1  # the new or changed text alone is embedded and analysed
    assert stats.computed == computed and stats.reused == len(articles) - computed, stats
    s = timed.seconds
    s["assemble"] = s["update"] - s.get("embed", 0.0) - s.get("analyse", 0.0)
    s["article"] = s.get("embed", 0.0) + s.get("analyse", 0.0)
    s["corpus-wide"] = s["total"] - s["article"]
    s["other"] = s["corpus-wide"] - s["bm25"] - s.get("graph", 0.0)
    s["sentences"], s["chunks"] = stats.sentences_computed, stats.chunks_computed
    s["written KB"] = sum(size for inode, size in _files(cfg.index_dir).items() if inode not in before) / 1024
    cleanup(cfg.index_dir)  # the builds this run replaced
    return s, index


def _files(index_dir: Path) -> dict[tuple[int, int], int]:
    """Every file under the index folder, by inode, and its size (what a save wrote is what was not there
    before; a file linked into a new build, as the HNSW graph is, was not written)."""
    out = {}
    for p in index_dir.rglob("*"):
        if p.is_file():
            st = p.stat()
            out[(st.st_dev, st.st_ino)] = st.st_size
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="2500,5000,10000")
    p.add_argument("--lengths", default="10,40", help="sentences of the added article")
    p.add_argument("--repeats", type=int, default=2, help="runs per cell; the fastest is printed")
    p.add_argument("--work", type=Path, default=Path("/tmp/qa-bench-add-one"))
    p.add_argument("--change", choices=("add", "replace", "metadata"), default="add",
                   help="what is timed: an article added; or one added first (untimed), then its text replaced "
                        "(PUT /admin/documents/{doc_id}), or only its outlet")
    p.add_argument("--place", choices=("last", "first"), default="last",
                   help="where the added articles' names sort among the corpus's (first: every row after moves)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings(_env_file=None, index_dir=args.work / "models-home")
    embedder = embedder_for(settings).load()
    pipeline = nlp_module.load(settings.nlp_model)
    cols = ("write files", "ingest", "embed", "analyse", "assemble", "save build", "service", "written KB")
    prefix = "added" if args.place == "last" else "0-added"  # corpus names are a00000..: "0-" sorts first
    print(f"encoder: {settings.encoder_backend} {embedder.name}; spaCy {pipeline.meta['name']} {pipeline.meta['version']}; "
          f"timed: {args.change}")
    print(f"{'corpus':>7} {'added':>9} | " + " ".join(f"{c:>11}" for c in cols)
          + f" | {'article':>8} {'corpus-wide':>11} {'bm25':>6} {'graph':>6} {'other':>6} {'total':>7} {'1st run':>7}")
    for size in (int(x) for x in args.sizes.split(",")):
        cfg = base_corpus(args.work, size, settings, embedder.name, pipeline)
        live, added_names = started(cfg, embedder, pipeline), []
        for length in (int(x) for x in args.lengths.split(",")):
            runs = []
            if args.change != "add":  # the article whose text or metadata each run changes
                added_names.append(f"{prefix}-{length}-changed")
                _, live = add_one(cfg, embedder, pipeline, live, added_names[-1], length, args.repeats)
            for r in range(args.repeats):
                if args.change == "add":
                    added_names.append(f"{prefix}-{length}-{r}")
                seconds, live = add_one(cfg, embedder, pipeline, live, added_names[-1], length, r, args.change)
                runs.append(seconds)
            best = min(runs, key=lambda s: s["total"])
            added = f"{length}s/{int(best['chunks'])}c"
            print(f"{size:>7} {added:>9} | " + " ".join(f"{best.get(c, 0.0):>11.3f}" for c in cols)
                  + f" | {best['article']:>8.3f} {best['corpus-wide']:>11.3f} {best['bm25']:>6.3f}"
                  + f" {best.get('graph', 0.0):>6.3f} {best['other']:>6.3f} {best['total']:>7.3f} {runs[0]['total']:>7.3f}",
                  flush=True)
        restore(cfg, live, embedder, pipeline, added_names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
