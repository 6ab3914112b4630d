"""Seed files -> Articles.

The text is kept exactly as stored; what is not to be indexed (the `date` header line,
publisher boilerplate, a passage repeated within an article) is recorded as excluded ranges,
so every offset stays an offset into the raw file.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from qa.errors import ConfigError
from qa.text import split_sentences
from qa.types import Article

log = logging.getLogger(__name__)

_HEADER_RE = re.compile(r"\A[ \t]*date[ \t]+(\d{4}-\d{2}-\d{2})\b[ \t]*([^\n]*)")
# A header's remainder that is a timestamp, not a headline ("Updated May 19, 2025 at 1:37 PM MDT").
_TIMESTAMP_RE = re.compile(r"^(?:Updated|Published|Posted|Last updated)\b", re.IGNORECASE)

# Publisher boilerplate. `to_end`: the marker starts an appeal that runs to the end of the file.
BOILERPLATE = (
    (re.compile(r"^A Message from [^\n]{1,80}:[ \t]*$", re.MULTILINE), True),
    (re.compile(r"^Editor['\u2019]s note:[^\n]*$", re.MULTILINE), False),
)
# A sentence this long that repeats earlier in the same article is a copy, not news.
MIN_REPEATED_WORDS = 8


def load_articles(seeds_dir: Path) -> list[Article]:
    """Every `*.txt` file in seeds_dir, in file-name order."""
    if not seeds_dir.is_dir():
        raise ConfigError(f"seeds folder {str(seeds_dir)!r} does not exist; set QA_SEEDS_DIR to the folder of .txt articles")
    paths = sorted(seeds_dir.glob("*.txt"))
    if not paths:
        raise ConfigError(f"seeds folder {str(seeds_dir)!r} has no .txt files")
    return [read_article(p) for p in paths]


def read_article(path: Path) -> Article:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"seed file {path.name!r} is not UTF-8 (byte {exc.start})") from exc
    return parse_article(path.stem, path.name, text, hashlib.sha256(raw).hexdigest())


def parse_article(doc_id: str, source: str, text: str, sha256: str = "") -> Article:
    excluded: list[tuple[int, int]] = []
    date, headline = None, ""
    header = _HEADER_RE.match(text)
    if header:
        date = header.group(1)
        rest = header.group(2).strip()
        headline = "" if _TIMESTAMP_RE.match(rest) else rest
        excluded.append((0, header.end()))
    for pattern, to_end in BOILERPLATE:
        for m in pattern.finditer(text):
            excluded.append((m.start(), len(text) if to_end else m.end()))

    kept = [s for s in split_sentences(text) if not _overlaps(s, excluded)]
    sentences, repeated = _drop_repeats(text, kept)
    excluded = _merge(text, excluded + repeated)
    if not sentences:
        raise ConfigError(f"seed file {source!r} has no text to index")
    first = sentences[0]
    title = headline or text[first[0] : first[1]]
    return Article(doc_id, source, text, date, title, tuple(excluded), tuple(sentences), sha256)


def _drop_repeats(text: str, spans: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    seen: set[str] = set()
    kept, repeated = [], []
    for start, end in spans:
        key = " ".join(text[start:end].split())
        if key in seen and len(key.split()) >= MIN_REPEATED_WORDS:
            repeated.append((start, end))
            continue
        seen.add(key)
        kept.append((start, end))
    if repeated:
        log.info("excluded %d repeated sentences", len(repeated))
    return kept, repeated


def _overlaps(span: tuple[int, int], ranges: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in ranges)


def _merge(text: str, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint ranges; ranges separated only by whitespace become one."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if out and (start <= out[-1][1] or not text[out[-1][1] : start].strip()):
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
