"""Seed files -> Articles.

The text is kept exactly as stored; what is not to be indexed (the `date` header line,
publisher boilerplate, a passage repeated within an article) is recorded as excluded ranges,
so every offset stays an offset into the raw file. Metadata given when an article was added is
read from its sidecar (qa/metadata.py) and wins over what the text says (its title).
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Mapping

from qa import metadata
from qa.errors import ConfigError, InvalidDocument
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


def load_articles(seeds_dir: Path, known: Mapping[str, Article] | None = None) -> list[Article]:
    """Every `*.txt` file in seeds_dir, in file-name order. `known`: articles already parsed, by the
    SHA-256 of their text; a file with the same text reuses their sentences and excluded ranges."""
    if not seeds_dir.is_dir():
        raise ConfigError(f"seeds folder {str(seeds_dir)!r} does not exist; set QA_SEEDS_DIR to the folder of .txt articles")
    paths = sorted(seeds_dir.glob("*.txt"))
    if not paths:
        raise ConfigError(f"seeds folder {str(seeds_dir)!r} has no .txt files")
    return [read_article(p, known) for p in paths]


def read_article(path: Path, known: Mapping[str, Article] | None = None) -> Article:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"seed file {path.name!r} is not UTF-8 (byte {exc.start})") from exc
    try:
        meta = metadata.read_sidecar(path)
    except InvalidDocument as exc:
        raise ConfigError(str(exc)) from None
    sha256 = hashlib.sha256(raw).hexdigest()
    return parse_article(path.stem, path.name, text, sha256, meta, (known or {}).get(sha256))


def parse_article(doc_id: str, source: str, text: str, sha256: str = "", meta: Mapping[str, str] | None = None,
                  same_text: Article | None = None) -> Article:
    """`meta`: checked metadata (qa.metadata.check); `same_text`: an article already parsed from this very
    text, whose sentences and excluded ranges are taken instead of splitting the text again."""
    meta = meta or {}
    date, headline, header_end = _header(text)
    if same_text is not None and same_text.text == text:
        excluded, sentences = list(same_text.excluded), list(same_text.sentences)
    else:
        excluded, sentences = _spans(text, header_end)
    if not sentences:
        raise ConfigError(f"seed file {source!r} has no text to index")
    if "published" in meta:
        if date is not None and metadata.day(meta["published"]) != date:
            raise ConfigError(f"seed file {source!r}: published {meta['published']} disagrees with its date line {date}")
        date = metadata.day(meta["published"])
    first = sentences[0]
    title = meta.get("title") or headline or text[first[0] : first[1]]
    return Article(doc_id, source, text, date, title, tuple(excluded), tuple(sentences), sha256, meta.get("outlet"),
                   meta.get("url"), meta.get("published", date), meta.get("language"))


def _header(text: str) -> tuple[str | None, str, int]:
    """The date and headline of a leading `date YYYY-MM-DD <headline>` line, and where that line ends (0: none)."""
    header = _HEADER_RE.match(text)
    if not header:
        return None, "", 0
    rest = header.group(2).strip()
    return header.group(1), "" if _TIMESTAMP_RE.match(rest) else rest, header.end()


def _spans(text: str, header_end: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(excluded ranges, indexed sentences) of a text whose header line ends at `header_end`."""
    excluded: list[tuple[int, int]] = [(0, header_end)] if header_end else []
    for pattern, to_end in BOILERPLATE:
        for m in pattern.finditer(text):
            excluded.append((m.start(), len(text) if to_end else m.end()))
    kept = [s for s in split_sentences(text) if not _overlaps(s, excluded)]
    sentences, repeated = _drop_repeats(text, kept)
    return _merge(text, excluded + repeated), sentences


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
