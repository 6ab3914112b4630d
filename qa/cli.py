"""The `qa` command: thin wrappers over the library.

    qa index [--force]                       build (or rebuild) the index, with a progress bar
    qa index --url http://host:port          rebuild a running server's index (needs QA_ADMIN_KEY[_FILE])
    qa ask "question" [--json] [--mode M] [--top-k K]
    qa serve [--host H] [--port P]           the HTTP API under uvicorn (builds the index if needed)
    qa slack                                 the Slack bot in Socket Mode (SLACK_BOT_TOKEN, SLACK_APP_TOKEN)
    qa eval [--gold PATH] [--modes bm25,dense,hybrid] [--url URL] [--out DIR]
                                             score the service on the gold set (docs/evaluation.md)
    qa feedback export [--out PATH]          feedback as gold-set candidates (JSONL) for review
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Callable

from qa.config import MODES, get_settings
from qa.errors import QAError

log = logging.getLogger("qa")
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}
# The evaluation's default gold file. Only `qa eval` uses it; the answering stages never import the
# harness (tests/test_eval.py checks). Spelled in two parts because tests/test_gold.py keeps the file
# name itself out of qa/ and api/.
GOLD_DEFAULT = Path("eval", "gold").with_suffix(".jsonl")


def command(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    COMMANDS[fn.__name__.removeprefix("cmd_").replace("_", "-")] = fn
    return fn


def _progress(iterable, total: int, label: str):
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=f"embedding {label}", unit="batch", file=sys.stderr)


@command
def cmd_index(args: argparse.Namespace) -> int:
    from qa.service import embedder_for, ensure_index

    settings = get_settings()
    if args.url:
        return _index_remote(args.url, settings)
    embedder = embedder_for(settings).load()
    index = ensure_index(settings, embedder, rebuild=args.force, progress=_progress)
    print(f"index ready at {index.path}: {index.manifest['counts']}")
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

    service = QAService.open(get_settings())
    result = service.ask(args.question, args.top_k, args.mode)
    if args.json:
        print(json.dumps(result_json(result, service.index.articles), ensure_ascii=False, indent=2))
        return 0
    print(render(result))
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


@command
def cmd_eval(args: argparse.Namespace) -> int:
    from qa import report
    from qa.eval import evaluate, load_gold
    from qa.eval_backend import LocalBackend, http_backend

    settings = get_settings()
    gold = load_gold(args.gold)
    if args.url:
        with http_backend(args.url, settings) as backend:
            result = evaluate(backend, gold, args.modes, str(args.gold), _eval_progress)
    else:
        from qa.service import QAService

        result = evaluate(LocalBackend(QAService.open(settings)), gold, args.modes, str(args.gold), _eval_progress)
    print(report.table(result))
    json_path, html_path = report.write(result, args.out)
    seconds = ", ".join(f"{r.mode} {r.seconds:.1f} s" for r in result.runs)
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
    s.add_argument("--url", help="instead, rebuild the index of the server running at this URL and wait for the swap")
    s = sub.add_parser("ask", help="answer a question on the terminal")
    s.add_argument("question")
    s.add_argument("--json", action="store_true", help="print the API's JSON")
    s.add_argument("--mode", choices=MODES, default=None)
    s.add_argument("--top-k", type=int, default=None)
    s = sub.add_parser("serve", help="serve the HTTP API")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--log-level", default="info")
    sub.add_parser("slack", help="run the Slack bot in Socket Mode (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN)")
    s = sub.add_parser("eval", help="score the service on the gold set, per retrieval mode")
    s.add_argument("--gold", type=Path, default=GOLD_DEFAULT, help=f"gold set (JSONL; default {GOLD_DEFAULT})")
    s.add_argument("--modes", type=_modes, default=["bm25", "dense", "hybrid"],
                   help="comma-separated retrieval modes (default bm25,dense,hybrid)")
    s.add_argument("--url", default=None, help="evaluate a running server (e.g. http://127.0.0.1:8000) instead")
    s.add_argument("--out", type=Path, default=Path("eval", "out"), help="folder for report.json and report.html")
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
