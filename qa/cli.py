"""The `qa` command: thin wrappers over the library.

    qa index [--force]                       build (or rebuild) the index, with a progress bar
    qa index --url http://host:port          rebuild a running server's index (needs QA_ADMIN_KEY[_FILE])
    qa index --backend qdrant (--url URL [--api-key KEY] | --path DIR) [--force]
                                             sync a Qdrant collection with the corpus (resumable batches)
    qa ask "question" [--json] [--mode M] [--top-k K] [--source X]... [--since D] [--until D]
    qa add FILE... [--title T --outlet O --url U --published P --language L]
                                             add articles (.txt, .md, .html, .jsonl) and update the index
    qa remove DOC_ID...                      remove articles and update the index
    qa serve [--host H] [--port P]           the HTTP API under uvicorn (builds the index if needed)
    qa slack                                 the Slack bot in Socket Mode (SLACK_BOT_TOKEN, SLACK_APP_TOKEN)
    qa eval [--set NAME=GOLD[:CORPUS]]... [--gold FILE [--seeds DIR]]... [--modes bm25,dense,hybrid]
            [--url URL] [--out DIR] [--backend embedded|qdrant]
                                             score the service on question sets, side by side (docs/evaluation.md)
    qa feedback export [--out PATH]          feedback as gold-set candidates (JSONL) for review
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from qa.config import MODES, get_settings
from qa.errors import QAError

if TYPE_CHECKING:
    from qa.eval import EvalSet

log = logging.getLogger("qa")
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}
# The question sets `qa eval` scores when none is named: a file beside the gold sets, naming each with
# its corpus (dev, and the test split). Only `qa eval` reads it; the answering stages never import the
# harness (tests/test_eval.py checks), and no code here names a gold file (tests/test_gold.py).
SETS_DEFAULT = Path("eval", "sets.json")


def command(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    COMMANDS[fn.__name__.removeprefix("cmd_").replace("_", "-")] = fn
    return fn


def _progress(iterable, total: int, label: str):
    from tqdm import tqdm

    desc = "upserting to Qdrant" if label == "upsert" else f"embedding {label}"
    return tqdm(iterable, total=total, desc=desc, unit="batch", file=sys.stderr)


@command
def cmd_index(args: argparse.Namespace) -> int:
    from qa.service import embedder_for, ensure_index

    settings = get_settings()
    if (args.backend or settings.backend) == "qdrant":
        return _index_qdrant(args, settings)
    if args.url:
        return _index_remote(args.url, settings)
    embedder = embedder_for(settings).load()
    index = ensure_index(settings, embedder, rebuild=args.force, progress=_progress)
    print(f"index ready at {index.path}: {index.manifest['counts']}")
    return 0


def _qdrant_settings(args: argparse.Namespace, settings):
    """The settings with the backend and where Qdrant is taken from the command line, when given there."""
    from pydantic import SecretStr

    update = {"backend": "qdrant"}
    if args.url or args.path:  # the command line names the place: the environment's other one does not apply
        update.update(qdrant_url=args.url, qdrant_path=Path(args.path) if args.path else None)
    if getattr(args, "api_key", None):
        update["qdrant_api_key"] = SecretStr(args.api_key)
    return settings.model_copy(update=update)


def _index_qdrant(args: argparse.Namespace, settings) -> int:
    from qa.qdrant_store import Target
    from qa.service import embedder_for, ensure_index

    settings = _qdrant_settings(args, settings)
    target = Target.from_settings(settings)  # a missing or doubled place is an error before the model loads
    embedder = embedder_for(settings).load()
    index = ensure_index(settings, embedder, rebuild=args.force, progress=_progress)
    print(f"Qdrant collection {target.collection!r} at {target.where} ready: {index.manifest['counts']}")
    return 0


def _index_remote(url: str, settings) -> int:
    from qa.errors import ConfigError
    from qa.reindex import reindex_remote

    keys = settings.keys("admin_key")
    if not keys:
        raise ConfigError("reindexing a running server needs its admin key: set QA_ADMIN_KEY or QA_ADMIN_KEY_FILE")
    status = reindex_remote(url, keys[0])
    print(f"{url} now serves build {status['build']} (job {status['job']}, finished {status['finished_at']})")
    return 0


@command
def cmd_ask(args: argparse.Namespace) -> int:
    from qa.serialize import result_json
    from qa.service import QAService

    from qa import filters

    service = QAService.open(get_settings())
    result = service.ask(args.question, args.top_k, args.mode, filters.make(args.source, args.since, args.until))
    if args.json:
        print(json.dumps(result_json(result, service.index.articles), ensure_ascii=False, indent=2))
        return 0
    print(render(result))
    return 0


def _update_index(settings) -> str:
    """Bring the index up to date with the corpus (incrementally when only articles changed)."""
    from qa.service import embedder_for, ensure_index

    index = ensure_index(settings, embedder_for(settings).load(), progress=_progress)
    return f"index {index.path.name if index.path else '?'}: {index.manifest['counts']}"


@command
def cmd_add(args: argparse.Namespace) -> int:
    from qa.documents import NewDocument, add_documents, read_jsonl, replace_documents
    from qa.extract import decode, format_of

    settings = get_settings()
    meta = {k: getattr(args, k) for k in ("title", "outlet", "url", "published", "language") if getattr(args, k)}
    docs = []
    for path in args.files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise QAError(f"cannot read {str(path)!r}: {exc.strerror}") from None
        if path.suffix.lower() == ".jsonl":
            docs.extend(read_jsonl(raw, path.name))
        else:
            fmt = format_of(path.name)
            docs.append(NewDocument(path.stem, decode(raw, path.name), fmt, meta))
    if args.replace:  # every one checked and found before any is replaced
        articles = replace_documents(settings.seeds_dir, docs)
    else:
        articles = add_documents(settings.seeds_dir, docs)  # all or none
    print(f"{'replaced' if args.replace else 'added'} {len(articles)}: {', '.join(a.doc_id for a in articles)}")
    print(_update_index(settings))
    return 0


@command
def cmd_remove(args: argparse.Namespace) -> int:
    from qa.documents import remove_document

    settings = get_settings()
    for doc_id in args.doc_ids:
        remove_document(settings.seeds_dir, doc_id)
        print(f"removed {doc_id}")
    print(_update_index(settings))
    return 0


def render(result) -> str:
    """A result for a terminal: answers with their citations, or the abstention."""
    lines = [f"Q: {result.question}  [{result.mode}, {result.took_ms:.0f} ms]"]
    if result.abstained:
        reason = f", {result.abstain_reason}" if result.abstain_reason else ""
        lines.append(f"The articles don't answer this (best evidence {result.confidence:.2f}{reason}).")
    for n, a in enumerate(result.answers, 1):
        label = f"{a.label}: " if a.label else ""
        date = f" [{a.resolved_date}]" if a.resolved_date else ""
        lines.append(f"{n}. {label}{a.text}{date}  (confidence {a.score:.2f}, {a.support_count} article(s))")
        if a.speaker:
            lines.append(f"   said by {a.speaker.text}")
        if a.differs_from:
            lines.append(f"   differs from answer(s) {', '.join(str(i + 1) for i in a.differs_from)}")
        for item in a.items:
            lines.append(f"   * {item.text} ({item.citation.source})")
        for c in a.citations:
            lines.append(f"   - {c.source} [{c.start}:{c.end}]{' ' + c.date if c.date else ''}: \u201c{c.quote}\u201d")
    return "\n".join(lines)


@command
def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    # The app is named by string so the qa package never imports the api package.
    uvicorn.run("api.app:create_app", factory=True, host=args.host, port=args.port, log_level=args.log_level)
    return 0


@command
def cmd_slack(args: argparse.Namespace) -> int:
    import runpy

    # Run `python -m api.slack` by name, like `serve`: the qa package never imports the api package.
    try:
        runpy.run_module("api.slack", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def _eval_progress(iterable, total: int, label: str):
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=f"eval {label}", unit="q", file=sys.stderr)


def _modes(value: str) -> list[str]:
    modes = [m.strip() for m in value.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise argparse.ArgumentTypeError(f"unknown mode(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(MODES)}")
    return list(dict.fromkeys(modes))


class _SetSpec(argparse.Action):
    """Keeps --set, --gold and --seeds in command-line order, so a --seeds belongs to the --gold before it."""

    def __call__(self, parser, namespace, value, option_string=None):
        items = list(getattr(namespace, self.dest) or [])
        items.append((option_string.lstrip("-"), value))
        setattr(namespace, self.dest, items)


def eval_sets(items: list[tuple[str, str]], default_corpus: Path) -> list[EvalSet]:
    """The sets named on the command line: `set` NAME=GOLD[:CORPUS], `gold` FILE (named by its stem, over
    `default_corpus` unless a `seeds` DIR follows it)."""
    from qa.errors import EvalError
    from qa.eval import EvalSet, parse_set, unique_sets

    sets: list[EvalSet] = []
    open_gold = False  # the last set came from --gold and has no --seeds yet
    for option, value in items:
        if option == "seeds":
            if not open_gold:
                raise EvalError(f"--seeds {value} must follow the --gold FILE whose corpus it is")
            sets[-1] = EvalSet(sets[-1].name, sets[-1].gold, Path(value))
        elif option == "gold":
            sets.append(EvalSet(Path(value).stem, Path(value), default_corpus))
        else:
            sets.append(parse_set(value, default_corpus))
        open_gold = option == "gold"
    return unique_sets(sets)


@command
def cmd_eval(args: argparse.Namespace) -> int:
    from qa import report
    from qa.eval import SetReport, evaluate, load_gold, load_sets

    settings = get_settings()
    if (args.backend or settings.backend) == "qdrant":
        settings = _qdrant_settings(argparse.Namespace(url=None, path=args.qdrant_path, api_key=None), settings)
    sets = eval_sets(args.sets, settings.seeds_dir) if args.sets else load_sets(args.sets_file)
    if args.url and not args.sets:
        # A server answers over its own corpus: of the default sets, those over QA_SEEDS_DIR.
        skipped = [s.name for s in sets if s.corpus.resolve() != settings.seeds_dir.resolve()]
        sets = [s for s in sets if s.name not in skipped]
        if skipped:
            print(f"not asking {args.url} the set(s) over another corpus: {', '.join(skipped)}", file=sys.stderr)
    golds = [load_gold(s.gold) for s in sets]  # every file is checked before the slow part starts
    results = []
    if args.url:
        from qa.eval_backend import http_backend

        with http_backend(args.url, settings) as backend:
            for s, gold in zip(sets, golds):
                results.append(SetReport(s, evaluate(backend, gold, args.modes, str(s.gold), _eval_progress)))
    else:
        from qa.embed import make_embedder
        from qa.eval_backend import CorpusBackends

        backends = CorpusBackends(settings, make_embedder(settings.model, settings.encode_batch_size).load())
        for s, gold in zip(sets, golds):
            results.append(SetReport(s, evaluate(backends(s.corpus), gold, args.modes, str(s.gold), _eval_progress)))
    print(report.table(results))
    json_path, html_path = report.write(results, args.out)
    seconds = ", ".join(f"{s.set.name}/{r.mode} {r.seconds:.1f} s" for s in results for r in s.report.runs)
    print(f"wrote {json_path} and {html_path} ({seconds})")
    return 0


@command
def cmd_feedback(args: argparse.Namespace) -> int:
    from qa.feedback import FeedbackStore, gold_candidates, write_jsonl
    from qa.ingest import load_articles

    settings = get_settings()
    articles = {a.doc_id: a for a in load_articles(settings.seeds_dir)}
    rows = gold_candidates(FeedbackStore(settings.feedback_db).all(), articles)
    out = settings.data_dir / "gold_candidates.jsonl" if args.out is None else args.out
    if str(out) == "-":
        write_jsonl(rows, sys.stdout)
        return 0
    with open(out, "w", encoding="utf-8") as f:
        write_jsonl(rows, f)
    print(f"wrote {len(rows)} gold-set candidates to {out} (a Slack vote counts once per person and message, "
          f"as last changed); review each before appending it to the gold set (docs/evaluation.md)", file=sys.stderr)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa", description="Extractive question answering over news articles.")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("index", help="build or rebuild the index")
    s.add_argument("--force", action="store_true", help="rebuild even when the index is fresh")
    s.add_argument("--url", help="instead, rebuild the index of the server running at this URL and wait for the swap; "
                                 "with --backend qdrant: the Qdrant server's URL (e.g. http://localhost:6333)")
    s.add_argument("--backend", choices=("embedded", "qdrant"), default=None,
                   help="where the index goes (default QA_BACKEND): the index folder, or a Qdrant collection")
    s.add_argument("--api-key", help="with --backend qdrant: the Qdrant server's API key (default QA_QDRANT_API_KEY)")
    s.add_argument("--path", help="with --backend qdrant: a folder for qdrant-client's local mode instead of a server")
    s = sub.add_parser("ask", help="answer a question on the terminal")
    s.add_argument("question")
    s.add_argument("--json", action="store_true", help="print the API's JSON")
    s.add_argument("--mode", choices=MODES, default=None)
    s.add_argument("--top-k", type=int, default=None)
    s.add_argument("--source", action="append", metavar="X", help="answer only from this doc id or outlet; may repeat")
    s.add_argument("--since", metavar="YYYY-MM-DD", help="only articles published on or after this date")
    s.add_argument("--until", metavar="YYYY-MM-DD", help="only articles published on or before this date")
    s = sub.add_parser("add", help="add articles (.txt, .md, .html, .jsonl) to the corpus and update the index")
    s.add_argument("files", nargs="+", type=Path, metavar="FILE",
                   help="the doc id is the file's stem; from .html the article's text is extracted and stored; "
                        ".jsonl: one article object a line (name, text, format, title, outlet, url, published, language)")
    for flag in ("title", "outlet", "url", "published", "language"):
        s.add_argument(f"--{flag}", help=f"the {flag} of every FILE that is not .jsonl")
    s.add_argument("--replace", action="store_true",
                   help="replace existing articles of these names (a correction: text and metadata become the "
                        "FILE's; metadata not given is not kept); every FILE is checked, and its article found, "
                        "before any is replaced")
    s = sub.add_parser("remove", help="remove articles from the corpus and update the index")
    s.add_argument("doc_ids", nargs="+", metavar="DOC_ID")
    s = sub.add_parser("serve", help="serve the HTTP API")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--log-level", default="info")
    sub.add_parser("slack", help="run the Slack bot in Socket Mode (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN)")
    s = sub.add_parser("eval", help="score the service on question sets, per retrieval mode, side by side")
    s.add_argument("--set", dest="sets", action=_SetSpec, metavar="NAME=GOLD[:CORPUS]",
                   help="a named gold file (JSONL) and the folder of articles it asks about (default QA_SEEDS_DIR); "
                        "may repeat")
    s.add_argument("--gold", dest="sets", action=_SetSpec, metavar="FILE",
                   help="a gold file named by its stem, over QA_SEEDS_DIR or the --seeds after it; may repeat")
    s.add_argument("--seeds", dest="sets", action=_SetSpec, metavar="DIR", help="the corpus of the --gold before it")
    s.add_argument("--sets-file", type=Path, default=SETS_DEFAULT,
                   help=f"the sets scored when none is named (default {SETS_DEFAULT}: dev and the test split)")
    s.add_argument("--modes", type=_modes, default=["bm25", "dense", "hybrid"],
                   help="comma-separated retrieval modes (default bm25,dense,hybrid)")
    s.add_argument("--url", default=None, help="evaluate a running server (e.g. http://127.0.0.1:8000) instead")
    s.add_argument("--out", type=Path, default=Path("eval", "out"), help="folder for report.json and report.html")
    s.add_argument("--backend", choices=("embedded", "qdrant"), default=None,
                   help="retrieval in process or in Qdrant (default QA_BACKEND; Qdrant at QA_QDRANT_URL or the "
                        "--qdrant-path folder); each corpus gets a collection of its own")
    s.add_argument("--qdrant-path", default=None, help="with --backend qdrant: a folder for qdrant-client's local mode")
    s = sub.add_parser("feedback", help="work with stored feedback")
    fsub = s.add_subparsers(dest="feedback_command", required=True)
    f = fsub.add_parser("export", help="write feedback as gold-set candidates (JSONL) for a person to review; "
                                          "one per Slack voter and message, their latest vote")
    f.add_argument("--out", default=None, help="file to write (default <data_dir>/gold_candidates.jsonl; - for stdout)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return COMMANDS[args.command](args)
    except QAError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
